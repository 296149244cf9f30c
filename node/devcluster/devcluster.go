// Package devcluster lays out and runs a whole Cairn cluster on one machine
// as separate OS processes of the cairn binary: three meta voters, six
// storage nodes and one gateway. `cairn dev` uses it, and so do the
// multi-process tests, so both exercise the same real processes.
//
// The layout (node IDs, ports, directories) is chosen once and stored in
// the data directory, so that a restarted cluster finds its Raft peers and
// drives where it left them.
package devcluster

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// layoutVersion versions the persisted layout file.
const layoutVersion = 1

// Proc is one process of the cluster.
type Proc struct {
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
	NodeID   string   `json:"node_id,omitempty"`
	GRPCAddr string   `json:"grpc_addr,omitempty"`
	RaftAddr string   `json:"raft_addr,omitempty"`
	S3Addr   string   `json:"s3_addr,omitempty"`
	// AdminAddr serves the process's /metrics, /healthz and /readyz.
	AdminAddr string `json:"admin_addr,omitempty"`
	// ConsoleAddr serves a gateway's web console.
	ConsoleAddr string `json:"console_addr,omitempty"`
	DataDir     string `json:"data_dir"`
	// MetaJoin starts a meta voter added after the group's first start
	// with --meta-join: it waits to be added instead of bootstrapping.
	MetaJoin bool `json:"meta_join,omitempty"`
}

// Layout is the persisted shape of a cluster.
type Layout struct {
	Version int    `json:"version"`
	Dir     string `json:"-"`
	// ClusterID is chosen once, with the layout, and passed to every
	// process; the storage nodes write it to their drives.
	ClusterID string `json:"cluster_id,omitempty"`
	Procs     []Proc `json:"procs"`
	// ManualAdmit runs the meta nodes without --auto-admit-nodes: every
	// storage node, the first ones included, joins pending until admitted
	// (cairn admin node add). By default a local cluster admits its own.
	ManualAdmit bool `json:"manual_admit,omitempty"`
}

// Spec says what cluster to lay out when none exists yet.
type Spec struct {
	Dir     string // data directory; the layout is stored in it
	Host    string // loopback address every process binds, default 127.0.0.1
	S3Addr  string // gateway address; "" picks a free port
	Meta    int    // meta voters, default 3
	Storage int    // storage nodes, default 6
	// NoAdmin leaves the processes without admin listeners, and so
	// without metrics (to measure what metrics cost).
	NoAdmin bool
	// ManualAdmit: see Layout.ManualAdmit.
	ManualAdmit bool
}

const layoutFile = "cluster.json"

// LoadOrCreate reads the layout stored in spec.Dir, or lays out a new
// cluster there. A given S3Addr replaces the stored gateway address, which
// is safe: no other process records it.
func LoadOrCreate(spec Spec) (*Layout, error) {
	if spec.Dir == "" {
		return nil, errors.New("devcluster: data dir is required")
	}
	abs, err := filepath.Abs(spec.Dir)
	if err != nil {
		return nil, fmt.Errorf("devcluster: data dir: %w", err)
	}
	spec.Dir = abs
	if err := os.MkdirAll(spec.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("devcluster: create data dir: %w", err)
	}
	path := filepath.Join(spec.Dir, layoutFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var l Layout
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("devcluster: read %s: %w", layoutFile, err)
		}
		if l.Version != layoutVersion {
			return nil, fmt.Errorf("devcluster: %s has version %d, want %d", layoutFile, l.Version, layoutVersion)
		}
		l.Dir = spec.Dir
		if l.ClusterID == "" {
			// A layout from before cluster IDs: its storage nodes adopt
			// their version 1 drives on the next start (--format-drives).
			if l.ClusterID, err = newClusterID(); err != nil {
				return nil, err
			}
		}
		if err := l.addConsoles(); err != nil {
			return nil, err
		}
		if spec.S3Addr != "" {
			for i := range l.Procs {
				if l.Procs[i].S3Addr != "" {
					l.Procs[i].S3Addr = spec.S3Addr
				}
			}
		}
		return &l, l.save()
	case errors.Is(err, os.ErrNotExist):
		l, err := newLayout(spec)
		if err != nil {
			return nil, err
		}
		return l, l.save()
	default:
		return nil, fmt.Errorf("devcluster: read layout: %w", err)
	}
}

