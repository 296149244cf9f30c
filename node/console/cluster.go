package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Cluster is what the root's pages need from the meta group.
type Cluster interface {
	Overview(ctx context.Context) Overview
	Users(ctx context.Context) ([]User, error)
	CreateUser(ctx context.Context, name string) (User, string, error)
	DeleteUser(ctx context.Context, accessKey string) error
}

// Meta is the part of the meta service the console's Cluster calls;
// node/metaclient's Client has it.
type Meta interface {
	GetClusterMap(ctx context.Context, in *metapb.GetClusterMapRequest, opts ...grpc.CallOption) (*metapb.GetClusterMapResponse, error)
	Status(ctx context.Context, in *metapb.StatusRequest, opts ...grpc.CallOption) (*metapb.StatusResponse, error)
	HealStatus(ctx context.Context, in *metapb.HealStatusRequest, opts ...grpc.CallOption) (*metapb.HealStatusResponse, error)
	ListUsers(ctx context.Context, in *metapb.ListUsersRequest, opts ...grpc.CallOption) (*metapb.ListUsersResponse, error)
	Propose(ctx context.Context, in *metapb.ProposeRequest, opts ...grpc.CallOption) (*metapb.ProposeResponse, error)
	MembershipStatus(ctx context.Context, in *metapb.MembershipStatusRequest, opts ...grpc.CallOption) (*metapb.MembershipStatusResponse, error)
}

// Overview is the cluster page's data; every part that could not be read
// says why in its error field, so one unavailable RPC blanks only its part.
type Overview struct {
	Healthy   bool       `json:"healthy"`
	Problems  []string   `json:"problems"`
	Leader    string     `json:"leader"`
	Voters    []string   `json:"voters"`
	MetaError string     `json:"metaError,omitempty"`
	Nodes     []NodeInfo `json:"nodes"`
	MapError  string     `json:"mapError,omitempty"`
	// Capacity, Used and Free sum every drive's filesystem as its node
	// reports it; CapacityNote says when that may count one filesystem
	// more than once.
	Capacity     uint64    `json:"capacityBytes"`
	Used         uint64    `json:"usedBytes"`
	Free         uint64    `json:"freeBytes"`
	Drives       int       `json:"drives"`
	CapacityNote string    `json:"capacityNote,omitempty"`
	Heal         *HealInfo `json:"heal,omitempty"`
	HealError    string    `json:"healError,omitempty"`
	// Pending lists the nodes waiting to be admitted (cairn admin node add).
	Pending         []string        `json:"pending"`
	Membership      *MembershipInfo `json:"membership,omitempty"`
	MembershipError string          `json:"membershipError,omitempty"`
	Generated       string          `json:"generated"`
}

// NodeInfo is one storage node.
type NodeInfo struct {
	ID            string      `json:"id"`
	Addr          string      `json:"addr"`
	FailureDomain string      `json:"failureDomain,omitempty"`
	State         string      `json:"state"` // up, down, draining, pending
	Version       string      `json:"version,omitempty"`
	LastHeartbeat string      `json:"lastHeartbeat,omitempty"`
	Drives        []DriveInfo `json:"drives"`
}

// DriveInfo is one drive of a node.
type DriveInfo struct {
	ID       string `json:"id"`
	State    string `json:"state"` // active, draining, faulty
	Fault    string `json:"fault,omitempty"`
	Capacity uint64 `json:"capacityBytes"`
	Free     uint64 `json:"freeBytes"`
}

// HealInfo is the repairer's progress.
type HealInfo struct {
	Paused         bool        `json:"paused"`
	Scanning       bool        `json:"scanning"`
	BodiesAtRisk   uint64      `json:"bodiesAtRisk"`
	Levels         []RiskLevel `json:"levels"`
	BytesToRebuild uint64      `json:"bytesToRebuild"`
	BytesRebuilt   uint64      `json:"bytesRebuilt"`
	ShardsRebuilt  uint64      `json:"shardsRebuilt"`
	Failures       uint64      `json:"failures"`
	Rate           float64     `json:"rateBytesPerSecond"`
	ETASeconds     float64     `json:"etaSeconds"`
	ScrubVerified  uint64      `json:"scrubShardsVerified"`
	ScrubDamage    uint64      `json:"scrubDamageFound"`
	GCBacklog      uint64      `json:"gcBacklog"`
}

