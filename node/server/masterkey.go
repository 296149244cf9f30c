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
// unless it is the recorded one. The error never contains the key.
func CheckMasterKey(ctx context.Context, p proposer, masterKey []byte) error {
	cv, err := identity.KeyCheckValue(masterKey)
	if err != nil {
		return err
	}
	resp, err := p.Propose(ctx, &metapb.ProposeRequest{Command: &metapb.Command{
		Op: &metapb.Command_SetMasterKeyCheck{SetMasterKeyCheck: &metapb.SetMasterKeyCheck{Check: cv}},
	}})
	if err != nil {
		return fmt.Errorf("check master key: meta: %w", err)
	}
	switch res := resp.GetResult(); res.GetCode() {
	case metapb.ErrorCode_OK:
		return nil
	case metapb.ErrorCode_PRECONDITION_FAILED:
		return fmt.Errorf("%w (its check value differs from the one the meta group recorded)", ErrMasterKeyMismatch)
	default:
		return fmt.Errorf("check master key: %s: %s", res.GetCode(), res.GetMessage())
	}
}

// checkMasterKey runs CheckMasterKey at gateway start, retrying while the
// meta group has no answer, up to masterKeyCheckWait.
func (s *Server) checkMasterKey(ctx context.Context, p proposer) error {
	ctx, cancel := context.WithTimeout(ctx, masterKeyCheckWait)
	defer cancel()
	for {
		err := CheckMasterKey(ctx, p, s.cfg.MasterKey)
		if err == nil || errors.Is(err, ErrMasterKeyMismatch) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server: %w", err)
		case <-time.After(500 * time.Millisecond):
			s.logger.Warn("master key check: retrying", "err", err)
		}
	}
}
