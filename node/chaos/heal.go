package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-io/cairn/proto/metapb"
)

// HealStatus asks the meta group (through any running, unpaused voter) for
// the repairer's figures.
func (c *Cluster) HealStatus(ctx context.Context) (*metapb.HealStatusResponse, error) {
	var errs []error
	for _, name := range c.Names(RoleMeta) {
		if !c.Running(name) || c.Paused(name) {
			continue
		}
		p, _ := c.layout.Proc(name)
		conn, err := c.dialer.GRPC(p.GRPCAddr)
		if err != nil {
			return nil, fmt.Errorf("chaos: dial %s: %w", name, err)
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		st, err := metapb.NewMetaClient(conn).HealStatus(cctx, &metapb.HealStatusRequest{})
		cancel()
		conn.Close()
		if err == nil {
			return st, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return nil, fmt.Errorf("chaos: heal status: %w", errors.Join(errs...))
}

// healQuiet is how long the repairer must report nothing at risk, without
// a scan begun after the wait started, before the cluster counts as whole:
// a scan runs when the map changes (a drive or node gone), so damage the
// repairer could see is normally counted within a second or two.
const healQuiet = 15 * time.Second

// healed reports whether st says every body is at full redundancy, as
// seen by a scan that started at or after since, or for healQuiet.
func healed(st *metapb.HealStatusResponse, since, now time.Time) bool {
	if st.GetScanning() || len(st.GetAtRisk()) > 0 || st.GetBytesToRebuild() > 0 {
		return false
	}
	return st.GetLastScanUnixNano() >= since.UnixNano() || now.Sub(since) >= healQuiet
}

// WaitHealed waits until the repairer reports every body at full
// redundancy, at most within.
func (c *Cluster) WaitHealed(ctx context.Context, within time.Duration) error {
	since := time.Now()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	for {
		st, err := c.HealStatus(ctx)
		if err == nil && healed(st, since, time.Now()) {
			return nil
		}
		if err == nil {
			last = fmt.Errorf("%d levels at risk, %d bytes to rebuild, scanning %v", len(st.GetAtRisk()), st.GetBytesToRebuild(), st.GetScanning())
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: not healed within %v: %w", within, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// PredictHeal returns the repairer's ETA once it has one: zero when nothing
// is at risk, the estimate once a rate is known.
func (c *Cluster) PredictHeal(ctx context.Context, within time.Duration) (time.Duration, error) {
	since := time.Now()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		st, err := c.HealStatus(ctx)
		switch {
		case err != nil:
		case healed(st, since, time.Now()):
			return 0, nil
		case st.GetEtaSeconds() >= 0 && st.GetBytesToRebuild() > 0:
			return time.Duration(st.GetEtaSeconds() * float64(time.Second)), nil
		}
		select {
		case <-ctx.Done():
			return 0, errors.New("chaos: the repairer gave no estimate")
		case <-time.After(250 * time.Millisecond):
		}
	}
}