// RiskLevel counts bodies with the same number of surviving shards.
type RiskLevel struct {
	Surviving uint32 `json:"surviving"`
	Of        uint32 `json:"of"`
	Bodies    uint64 `json:"bodies"`
}

// User is a user as the users page shows it (never its secret).
type User struct {
	AccessKey   string `json:"accessKey"`
	Name        string `json:"name"`
	CanonicalID string `json:"canonicalId"`
	Created     string `json:"created"`
}

// MetaCluster answers the root's pages from the meta group. Reads go
// through Reader (the gateway's own meta connection may read the map,
// status and users); HealStatus and user commands need the admin role and
// go through Admin when it is set (Reader otherwise, which the cluster
// refuses when it authorizes calls by certificate).
type MetaCluster struct {
	Reader, Admin Meta
	// MasterKey seals new users' secrets; without it users cannot be
	// created here.
	MasterKey []byte
	// Timeout bounds each call; default 5 s.
	Timeout time.Duration
	Now     func() time.Time
}

func (m *MetaCluster) admin() Meta {
	if m.Admin != nil {
		return m.Admin
	}
	return m.Reader
}

func (m *MetaCluster) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	d := m.Timeout
	if d <= 0 {
		d = 5 * time.Second
	}
	return context.WithTimeout(ctx, d)
}

func (m *MetaCluster) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// explain turns a refusal by role into advice.
func explain(err error) string {
	if status.Code(err) == codes.PermissionDenied {
		return "the meta group refused the console's certificate (it needs the admin role: --console-tls-cert/--console-tls-key)"
	}
	return err.Error()
}

// answers are the meta group's replies (or errors) an overview is built
// from.
type answers struct {
	st      *metapb.StatusResponse
	stErr   error
	cm      *metapb.ClusterMap
	cmErr   error
	heal    *metapb.HealStatusResponse
	healErr error
	mem     *metapb.MembershipStatusResponse
	memErr  error
}

// Overview asks the meta group for status, map, heal and membership
// figures at once.
func (m *MetaCluster) Overview(ctx context.Context) Overview {
	ctx, cancel := m.ctx(ctx)
	defer cancel()
	var (
		wg sync.WaitGroup
		a  answers
		cm *metapb.GetClusterMapResponse
	)
	wg.Add(4)
	go func() { defer wg.Done(); a.st, a.stErr = m.Reader.Status(ctx, &metapb.StatusRequest{}) }()
	go func() { defer wg.Done(); cm, a.cmErr = m.Reader.GetClusterMap(ctx, &metapb.GetClusterMapRequest{}) }()
	go func() { defer wg.Done(); a.heal, a.healErr = m.admin().HealStatus(ctx, &metapb.HealStatusRequest{}) }()
	go func() {
		defer wg.Done()
		a.mem, a.memErr = m.admin().MembershipStatus(ctx, &metapb.MembershipStatusRequest{})
	}()
	wg.Wait()
	a.cm = cm.GetMap()
	return buildOverview(a, m.now())
}

