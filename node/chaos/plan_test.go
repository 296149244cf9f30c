package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func planConfig(seed uint64) PlanConfig {
	return PlanConfig{
		Seed: seed, Episodes: 200, Kinds: AllKinds, StorageNodes: 7, MetaVoters: 3,
		FullDriveNode: 6, Hold: 10 * time.Second, SecondFault: 0.4,
	}
}

func TestPlanSameSeedSamePlan(t *testing.T) {
	a, err := Plan(planConfig(42))
	require.NoError(t, err)
	b, err := Plan(planConfig(42))
	require.NoError(t, err)
	require.Equal(t, a, b)
	c, err := Plan(planConfig(43))
	require.NoError(t, err)
	require.NotEqual(t, a, c)

	// The order kinds are given in does not matter.
	cfg := planConfig(42)
	cfg.Kinds = []Kind{DriveRemove, BitFlip, KillStorage}
	d, err := Plan(cfg)
	require.NoError(t, err)
	cfg.Kinds = []Kind{KillStorage, DriveRemove, BitFlip, BitFlip}
	e, err := Plan(cfg)
	require.NoError(t, err)
	require.Equal(t, d, e)
}

// TestPlanBudget checks the invariants of every plan drawn from many
// seeds: never more than two damaged storage nodes (removed drives count
// for good without repair), one storage node unable to take writes, one
// meta voter, one gateway fault per episode.
func TestPlanBudget(t *testing.T) {
	seen := map[Kind]int{}
	for seed := uint64(0); seed < 200; seed++ {
		for _, repair := range []bool{false, true} {
			cfg := planConfig(seed)
			cfg.Repair = repair
			plan, err := Plan(cfg)
			require.NoError(t, err)
			require.Len(t, plan, cfg.Episodes)
			permanent := map[int]bool{}
			removed := 0
			for _, ep := range plan {
				require.NotEmpty(t, ep.Faults, "seed %d %v", seed, ep)
				require.GreaterOrEqual(t, ep.Hold, cfg.Hold/2)
				require.LessOrEqual(t, ep.Hold, cfg.Hold*3/2)
				damaged := map[int]bool{}
				for n := range permanent {
					damaged[n] = true
				}
				writes, meta, gw := 0, 0, 0
				for _, f := range ep.Faults {
					seen[f.Kind]++
					switch f.Role {
					case RoleStorage:
						damaged[f.Node] = true
						if f.Kind != BitFlip {
							writes++
						}
						require.True(t, f.Node >= 0 && f.Node < cfg.StorageNodes)
						if f.Kind == DriveFull {
							require.Equal(t, cfg.FullDriveNode, f.Node)
						}
						if f.Kind == DriveRemove {
							require.NotEqual(t, cfg.FullDriveNode, f.Node)
							removed++
							if !repair {
								permanent[f.Node] = true
							}
						}
					case RoleMeta:
						meta++
						require.True(t, f.Node == LeaderNode || f.Node >= 0 && f.Node < cfg.MetaVoters)
						if f.Kind == KillMetaLeader {
							require.Equal(t, LeaderNode, f.Node)
						}
					case RoleGateway:
						gw++
					}
				}
				require.LessOrEqual(t, len(damaged), 2, "seed %d %v", seed, ep)
				require.LessOrEqual(t, writes, 1, "seed %d %v", seed, ep)
				require.LessOrEqual(t, meta, 1, "seed %d %v", seed, ep)
				require.LessOrEqual(t, gw, 1, "seed %d %v", seed, ep)
			}
			if !repair {
				require.LessOrEqual(t, removed, 1, "seed %d: drives removed without repair", seed)
			}
		}
	}
	for _, k := range AllKinds {
		require.NotZero(t, seen[k], "kind %s never planned", k)
	}
}

func TestPlanOnlyAvailableKinds(t *testing.T) {
	cfg := planConfig(7)
	cfg.Kinds = []Kind{KillStorage, PauseMeta}
	cfg.FullDriveNode = -1
	plan, err := Plan(cfg)
	require.NoError(t, err)
	for _, ep := range plan {
		for _, f := range ep.Faults {
			require.Contains(t, cfg.Kinds, f.Kind)
		}
	}
	cfg.Kinds = []Kind{DriveFull}
	plan, err = Plan(cfg)
	require.NoError(t, err)
	for _, ep := range plan {
		require.Empty(t, ep.Faults, "drive-full planned without a small drive")
	}
	_, err = Plan(PlanConfig{Episodes: 1, StorageNodes: 7, MetaVoters: 3})
	require.Error(t, err)
}

// TestPlanVaries: the first faults of a plan are mostly of distinct kinds
// (a shuffled bag), so that a short campaign covers many of them.
func TestPlanVaries(t *testing.T) {
	for seed := uint64(0); seed < 300; seed++ {
		plan, err := Plan(planConfig(seed))
		require.NoError(t, err)
		seen := map[Kind]bool{}
		n := 0
		for _, ep := range plan {
			for _, f := range ep.Faults {
				if n < len(AllKinds) {
					seen[f.Kind] = true
				}
				n++
			}
		}
		require.GreaterOrEqual(t, len(seen), len(AllKinds)-3, "seed %d", seed)
	}
}