func newLayout(spec Spec) (*Layout, error) {
	if spec.Host == "" {
		spec.Host = "127.0.0.1"
	}
	if spec.Meta == 0 {
		spec.Meta = 3
	}
	if spec.Storage == 0 {
		spec.Storage = 6
	}
	cid, err := newClusterID()
	if err != nil {
		return nil, err
	}
	l := &Layout{Version: layoutVersion, Dir: spec.Dir, ClusterID: cid, ManualAdmit: spec.ManualAdmit}
	// Every listener stays open until all ports are chosen, so the kernel
	// cannot hand the same port out twice.
	var held []net.Listener
	defer func() {
		for _, lis := range held {
			lis.Close()
		}
	}()
	port := func() (string, error) {
		lis, err := net.Listen("tcp", net.JoinHostPort(spec.Host, "0"))
		if err != nil {
			return "", fmt.Errorf("devcluster: pick a port: %w", err)
		}
		held = append(held, lis)
		return lis.Addr().String(), nil
	}
	for i := 1; i <= spec.Meta; i++ {
		g, err := port()
		if err != nil {
			return nil, err
		}
		r, err := port()
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("meta-%d", i)
		l.Procs = append(l.Procs, Proc{Name: name, Roles: []string{"meta"}, NodeID: name, GRPCAddr: g, RaftAddr: r, DataDir: name})
	}
	for i := 1; i <= spec.Storage; i++ {
		g, err := port()
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("storage-%d", i)
		l.Procs = append(l.Procs, Proc{Name: name, Roles: []string{"storage"}, NodeID: name, GRPCAddr: g, DataDir: name})
	}
	s3 := spec.S3Addr
	if s3 == "" {
		var err error
		if s3, err = port(); err != nil {
			return nil, err
		}
	}
	c, err := port()
	if err != nil {
		return nil, err
	}
	l.Procs = append(l.Procs, Proc{Name: "gateway", Roles: []string{"gateway"}, S3Addr: s3, ConsoleAddr: c, DataDir: "gateway"})
	for i := range l.Procs {
		if spec.NoAdmin {
			break
		}
		a, err := port()
		if err != nil {
			return nil, err
		}
		l.Procs[i].AdminAddr = a
	}
	return l, nil
}

// addConsoles gives the gateways of a layout made before the web console
// a console address on their host.
func (l *Layout) addConsoles() error {
	for i, p := range l.Procs {
		if p.S3Addr == "" || p.ConsoleAddr != "" {
			continue
		}
		host, _, err := net.SplitHostPort(p.S3Addr)
		if err != nil {
			return fmt.Errorf("devcluster: gateway address %q: %w", p.S3Addr, err)
		}
		lis, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return fmt.Errorf("devcluster: pick a console port: %w", err)
		}
		l.Procs[i].ConsoleAddr = lis.Addr().String()
		lis.Close()
	}
	return nil
}

// ConsoleAddr is the gateway's web console address.
func (l *Layout) ConsoleAddr() string {
	for _, p := range l.Procs {
		if p.ConsoleAddr != "" {
			return p.ConsoleAddr
		}
	}
	return ""
}

func newClusterID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("devcluster: cluster id: %w", err)
	}
	return "dev-" + hex.EncodeToString(b[:]), nil
}

func (l *Layout) save() error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("devcluster: encode layout: %w", err)
	}
	tmp := filepath.Join(l.Dir, layoutFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("devcluster: write layout: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(l.Dir, layoutFile)); err != nil {
		return fmt.Errorf("devcluster: write layout: %w", err)
	}
	return nil
}

// S3Addr is the gateway's address.
func (l *Layout) S3Addr() string {
	for _, p := range l.Procs {
		if p.S3Addr != "" {
			return p.S3Addr
		}
	}
	return ""
}

// Proc returns the named process.
func (l *Layout) Proc(name string) (Proc, bool) {
	for _, p := range l.Procs {
		if p.Name == name {
			return p, true
		}
	}
	return Proc{}, false
}

// Names lists the processes whose roles include role, in layout order.
func (l *Layout) Names(role string) []string {
	var out []string
	for _, p := range l.Procs {
		for _, r := range p.Roles {
			if r == role {
				out = append(out, p.Name)
			}
		}
	}
	return out
}

func (l *Layout) metaPeers() (peers, addrs []string) {
	for _, p := range l.Procs {
		if p.RaftAddr != "" {
			peers = append(peers, p.NodeID+"="+p.RaftAddr+"="+p.GRPCAddr)
			addrs = append(addrs, p.GRPCAddr)
		}
	}
	return peers, addrs
}