// buildOverview is pure, so the page's verdicts are tested from fixed
// answers.
func buildOverview(a answers, now time.Time) Overview {
	st, stErr, cm, cmErr, heal, healErr := a.st, a.stErr, a.cm, a.cmErr, a.heal, a.healErr
	o := Overview{Problems: []string{}, Voters: []string{}, Nodes: []NodeInfo{}, Pending: []string{}, Generated: now.UTC().Format(time.RFC3339)}
	if stErr != nil {
		o.MetaError = explain(stErr)
		o.Problems = append(o.Problems, "meta status unavailable")
	} else {
		o.Leader = st.GetLeaderId()
		o.Voters = append(o.Voters, st.GetVoters()...)
		if o.Leader == "" {
			o.Problems = append(o.Problems, "no meta leader")
		}
	}
	if cmErr != nil {
		o.MapError = explain(cmErr)
		o.Problems = append(o.Problems, "cluster map unavailable")
	}
	for _, n := range cm.GetNodes() {
		ni := NodeInfo{ID: n.GetNodeId(), Addr: n.GetAddr(), FailureDomain: n.GetFailureDomain(), Version: n.GetVersion(), Drives: []DriveInfo{}}
		switch {
		case n.GetDown() || !n.GetUp():
			ni.State = "down"
			o.Problems = append(o.Problems, fmt.Sprintf("storage node %s down", ni.ID))
		case n.GetState() == metapb.NodeState_NODE_DRAINING:
			ni.State = "draining"
		case n.GetState() == metapb.NodeState_NODE_PENDING:
			// Not a problem: it waits for an operator's admission.
			ni.State = "pending"
			o.Pending = append(o.Pending, ni.ID)
		default:
			ni.State = "up"
		}
		if t := n.GetLastHeartbeatUnixNano(); t > 0 {
			ni.LastHeartbeat = time.Unix(0, t).UTC().Format(time.RFC3339)
		}
		for _, d := range n.GetDrives() {
			di := DriveInfo{ID: d.GetDriveId(), Fault: d.GetFault(), Capacity: d.GetCapacityBytes(), Free: min(d.GetFreeBytes(), d.GetCapacityBytes())}
			switch d.GetState() {
			case metapb.DriveState_DRIVE_FAILED:
				di.State = "faulty"
				o.Problems = append(o.Problems, fmt.Sprintf("drive %s of %s faulty", di.ID, ni.ID))
			case metapb.DriveState_DRIVE_DRAINING:
				di.State = "draining"
			default:
				di.State = "active"
			}
			ni.Drives = append(ni.Drives, di)
		}
		o.Nodes = append(o.Nodes, ni)
	}
	sort.Slice(o.Nodes, func(i, j int) bool { return o.Nodes[i].ID < o.Nodes[j].ID })
	sort.Strings(o.Pending)
	addCapacity(&o)
	if healErr != nil {
		o.HealError = explain(healErr)
		o.Problems = append(o.Problems, "repair status unavailable")
	} else if heal != nil {
		h := &HealInfo{Paused: heal.GetPaused(), Scanning: heal.GetScanning(), Levels: []RiskLevel{},
			BytesToRebuild: heal.GetBytesToRebuild(), BytesRebuilt: heal.GetBytesRebuilt(), ShardsRebuilt: heal.GetShardsRebuilt(),
			Failures: heal.GetRepairFailures(), Rate: heal.GetRateBytesPerSecond(), ETASeconds: heal.GetEtaSeconds(),
			ScrubVerified: heal.GetScrubShardsVerified(), ScrubDamage: heal.GetScrubDamageFound(), GCBacklog: heal.GetGcBacklog()}
		for _, l := range heal.GetAtRisk() {
			h.BodiesAtRisk += l.GetBodies()
			h.Levels = append(h.Levels, RiskLevel{Surviving: l.GetSurviving(), Of: l.GetDataShards() + l.GetParityShards(), Bodies: l.GetBodies()})
		}
		if h.BodiesAtRisk > 0 {
			o.Problems = append(o.Problems, fmt.Sprintf("%d bodies below full redundancy", h.BodiesAtRisk))
		}
		o.Heal = h
	}
	addMembership(&o, a.mem, a.memErr)
	o.Healthy = len(o.Problems) == 0
	return o
}

// Users lists the cluster's users.
func (m *MetaCluster) Users(ctx context.Context) ([]User, error) {
	ctx, cancel := m.ctx(ctx)
	defer cancel()
	resp, err := m.Reader.ListUsers(ctx, &metapb.ListUsersRequest{})
	if err != nil {
		return nil, fmt.Errorf("console: list users: %s", explain(err))
	}
	out := []User{}
	for _, u := range resp.GetUsers() {
		out = append(out, userJSON(u))
	}
	return out, nil
}

func userJSON(u *metapb.User) User {
	return User{AccessKey: u.GetAccessKey(), Name: u.GetDisplayName(), CanonicalID: u.GetCanonicalId(),
		Created: time.Unix(0, u.GetCreatedUnixNano()).UTC().Format(time.RFC3339)}
}

