package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/cairn-io/cairn/node/storage"
)

// runAdminDrive runs `cairn admin drive format`: offline, on the storage
// host, with the node stopped. It needs no meta group.
func runAdminDrive(args []string) error {
	if len(args) < 1 || args[0] != "format" {
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{errors.New("admin drive: want 'format'")}
	}
	fs := flag.NewFlagSet("admin drive format", flag.ContinueOnError)
	fs.String("config", "", "YAML configuration file")
	var (
		clusterID = fs.String("cluster-id", "", "cluster ID the drives belong to")
		nodeID    = fs.String("node-id", "", "ID of the storage node that will serve the drives")
		reassign  = fs.Bool("reassign", false, "take over drives formatted for another node of this cluster (a drive moved to a new host)")
	)
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err}
	}
	if err := applyEnvAndFile(fs); err != nil {
		return usageError{err}
	}
	if *clusterID == "" || *nodeID == "" {
		return usageError{errors.New("admin drive format: --cluster-id and --node-id are required")}
	}
	dirs := fs.Args()
	if len(dirs) == 0 {
		return usageError{errors.New("admin drive format: name at least one drive directory")}
	}
	for _, dir := range dirs {
		id, err := storage.FormatDrive(nil, dir, storage.FormatOptions{
			ClusterID: *clusterID, NodeID: *nodeID, Create: true, Reassign: *reassign,
		}, nil)
		if err != nil {
			return err
		}
		fmt.Printf("%s\tdrive %s of node %s, cluster %s\n", dir, id, *nodeID, *clusterID)
	}
	return nil
}