// MetaAddrs are the meta nodes' gRPC addresses, for clients such as the
// admin command.
func (l *Layout) MetaAddrs() []string {
	_, addrs := l.metaPeers()
	return addrs
}

// Args returns the `cairn server` arguments of one process. Credentials are
// not arguments (argv is visible to every user): they travel in the
// environment.
func (l *Layout) Args(p Proc) []string {
	peers, addrs := l.metaPeers()
	args := []string{"server", "--roles", strings.Join(p.Roles, ","), "--data-dir", filepath.Join(l.Dir, p.DataDir), "--cluster-id", l.ClusterID}
	for _, r := range p.Roles {
		if r == "storage" {
			// A local cluster's drives are its own directories: formatted
			// on first start, checked on every later one.
			args = append(args, "--format-drives")
		}
	}
	if p.NodeID != "" {
		args = append(args, "--node-id", p.NodeID)
	}
	if p.GRPCAddr != "" {
		args = append(args, "--grpc-addr", p.GRPCAddr)
	}
	if p.RaftAddr != "" {
		args = append(args, "--raft-addr", p.RaftAddr, "--meta-peers", strings.Join(peers, ","))
		if !l.ManualAdmit {
			// A local cluster's storage nodes are its own.
			args = append(args, "--auto-admit-nodes")
		}
		if p.MetaJoin {
			args = append(args, "--meta-join")
		}
	} else {
		args = append(args, "--meta-addrs", strings.Join(addrs, ","))
	}
	if p.S3Addr != "" {
		args = append(args, "--s3-addr", p.S3Addr)
	}
	if p.AdminAddr != "" {
		args = append(args, "--admin-addr", p.AdminAddr)
	}
	if p.ConsoleAddr != "" {
		args = append(args, "--console-addr", p.ConsoleAddr)
	}
	return args
}

// PrometheusTargets is the file, in the data directory, that lists the
// admin listeners for Prometheus's file_sd_configs.
const PrometheusTargets = "prometheus-targets.json"

// WritePrometheusTargets writes every process's admin address, labelled with
// its role and name, to PrometheusTargets in the data directory and returns
// the file's path.
func (l *Layout) WritePrometheusTargets() (string, error) {
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	var groups []group
	for _, p := range l.Procs {
		if p.AdminAddr == "" {
			continue
		}
		groups = append(groups, group{Targets: []string{p.AdminAddr}, Labels: map[string]string{"role": strings.Join(p.Roles, ","), "name": p.Name}})
	}
	b, err := json.MarshalIndent(groups, "", "  ")
	if err != nil {
		return "", fmt.Errorf("devcluster: encode prometheus targets: %w", err)
	}
	path := filepath.Join(l.Dir, PrometheusTargets)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("devcluster: write prometheus targets: %w", err)
	}
	return path, nil
}

// AddStorage lays out one more storage node (storage-N, on a free port of
// host) and saves the layout; the caller starts it (Cluster.AddStorage
// also issues its certificate).
func (l *Layout) AddStorage(host string) (Proc, error) {
	if host == "" {
		host = "127.0.0.1"
	}
	n := len(l.Names("storage")) + 1
	name := fmt.Sprintf("storage-%d", n)
	if _, ok := l.Proc(name); ok {
		return Proc{}, fmt.Errorf("devcluster: %s exists", name)
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return Proc{}, fmt.Errorf("devcluster: pick a port: %w", err)
	}
	addr := lis.Addr().String()
	lis.Close()
	p := Proc{Name: name, Roles: []string{"storage"}, NodeID: name, GRPCAddr: addr, DataDir: name}
	l.Procs = append(l.Procs, p)
	if err := l.save(); err != nil {
		return Proc{}, err
	}
	return p, nil
}

// AddMeta lays out one more meta voter, started with --meta-join, on free
// loopback ports, and saves the layout. Issue its certificate with
// LoadOrCreateCerts before starting it.
func (l *Layout) AddMeta(name string) (Proc, error) {
	if _, ok := l.Proc(name); ok {
		return Proc{}, fmt.Errorf("devcluster: process %q exists", name)
	}
	var addrs []string
	for range 2 {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Proc{}, fmt.Errorf("devcluster: pick a port: %w", err)
		}
		defer lis.Close()
		addrs = append(addrs, lis.Addr().String())
	}
	p := Proc{Name: name, Roles: []string{"meta"}, NodeID: name, GRPCAddr: addrs[0], RaftAddr: addrs[1], DataDir: name, MetaJoin: true}
	l.Procs = append(l.Procs, p)
	return p, l.save()
}
