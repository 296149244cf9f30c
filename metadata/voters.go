package metadata

import (
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// maxVoters bounds the address book: a meta group has a handful of voters,
// so a larger book is a bug or an attack.
const maxVoters = 64

// setVoterAddress adds, replaces or removes one entry of the voters'
// address book. Raft's configuration knows each voter's Raft address only;
// the book adds the gRPC address that forwarding needs.
func (t *txn) setVoterAddress(c *metapb.SetVoterAddress) (*metapb.CommandResult, error) {
	v := c.GetVoter()
	if v.GetId() == "" || (!c.GetRemove() && (v.GetRaftAddr() == "" || v.GetGrpcAddr() == "")) {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "set voter address: ID, raft and gRPC addresses are required"), nil
	}
	key := keys.SystemKey(keys.SysVoters)
	var book metapb.VoterBook
	if _, err := getProto(t.b, key, &book); err != nil {
		return nil, fmt.Errorf("set voter address: %w", err)
	}
	book.Voters = slices.DeleteFunc(book.Voters, func(o *metapb.VoterAddress) bool { return o.GetId() == v.GetId() })
	if !c.GetRemove() {
		if len(book.Voters) >= maxVoters {
			return result(metapb.ErrorCode_INVALID_ARGUMENT, "set voter address: the address book holds %d voters already", len(book.Voters)), nil
		}
		book.Voters = append(book.Voters, &metapb.VoterAddress{Id: v.GetId(), RaftAddr: v.GetRaftAddr(), GrpcAddr: v.GetGrpcAddr()})
	}
	return okResult(), t.set(key, &book)
}

// Voters returns the voters' address book (empty when no voter was ever
// added at run time).
func (f *FSM) Voters() ([]*metapb.VoterAddress, error) {
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	var book metapb.VoterBook
	if _, err := getProto(db, keys.SystemKey(keys.SysVoters), &book); err != nil {
		return nil, fmt.Errorf("metadata: read voters: %w", err)
	}
	return book.Voters, nil
}

// ForgetVoters deletes the voters' address book outside Raft. It is for an
// offline restore only, before the restored group starts: the backup's book
// names the old group's voters, whose addresses the new group must not
// forward to.
func (f *FSM) ForgetVoters() error {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	db, err := f.acquire()
	if err != nil {
		return err
	}
	defer f.mu.RUnlock()
	if err := db.Delete(keys.SystemKey(keys.SysVoters), pebble.Sync); err != nil {
		return fmt.Errorf("metadata: forget voters: %w", err)
	}
	return nil
}
