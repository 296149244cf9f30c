// Command cairn is the single binary of the Cairn object store. Its
// subcommands run one process of a cluster (server), a whole local cluster
// (dev), measure a local cluster with a load generator (bench), or print
// the version (version). Only this package reads flags,
// CAIRN_* environment variables and configuration files.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `cairn: a distributed, erasure-coded, S3-compatible object store

usage:
  cairn server [flags]   run the roles given by --roles (gateway,storage,meta)
  cairn dev [flags]      run a whole local cluster: 3 meta, 6 storage, 1 gateway
  cairn admin user ...   create, delete and list users (see 'cairn admin')
  cairn admin heal ...   repair status (--watch, --json), pause and resume
  cairn admin scrub      verify shards now (--node ID or --bucket NAME)
  cairn admin status     cluster health: meta, nodes, drives, capacity, risk (--json)
  cairn admin drive format ...
                         give drives their cluster, drive and node identity
  cairn bench [flags]    measure a fresh local cluster with MinIO's warp
  cairn healthcheck [--ready] [--admin-addr A]
                         exit 0 when a process is alive (ready); for container health checks
  cairn version          print the version

Every flag can also be given as an environment variable CAIRN_<FLAG> (upper
case, '-' as '_') or as a key of the YAML file named by --config; flags win
over the environment, which wins over the file. Run 'cairn <cmd> -h' for the
flags of one subcommand.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		// SIGHUP must not kill a server (a closed terminal, a reload
		// request sent out of habit): ignored until runServer installs the
		// handler that reloads the process's certificates.
		signal.Ignore(syscall.SIGHUP)
		restrictUmask()
		err = runServer(os.Args[2:])
	case "dev":
		restrictUmask()
		err = runDev(os.Args[2:])
	case "admin":
		err = runAdmin(os.Args[2:])
	case "bench":
		err = runBench(os.Args[2:])
	case "healthcheck":
		err = runHealthcheck(os.Args[2:])
	case "version", "--version", "-version":
		fmt.Println(versionString())
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "cairn: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		// -h printed the flags, as asked: not a failure.
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairn:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
