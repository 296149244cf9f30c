package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/node/metaclient"
	"github.com/cairn-io/cairn/node/server"
	"github.com/cairn-io/cairn/proto/metapb"
)

const adminUsage = `usage:
  cairn admin user create --name NAME   create a user; prints its access key and secret key
  cairn admin user delete --access-key K
  cairn admin user list
  cairn admin heal status [--watch] [--json] [--interval D]
                                        bodies at risk, bytes to rebuild, repair rate and ETA
  cairn admin heal pause|resume         stop or restart the repairer (committed: survives a new leader)
  cairn admin status [--json]           leader, voters, nodes, drives, capacity, risk, GC backlog;
                                        exits 1 when the cluster is unhealthy
  cairn admin drive format --cluster-id ID --node-id N [--reassign] DIR...
                                        give drives their identity (offline, on the storage host)
  cairn admin node drain|undrain NODE   move every shard off a storage node (new writes avoid it), or cancel
  cairn admin drive drain|undrain NODE DRIVE
                                        the same for one drive
  cairn admin node status [--watch] [--json]   (also: node drain status)
                                        per draining node/drive: shards and bytes left, moved, rate, ETA;
                                        the rebalance and every drive's share
  cairn admin node remove NODE [--dead] [--wait D]
                                        remove a drained node from the map; --dead: a node gone for good,
                                        its shards rebuilt from the others first (waits up to --wait, 10m)
  cairn admin node add NODE             admit a pending storage node (one the meta group has never seen)
  cairn admin rebalance start [--band PCT] | stop | status [--watch] [--json]
                                        move shards until every drive holds within ±PCT% (default 10)
                                        of its share of the bytes, throttled by --repair-bandwidth
  cairn admin scrub [--node ID | --bucket NAME]
                                        verify shards now: every storage node, one node, or one bucket
  cairn admin trace --endpoint URL[,URL...] [--errors] [--bucket B] [--op OP] [--json]
                                        follow the requests the gateways serve, live (root S3
                                        credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)
  cairn admin meta status               the meta group's voters: addresses, suffrage, leader, state,
                                        term, applied index, last contact with the leader
  cairn admin meta add-voter --id ID --raft-addr A --grpc-addr G
                                        add a voter (start it first with --meta-join)
  cairn admin meta remove-voter --id ID remove a voter (a dead one too; a majority must remain)
  cairn admin meta transfer-leader [--to ID]
                                        hand leadership to another voter
  cairn admin key rotate --new-master-key K [--finish] [--json] [--batch N]
                                        re-wrap every user secret and SSE-S3 data key under a new master
                                        key, online (resumable); --finish retires the old key
  cairn admin meta backup FILE          write a consistent snapshot of the metadata (atomically)
  cairn admin meta restore FILE --data-dir DIR --node-id ID --raft-addr A [--cluster-id C]
                                        offline: prepare the first voter of a new meta group from FILE
  cairn admin ca init --dir DIR [--cluster-id ID]
                                        create the cluster CA (ca.pem, ca.key); never overwrites
  cairn admin cert issue --ca-dir DIR --node-id N --role meta,storage[,gateway|admin] [--host h1,h2] --out DIR
                                        issue a node (or admin) certificate: <node-id>.pem, <node-id>.key

Flags (also CAIRN_<FLAG> or the --config file):
  --meta-addrs   meta gRPC addresses, comma-separated
  --master-key   cluster master key (create only: it seals the new secret)
  --timeout      how long to wait for the meta group (default 30s)
  --tls-ca, --tls-cert, --tls-key
                 the cluster CA and an admin certificate (cairn admin cert issue
                 --role admin): the meta group refuses admin calls without one
  --insecure-internal
                 dial a plaintext cluster (one started with --insecure-internal)
`

