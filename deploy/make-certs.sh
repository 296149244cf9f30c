#!/bin/sh
# Make a cluster CA and one certificate per node for the compose file or the
# Kubernetes manifests:
#
#   deploy/make-certs.sh DIR CLUSTER_ID NODE:ROLES [NODE:ROLES...]
#
# e.g. deploy/make-certs.sh tls compose-1 host1:meta,storage,gateway ...
# writes DIR/ca.pem, DIR/ca.key, DIR/<node>.pem, DIR/<node>.key and an
# admin certificate (DIR/admin.pem, DIR/admin.key) for `cairn admin`.
# An existing CA is reused, never overwritten. Keep ca.key offline once the
# certificates are issued: nodes need only ca.pem and their own pair.
# CAIRN names the binary (default: cairn on PATH).
set -eu
if [ $# -lt 3 ]; then
	sed -n '2,12p' "$0" >&2
	exit 2
fi
cairn=${CAIRN:-cairn}
dir=$1
cluster=$2
shift 2
mkdir -p "$dir"
if [ ! -f "$dir/ca.pem" ]; then
	"$cairn" admin ca init --dir "$dir" --cluster-id "$cluster"
fi
for spec in "$@"; do
	node=${spec%%:*}
	roles=${spec#*:}
	"$cairn" admin cert issue --ca-dir "$dir" --node-id "$node" --role "$roles" --host "$node" --out "$dir"
done
"$cairn" admin cert issue --ca-dir "$dir" --node-id admin --role admin --out "$dir"
# The files are read by the container's non-root user.
chmod 0644 "$dir"/*.pem
chmod 0640 "$dir"/*.key
