// Package placement chooses the drives that hold the shards of an object.
//
// Choose is a pure function of the cluster map, the object's placement key and
// the erasure profile: the same inputs always give the same shards, so any
// gateway can recompute a placement and tests can replay one. The chosen
// placement is recorded with each version; later map changes never move an
// existing object implicitly.
//
// # Algorithm
//
// Every (shard index, node) pair gets a rendezvous (highest random weight)
// score from a hash of key, shard index and node ID. Pairs are taken greedily
// from the highest score down, so each shard index lands on the node that
// ranks it highest among those still free. Because a node's scores do not
// depend on the other nodes, removing a node from the map mostly moves only
// the shards it held, and adding one takes over only the shards it now wins.
//
// Failure domains are honoured by first capping the shards per domain at
// ceil(n / domains) (one per domain when there are at least n domains) and
// only then filling any remaining indexes without the cap. A node with an
// empty Domain is its own failure domain.
//
// With fewer eligible nodes than shards, a node may take several shards of a
// stripe but never more than m (ceil(n / nodes), in fact), so the loss of any
// one node stays survivable; the Result is then UnderSpread. Within a node,
// drives are ranked by the same kind of hash and a node's shards go to its
// drives in rank order, distinct drives first.
//
// Placement ignores free space beyond excluding drives below the map's
// Reserve (the larger of a byte floor and a percentage of the drive;
// DefaultReserve is 1 GiB or 1 %): weighting by a quantity that changes
// with every write would reshuffle placements constantly for no
// durability gain. Nodes that are not Up, that are Down (committed down
// past their grace) or Draining, and drives that are not Active (draining
// or failed) take no shards.
//
// # Role and imports
//
// The package is pure: no goroutines, clock, I/O or randomness, and no
// imports from Cairn. The cluster-map cache converts the replicated map into
// a Map.
package placement