func runAdmin(args []string) error {
	if len(args) >= 1 && args[0] == "heal" {
		return runAdminHeal(args[1:])
	}
	if len(args) >= 2 && args[0] == "drive" && (args[1] == "drain" || args[1] == "undrain") {
		return runAdminDriveState(args[1], args[2:])
	}
	if len(args) >= 1 && args[0] == "drive" {
		return runAdminDrive(args[1:])
	}
	if len(args) >= 1 && args[0] == "node" {
		return runAdminNode(args[1:])
	}
	if len(args) >= 1 && args[0] == "rebalance" {
		return runAdminRebalance(args[1:])
	}
	if len(args) >= 1 && args[0] == "status" {
		return runAdminStatus(args[1:])
	}
	if len(args) >= 1 && args[0] == "trace" {
		return runAdminTrace(args[1:])
	}
	if len(args) >= 1 && args[0] == "meta" {
		return runAdminMeta(args[1:])
	}
	if len(args) >= 1 && args[0] == "key" {
		return runAdminKey(args[1:])
	}
	if len(args) >= 1 && args[0] == "scrub" {
		return runAdminScrub(args[1:])
	}
	if len(args) >= 1 && args[0] == "ca" {
		return runAdminCA(args[1:])
	}
	if len(args) >= 1 && args[0] == "cert" {
		return runAdminCert(args[1:])
	}
	if len(args) < 2 || args[0] != "user" {
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{errors.New("admin: want 'user create|delete|list', 'heal status|pause|resume', 'node ...', 'drive ...', 'rebalance ...', 'scrub', 'ca init' or 'cert issue'")}
	}
	verb := args[1]
	fs := flag.NewFlagSet("admin user "+verb, flag.ContinueOnError)
	var (
		metaAddrs = fs.String("meta-addrs", "", "meta gRPC addresses, comma-separated")
		masterKey = fs.String("master-key", "", "cluster master key, base64 of 32 bytes")
		prevKey   = fs.String("previous-master-key", "", "during a master key rotation: the old key, so the new secret is sealed under both (create)")
		name      = fs.String("name", "", "display name of the new user (create)")
		accessKey = fs.String("access-key", "", "access key of the user to delete (delete)")
		timeout   = fs.Duration("timeout", 30*time.Second, "how long to wait for the meta group")
	)
	fs.String("config", "", "YAML configuration file")
	tlsf := addTLSFlags(fs)
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	if err := applyEnvAndFile(fs); err != nil {
		return err
	}
	addrs := splitList(*metaAddrs)
	if len(addrs) == 0 {
		return errors.New("admin: --meta-addrs (or CAIRN_META_ADDRS) is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	adminTLS, err := tlsf.reloader()
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	mc, err := metaclient.Dial(ctx, addrs, clientDialer(adminTLS))
	if err != nil {
		return err
	}
	defer mc.Close()
	switch verb {
	case "create":
		return adminCreateUser(ctx, mc, *name, *masterKey, *prevKey)
	case "delete":
		return adminDeleteUser(ctx, mc, *accessKey)
	case "list":
		return adminListUsers(ctx, mc)
	}
	fmt.Fprint(os.Stderr, adminUsage)
	return fmt.Errorf("admin: unknown user command %q", verb)
}

func propose(ctx context.Context, mc *metaclient.Client, cmd *metapb.Command) (*metapb.CommandResult, error) {
	resp, err := mc.Propose(ctx, &metapb.ProposeRequest{Command: cmd})
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	return resp.GetResult(), nil
}

func adminCreateUser(ctx context.Context, mc *metaclient.Client, name, masterKey, previousKey string) error {
	if name == "" {
		return errors.New("admin: --name is required")
	}
	if masterKey == "" {
		return errors.New("admin: --master-key (or CAIRN_MASTER_KEY) is required to seal the new secret")
	}
	mk, err := identity.ParseMasterKey(masterKey)
	if err != nil {
		return fmt.Errorf("admin: --master-key: %w", err)
	}
	var prev []byte
	if previousKey != "" {
		if prev, err = identity.ParseMasterKey(previousKey); err != nil {
			return fmt.Errorf("admin: --previous-master-key: %w", err)
		}
	}
	// A user sealed under another key could never sign a request (the
	// gateways answer 500): check the key first, recording it if the
	// cluster has none yet.
	rotating, err := server.CheckMasterKeyRotating(ctx, mc, mk)
	if err != nil {
		if errors.Is(err, server.ErrMasterKeyMismatch) {
			return fmt.Errorf("admin: --master-key: %w; no user created", err)
		}
		return fmt.Errorf("admin: %w", err)
	}
	// During a rotation the secret is sealed under the previous key too,
	// so gateways not yet restarted with the new key can open it.
	sealer, err := identity.NewSealerKeys(identity.Keys{Current: mk, Previous: prev, SealPrevious: rotating})
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	u := &metapb.User{
		AccessKey:       identity.NewAccessKey(),
		CanonicalId:     identity.NewCanonicalID(),
		DisplayName:     name,
		CreatedUnixNano: time.Now().UnixNano(),
	}
	secret := identity.NewSecretKey()
	u.SecretCiphertext = sealer.Seal(u.AccessKey, secret)
	res, err := propose(ctx, mc, &metapb.Command{Op: &metapb.Command_PutUser{PutUser: &metapb.PutUser{User: u}}})
	if err != nil {
		return err
	}
	switch res.GetCode() {
	case metapb.ErrorCode_OK:
	case metapb.ErrorCode_USER_ALREADY_EXISTS:
		return fmt.Errorf("admin: user exists: %s", res.GetMessage())
	default:
		return fmt.Errorf("admin: create user: %s: %s", res.GetCode(), res.GetMessage())
	}
	fmt.Printf(`User created. Keep the secret key now: it is not shown again.

Name:         %s
Access key:   %s
Secret key:   %s
Canonical ID: %s
`, u.DisplayName, u.AccessKey, secret, u.CanonicalId)
	return nil
}

func adminDeleteUser(ctx context.Context, mc *metaclient.Client, accessKey string) error {
	if accessKey == "" {
		return errors.New("admin: --access-key is required")
	}
	res, err := propose(ctx, mc, &metapb.Command{Op: &metapb.Command_DeleteUser{DeleteUser: &metapb.DeleteUser{AccessKey: accessKey}}})
	if err != nil {
		return err
	}
	switch res.GetCode() {
	case metapb.ErrorCode_OK:
		fmt.Printf("User %s deleted.\n", accessKey)
		return nil
	case metapb.ErrorCode_NO_SUCH_USER:
		return fmt.Errorf("admin: no user has access key %s", accessKey)
	}
	return fmt.Errorf("admin: delete user: %s: %s", res.GetCode(), res.GetMessage())
}

func adminListUsers(ctx context.Context, mc *metaclient.Client) error {
	resp, err := mc.ListUsers(ctx, &metapb.ListUsersRequest{})
	if err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCESS KEY\tNAME\tCANONICAL ID\tCREATED")
	for _, u := range resp.GetUsers() {
		created := time.Unix(0, u.GetCreatedUnixNano()).UTC().Format(time.RFC3339)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.GetAccessKey(), u.GetDisplayName(), u.GetCanonicalId(), created)
	}
	return tw.Flush()
}
