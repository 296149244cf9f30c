package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/gateway"
	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/node/lifecycle"
	"github.com/cairn-io/cairn/node/meta"
	"github.com/cairn-io/cairn/node/pki"
	"github.com/cairn-io/cairn/node/repair"
	"github.com/cairn-io/cairn/node/server"
	"github.com/cairn-io/cairn/node/storage"
	"github.com/cairn-io/cairn/placement"
)

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	var (
		configPath = fs.String("config", "", "YAML configuration file")
		roles      = fs.String("roles", "gateway,storage,meta", "roles to run: gateway, storage, meta")
		nodeID     = fs.String("node-id", "", "node ID (meta and storage roles)")
		clusterID  = fs.String("cluster-id", "", "cluster ID, written to and checked against every drive (storage role)")
		formatNew  = fs.Bool("format-drives", false, "storage role: format drive directories without a format file and adopt version 1 drives (first start only)")
		dataDir    = fs.String("data-dir", "", "directory for this node's state")
		grpcAddr   = fs.String("grpc-addr", "", "address of the meta and storage gRPC services (advertised to peers)")
		raftAddr   = fs.String("raft-addr", "", "address of the meta role's Raft transport")
		metaPeers  = fs.String("meta-peers", "", "meta voters as id=raftAddr=grpcAddr, comma-separated")
		metaJoin   = fs.Bool("meta-join", false, "meta role: a new voter joining a running group; it never bootstraps and waits for cairn admin meta add-voter")
		metaAddrs  = fs.String("meta-addrs", "", "meta gRPC addresses for gateway and storage, comma-separated (default: from --meta-peers)")
		drives     = fs.String("drives", "", "drive directories of the storage role, comma-separated (default: <data-dir>/drive0)")
		domain     = fs.String("failure-domain", "", "failure domain of this storage node (rack, host)")
		s3Addr     = fs.String("s3-addr", "127.0.0.1:9000", "S3 (plain HTTP) listen address of the gateway role; empty: no plain HTTP")
		s3TLSAddr  = fs.String("s3-tls-addr", "", "S3 HTTPS listen address of the gateway role (needs --s3-tls-cert and --s3-tls-key)")
		s3TLSCert  = fs.String("s3-tls-cert", "", "certificate (PEM, chain first) the S3 HTTPS endpoint serves; reloaded when the file changes or on SIGHUP")
		s3TLSKey   = fs.String("s3-tls-key", "", "key of --s3-tls-cert (PEM)")
		accessKey  = fs.String("access-key", "", "root access key of the gateway")
		secretKey  = fs.String("secret-key", "", "root secret key of the gateway")
		region     = fs.String("region", "us-east-1", "S3 region the gateway answers for")
		vhosts     = fs.String("virtual-host-suffixes", "localhost", "domains for virtual-host addressing (<bucket>.<suffix>), comma-separated")
		ecK        = fs.Int("ec-data", server.DefaultProfile.K, "data shards of the STANDARD profile")
		ecM        = fs.Int("ec-parity", server.DefaultProfile.M, "parity shards of the STANDARD profile")
		ecBlock    = fs.Int("ec-block-size", server.DefaultProfile.BlockSize, "bytes per shard block of a stripe")
		rrK        = fs.Int("rr-data", server.DefaultReducedProfile.K, "data shards of the REDUCED_REDUNDANCY profile")
		rrM        = fs.Int("rr-parity", server.DefaultReducedProfile.M, "parity shards of the REDUCED_REDUNDANCY profile")
		logLevel   = fs.String("log-level", "info", "debug, info, warn or error")
		masterKey  = fs.String("master-key", "", "base64 256-bit cluster master key: wraps SSE-S3 data keys and seals user secrets (prefer CAIRN_MASTER_KEY)")
		prevMaster = fs.String("previous-master-key", "", "base64 master key being rotated away from (cairn admin key rotate): still opens secrets and data keys (prefer CAIRN_PREVIOUS_MASTER_KEY)")
		adminAddr  = fs.String("admin-addr", "", "serve /metrics, /healthz and /readyz on this address (host:port); off when empty")
		pprofAddr  = fs.String("pprof-addr", "", "serve net/http/pprof on this loopback address (host:port, port 0 picks one); off when empty")
		kmsKeys    = fs.String("kms-keys", "", "SSE-KMS key ring as id=base64,... of 256-bit keys, the first is the default (gateway role; prefer CAIRN_KMS_KEYS)")
	)
	// The meta role's orphan sweep.
	orphanGrace := fs.Duration("orphan-grace", meta.DefaultOrphanGrace, "meta role: the orphan sweep deletes unreferenced shards only once they are this old")
	sweepInterval := fs.Duration("sweep-interval", meta.DefaultSweepInterval, "meta role: how often the leader sweeps storage nodes for orphan shards")
	// The storage role's scrubber.
	scrubRate := fs.Int64("scrub-rate", storage.DefaultScrubRate, "storage role: bytes per second the scrubber reads from the node's drives")
	directIO := fs.Bool("direct-io", true, "storage role: write shards of large blocks with direct I/O (O_DIRECT) where the drive's filesystem takes it; false writes them through the page cache")
	scrubInterval := fs.Duration("scrub-interval", storage.DefaultScrubInterval, "storage role: pause from the end of one scrub pass to the start of the next (negative: only on demand)")
	// Liveness and Raft timing of the meta role.
	nodeDownAfter := fs.Duration("node-down-after", meta.DefaultNodeDownAfter, "meta role: a storage node without heartbeats this long is committed down and its shards are re-protected elsewhere")
	raftHeartbeat := fs.Duration("raft-heartbeat-timeout", meta.DefaultRaftHeartbeatTimeout, "meta role: Raft heartbeat timeout (a follower without contact this long starts an election)")
	raftElection := fs.Duration("raft-election-timeout", meta.DefaultRaftElectionTimeout, "meta role: Raft election timeout")
	raftLease := fs.Duration("raft-leader-lease-timeout", meta.DefaultRaftLeaderLeaseTimeout, "meta role: Raft leader lease (a leader without quorum contact this long steps down)")
	// Placement's free-space reserve (gateway role).
	minFreeBytes := fs.Uint64("min-free-bytes", placement.DefaultReserve.Bytes, "gateway role: a drive with less free space than this (or than --min-free-percent of it) takes no new shards")
	minFreePercent := fs.Float64("min-free-percent", placement.DefaultReserve.Percent, "gateway role: a drive with less free space than this percentage of its capacity (or than --min-free-bytes) takes no new shards")
	inlineMax := fs.Int64("inline-max-bytes", gateway.DefaultInlineMaxBytes, "gateway role: single-part bodies of at most this many bytes are committed inside their metadata record (replicated by the meta group's Raft log) instead of erasure-coded shards; 0 disables, at most 1 MiB")
	putBuffer := fs.Int64("put-buffer-bytes", server.DefaultPutBufferBytes, "gateway role: stripe memory all PUTs may hold at once (each takes its stripes in flight, 12 MiB for a large body at 4+2 with 1 MiB blocks); a PUT that does not fit waits before reading its body; negative: unbounded")
	noBucketCache := fs.Bool("no-bucket-cache", false, "gateway role: read every bucket from the meta leader (linearizably) instead of serving them from a cache kept current by the leader's watch")
	bodyStall := fs.Duration("body-stall-timeout", gateway.DefaultBodyStallTimeout, "gateway role: a request body that sends nothing for this long is cut with 400 RequestTimeout (negative: never)")
	// The meta role's repairer.
	repairBandwidth := fs.Int64("repair-bandwidth", repair.DefaultBandwidth, "meta role: bytes per second the repairer and bucket scrubs may read; 0 means unlimited")
	repairConcurrency := fs.Int("repair-concurrency", repair.DefaultConcurrency, "meta role: bodies the repairer rebuilds at once")
	autoAdmit := fs.Bool("auto-admit-nodes", false, "meta role: admit a storage node never seen before as soon as it heartbeats (default: it joins pending until `cairn admin node add`)")
	repairDownAfter := fs.Duration("repair-down-after", 0, "meta role: treat a storage node silent this long as lost even before it is committed down (0: rely on the committed state)")
	// The meta role's lifecycle worker.
	lifecycleInterval := fs.Duration("lifecycle-interval", meta.DefaultLifecycleInterval, "meta role: how often the lifecycle worker scans a batch of versions for expiration")
	lifecycleRate := fs.Float64("lifecycle-rate", lifecycle.DefaultRate, "meta role: expirations the lifecycle worker commits per second at most (negative: unlimited)")
	lifecycleDay := fs.Duration("lifecycle-day", lifecycle.DefaultDay, "testing only (meta and gateway roles): the length of a lifecycle rule's day, so that expiration can be seen within seconds")
	// The gateway's web console.
	consoleAddr := fs.String("console-addr", "", "gateway role: serve the web console (plain HTTP) on this address (host:port); off when empty")
	consoleTLSCert := fs.String("console-tls-cert", "", "gateway role: an admin-role certificate under the cluster CA (--tls-ca) the console uses for heal status and user management")
	consoleTLSKey := fs.String("console-tls-key", "", "key of --console-tls-cert (PEM)")
	internalTLS := addTLSFlags(fs)
	_ = configPath
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applyEnvAndFile(fs); err != nil {
		return err
	}
	logger, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	peers, err := server.ParsePeers(splitList(*metaPeers))
	if err != nil {
		return err
	}
	keys, err := parseEncryptionKeys(*masterKey, *kmsKeys)
	if err != nil {
		return err
	}
	var previousMaster []byte
	if *prevMaster != "" {
		if previousMaster, err = identity.ParseMasterKey(*prevMaster); err != nil {
			return fmt.Errorf("--previous-master-key: %w", err)
		}
	}
	var certs reloaders
	nodeTLS, err := internalTLS.reloader()
	if err != nil {
		return err
	}
	certs.add("internal", nodeTLS)
	if nodeTLS == nil {
		logger.Warn("INSECURE: --insecure-internal: traffic between nodes is plaintext and unauthenticated; " +
			"anyone who can reach the gRPC and Raft ports can read and overwrite every object and change every setting")
	}
	var s3TLS *pki.Reloader
	if (*s3TLSCert == "") != (*s3TLSKey == "") {
		return errors.New("--s3-tls-cert and --s3-tls-key go together")
	}
	if *s3TLSCert != "" {
		if *s3TLSAddr == "" {
			return errors.New("--s3-tls-cert needs --s3-tls-addr, the HTTPS listen address")
		}
		if s3TLS, err = pki.NewReloader(pki.Files{Cert: *s3TLSCert, Key: *s3TLSKey}); err != nil {
			return fmt.Errorf("S3 TLS: %w", err)
		}
		certs.add("s3", s3TLS)
	}
	consoleTLS, err := consoleReloader(internalTLS, *consoleTLSCert, *consoleTLSKey)
	if err != nil {
		return err
	}
	certs.add("console", consoleTLS)
	stopHUP := handleSIGHUP(&certs, logger)
	defer stopHUP()
	cfg := server.Config{
		NodeID:        *nodeID,
		ClusterID:     *clusterID,
		FormatDrives:  *formatNew,
		Version:       versionString(),
		Roles:         splitList(*roles),
		DataDir:       *dataDir,
		GRPCAddr:      *grpcAddr,
		RaftAddr:      *raftAddr,
		MetaPeers:     peers,
		MetaJoin:      *metaJoin,
		MetaAddrs:     splitList(*metaAddrs),
		Drives:        splitList(*drives),
		FailureDomain: *domain,
		OrphanGrace:   *orphanGrace,
		SweepInterval: *sweepInterval,
		ScrubRate:     *scrubRate,
		ScrubInterval: *scrubInterval,
		NoDirectIO:    !*directIO,

		NodeDownAfter:          *nodeDownAfter,
		RaftHeartbeatTimeout:   *raftHeartbeat,
		RaftElectionTimeout:    *raftElection,
		RaftLeaderLeaseTimeout: *raftLease,
		Reserve:                &placement.Reserve{Bytes: *minFreeBytes, Percent: *minFreePercent},

		S3Addr:    *s3Addr,
		S3TLSAddr: *s3TLSAddr,
		S3TLS:     s3TLS,
		AccessKey: *accessKey,
		SecretKey: *secretKey,
		Region:    *region,
		Profile:   erasure.Profile{K: *ecK, M: *ecM, BlockSize: *ecBlock},

		RepairBandwidth:   bandwidth(*repairBandwidth),
		RepairConcurrency: *repairConcurrency,
		RepairDownAfter:   *repairDownAfter,
		LifecycleInterval: *lifecycleInterval,
		LifecycleRate:     *lifecycleRate,
		LifecycleDay:      *lifecycleDay,
		AutoAdmitNodes:    *autoAdmit,
		StorageClasses: map[string]erasure.Profile{
			"STANDARD":           {K: *ecK, M: *ecM, BlockSize: *ecBlock},
			"REDUCED_REDUNDANCY": {K: *rrK, M: *rrM, BlockSize: *ecBlock},
		},
		VirtualHostSuffixes: splitList(*vhosts),
		BodyStallTimeout:    *bodyStall,
		InlineMaxBytes:      *inlineMax,
		PutBufferBytes:      *putBuffer,
		NoBucketCache:       *noBucketCache,
		MasterKey:           keys.master,
		PreviousMasterKey:   previousMaster,
		KMSKeys:             keys.kms,
		AdminAddr:           *adminAddr,
		ConsoleAddr:         *consoleAddr,
		ConsoleAdminTLS:     consoleTLS,
		Logger:              logger.With("node", *nodeID),

		TLS:              nodeTLS,
		InsecureInternal: nodeTLS == nil,
	}
	if nodeTLS != nil {
		// The node ID is the certificate's; --node-id, if given, must match
		// (server.Config.Validate).
		if cfg.NodeID == "" {
			cfg.NodeID = nodeTLS.Identity().NodeID
		}
		cfg.Dialer = clientDialer(nodeTLS)
		cfg.Logger = logger.With("node", cfg.NodeID)
	}
	if *pprofAddr != "" {
		stopPprof, err := startPprof(*pprofAddr, logger)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	logger.Info("cairn server started", "roles", *roles, "node", cfg.NodeID, "grpc", *grpcAddr, "s3", srv.S3Addr(), "s3_tls", srv.S3TLSAddr(), "admin", srv.AdminAddr(), "console", srv.ConsoleAddr(), "mtls", nodeTLS != nil)
	// Listeners are up: a Type=notify systemd unit is started now.
	if err := sdNotify("READY=1"); err != nil {
		logger.Warn("could not signal readiness to systemd", "err", err)
	}
	select {
	case <-ctx.Done():
	case err = <-srv.Err():
		err = fmt.Errorf("listener failed: %w", err)
	}
	logger.Info("cairn server stopping")
	_ = sdNotify("STOPPING=1")
	if cerr := srv.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// bandwidth maps the flag's "0 means unlimited" to the config's negative.
func bandwidth(flag int64) int64 {
	if flag <= 0 {
		return -1
	}
	return flag
}

// consoleReloader loads the console's admin certificate, which shares the
// internal CA; nil when none is given.
func consoleReloader(internal tlsFlags, cert, key string) (*pki.Reloader, error) {
	if (cert == "") != (key == "") {
		return nil, errors.New("--console-tls-cert and --console-tls-key go together")
	}
	if cert == "" {
		return nil, nil
	}
	if *internal.ca == "" {
		return nil, errors.New("--console-tls-cert needs --tls-ca, the cluster CA")
	}
	r, err := pki.NewReloader(pki.Files{CA: *internal.ca, Cert: cert, Key: key})
	if err != nil {
		return nil, fmt.Errorf("console TLS: %w", err)
	}
	return r, nil
}
