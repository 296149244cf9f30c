package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/proto/metapb"
)

// ErrMasterKeyMismatch: the master key given to this process is not the
// one the cluster recorded. A gateway with it could open no user's secret
// and would answer every signed request of a user with 500.
var ErrMasterKeyMismatch = errors.New("master key does not match the cluster's master key")

// masterKeyCheckWait bounds how long a starting gateway waits for the meta
// group to answer the master key check.
const masterKeyCheckWait = time.Minute

// proposer is the part of the meta client the check needs.
type proposer interface {
	Propose(ctx context.Context, in *metapb.ProposeRequest, opts ...grpc.CallOption) (*metapb.ProposeResponse, error)
}

// CheckMasterKey records the check value of masterKey in the meta group when
// none is recorded yet, and otherwise fails with ErrMasterKeyMismatch
// unless it is the recorded one (or, during a master key rotation, the
// previous key's). The error never contains the key.
func CheckMasterKey(ctx context.Context, p proposer, masterKey []byte) error {
	_, err := CheckMasterKeyRotating(ctx, p, masterKey)
	return err
}

// CheckMasterKeyRotating is CheckMasterKey that also tells whether a master
// key rotation is in progress.
func CheckMasterKeyRotating(ctx context.Context, p proposer, masterKey []byte) (rotating bool, err error) {
	cv, err := identity.KeyCheckValue(masterKey)
	if err != nil {
		return false, err
	}
	resp, err := p.Propose(ctx, &metapb.ProposeRequest{Command: &metapb.Command{
		Op: &metapb.Command_SetMasterKeyCheck{SetMasterKeyCheck: &metapb.SetMasterKeyCheck{Check: cv}},
	}})
	if err != nil {
		return false, fmt.Errorf("check master key: meta: %w", err)
	}
	switch res := resp.GetResult(); res.GetCode() {
	case metapb.ErrorCode_OK:
		return res.GetKeyRotating(), nil
	case metapb.ErrorCode_PRECONDITION_FAILED:
		return false, fmt.Errorf("%w (its check value differs from the one the meta group recorded)", ErrMasterKeyMismatch)
	default:
		return false, fmt.Errorf("check master key: %s: %s", res.GetCode(), res.GetMessage())
	}
}

// checkMasterKey runs CheckMasterKey at gateway start, retrying while the
// meta group has no answer, up to masterKeyCheckWait. rotating tells
// whether a master key rotation is in progress.
func (s *Server) checkMasterKey(ctx context.Context, p proposer) (rotating bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, masterKeyCheckWait)
	defer cancel()
	for {
		rotating, err := CheckMasterKeyRotating(ctx, p, s.cfg.MasterKey)
		if err == nil || errors.Is(err, ErrMasterKeyMismatch) {
			return rotating, err
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("server: %w", err)
		case <-time.After(500 * time.Millisecond):
			s.logger.Warn("master key check: retrying", "err", err)
		}
	}
}