// errUserExists and errNoSuchUser are the meta group's refusals.
var (
	errUserExists = errors.New("console: user exists")
	errNoSuchUser = errors.New("console: no such user")
	errNoMaster   = errors.New("console: the gateway has no master key, so it cannot seal a new user's secret")
)

// CreateUser makes a user with fresh keys; the secret is returned once.
func (m *MetaCluster) CreateUser(ctx context.Context, name string) (User, string, error) {
	if len(m.MasterKey) == 0 {
		return User{}, "", errNoMaster
	}
	sealer, err := identity.NewSealer(m.MasterKey)
	if err != nil {
		return User{}, "", fmt.Errorf("console: %w", err)
	}
	u := &metapb.User{AccessKey: identity.NewAccessKey(), CanonicalId: identity.NewCanonicalID(), DisplayName: name, CreatedUnixNano: m.now().UnixNano()}
	secret := identity.NewSecretKey()
	u.SecretCiphertext = sealer.Seal(u.AccessKey, secret)
	if err := m.propose(ctx, &metapb.Command{Op: &metapb.Command_PutUser{PutUser: &metapb.PutUser{User: u}}}); err != nil {
		return User{}, "", err
	}
	return userJSON(u), secret, nil
}

// DeleteUser removes a user; every gateway refuses its key within seconds.
func (m *MetaCluster) DeleteUser(ctx context.Context, accessKey string) error {
	return m.propose(ctx, &metapb.Command{Op: &metapb.Command_DeleteUser{DeleteUser: &metapb.DeleteUser{AccessKey: accessKey}}})
}

func (m *MetaCluster) propose(ctx context.Context, cmd *metapb.Command) error {
	ctx, cancel := m.ctx(ctx)
	defer cancel()
	resp, err := m.admin().Propose(ctx, &metapb.ProposeRequest{Command: cmd})
	if err != nil {
		return fmt.Errorf("console: %s", explain(err))
	}
	switch res := resp.GetResult(); res.GetCode() {
	case metapb.ErrorCode_OK:
		return nil
	case metapb.ErrorCode_USER_ALREADY_EXISTS:
		return errUserExists
	case metapb.ErrorCode_NO_SUCH_USER:
		return errNoSuchUser
	default:
		return fmt.Errorf("console: %s: %s", res.GetCode(), res.GetMessage())
	}
}

// HTTP handlers of the root's pages.

func (c *Console) clusterOverview(w http.ResponseWriter, r *http.Request, sess *session) {
	writeJSON(w, http.StatusOK, c.cfg.Cluster.Overview(r.Context()))
}

func (c *Console) listUsers(w http.ResponseWriter, r *http.Request, sess *session) {
	users, err := c.cfg.Cluster.Users(r.Context())
	if err != nil {
		writeError(w, http.StatusBadGateway, "Unavailable", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, users)
}

func (c *Console) createUser(w http.ResponseWriter, r *http.Request, sess *session) {
	var in struct {
		Name string `json:"name"`
	}
	if !decodeJSON(w, r, &in) {
		return
	}
	if in.Name == "" {
		writeError(w, http.StatusBadRequest, "InvalidArgument", "a name is required")
		return
	}
	u, secret, err := c.cfg.Cluster.CreateUser(r.Context(), in.Name)
	if err != nil {
		writeError(w, http.StatusBadGateway, "CreateUserFailed", err.Error())
		return
	}
	c.cfg.Logger.Info("console created user", "access_key", u.AccessKey, "by", sess.accessKey)
	writeJSON(w, http.StatusCreated, struct {
		User
		SecretKey string `json:"secretKey"`
	}{u, secret})
}

func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request, sess *session) {
	key := r.PathValue("accessKey")
	if err := c.cfg.Cluster.DeleteUser(r.Context(), key); err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, errNoSuchUser) {
			status = http.StatusNotFound
		}
		writeError(w, status, "DeleteUserFailed", err.Error())
		return
	}
	c.sessions.dropAccessKey(key)
	c.cfg.Logger.Info("console deleted user", "access_key", key, "by", sess.accessKey)
	w.WriteHeader(http.StatusNoContent)
}
