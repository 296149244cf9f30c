package placement

import (
	"slices"
	"strings"
)

// pair is one (shard index, node) rendezvous candidate.
type pair struct {
	score uint64
	shard int
	node  int // index into the candidate slice
}

// pairQueue yields every pair in descending score order, lazily: the common
// case fills all shards from the first few pairs, so only those pay for
// ordering (a heap pop each) instead of sorting all n*nodes pairs.
type pairQueue struct {
	nodes  []candidate
	heap   []pair
	sorted []pair // the pairs popped so far, in order
}

func newPairQueue(keyHash uint64, nodes []candidate, n int) *pairQueue {
	q := &pairQueue{nodes: nodes, heap: make([]pair, 0, n*len(nodes))}
	for i := range n {
		// Per-index salt: each shard index ranks nodes independently.
		salt := uint64(i+1) * golden
		for j, c := range nodes {
			q.heap = append(q.heap, pair{score: mix(keyHash ^ mix(c.hash+salt)), shard: i, node: j})
		}
	}
	for i := len(q.heap)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
	return q
}

// at returns the idx-th pair in order, or false past the last pair.
func (q *pairQueue) at(idx int) (pair, bool) {
	for idx >= len(q.sorted) {
		if len(q.heap) == 0 {
			return pair{}, false
		}
		q.sorted = append(q.sorted, q.heap[0])
		last := len(q.heap) - 1
		q.heap[0] = q.heap[last]
		q.heap = q.heap[:last]
		q.down(0)
	}
	return q.sorted[idx], true
}

// before is a total order: score, then shard index, then node ID, so ties
// (vanishingly rare with 64-bit scores) still resolve deterministically.
func (q *pairQueue) before(a, b pair) bool {
	switch {
	case a.score != b.score:
		return a.score > b.score
	case a.shard != b.shard:
		return a.shard < b.shard
	default:
		return q.nodes[a.node].id < q.nodes[b.node].id
	}
}

func (q *pairQueue) down(i int) {
	h := q.heap
	for {
		best, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && q.before(h[l], h[best]) {
			best = l
		}
		if r < len(h) && q.before(h[r], h[best]) {
			best = r
		}
		if best == i {
			return
		}
		h[i], h[best] = h[best], h[i]
		i = best
	}
}

// rankDrives returns node's usable drives ordered for the key, best first.
func rankDrives(node Node, r Reserve, nodeHash, keyHash uint64) []DriveID {
	type ranked struct {
		id    DriveID
		score uint64
	}
	var drives []ranked
	for _, d := range node.Drives {
		if r.usable(d) {
			drives = append(drives, ranked{d.ID, mix(keyHash ^ mix(nodeHash^mix(hashString(string(d.ID)))))})
		}
	}
	slices.SortFunc(drives, func(a, b ranked) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(string(a.id), string(b.id))
	})
	out := make([]DriveID, len(drives))
	for i, d := range drives {
		out[i] = d.id
	}
	return out
}

const golden = 0x9e3779b97f4a7c15

// hashString is 64-bit FNV-1a, inlined to avoid hash.Hash's allocation on
// every call.
func hashString(s string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return h
}

// mix is the splitmix64 finaliser: FNV alone avalanches poorly, and
// rendezvous hashing needs every input bit to move every score bit.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
