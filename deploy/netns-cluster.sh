#!/usr/bin/env bash
# netns-cluster.sh: an N-host layout on one machine, one network namespace
# per host, for multi-host tests (the chaos campaign of node/chaos uses it).
#
#   netns-cluster.sh check            can namespaces be made here? (exit 3 if not)
#   netns-cluster.sh up N             bridge + N namespaces, each with one address
#   netns-cluster.sh down             remove everything this script made (idempotent)
#   netns-cluster.sh exec NODE CMD…   run CMD inside NODE's namespace (exec: same PID)
#   netns-cluster.sh addr NODE        NODE's address
#   netns-cluster.sh ns NODE          NODE's namespace name
#   netns-cluster.sh veth NODE        NODE's veth end in the root namespace
#   netns-cluster.sh bridge           the bridge's name and address
#   netns-cluster.sh list             the namespaces that exist, one per line
#
# Layout: a bridge <prefix>br0 in the root namespace holding <subnet>.1/24;
# host NODE (1..200) is the namespace <prefix>-n<NODE>, whose interface eth0
# holds <subnet>.<10+NODE>/24 and is the peer of <prefix>v<NODE> on the
# bridge. Traffic stays on that bridge: no route, NAT or forwarding to any
# other network is set up.
#
# Every name starts with the prefix, so `down` removes only what `up` made:
# processes still running inside the namespaces (killed by PID), tmpfs
# mounts whose source is <prefix>-chaos (the chaos harness's small drives),
# the namespaces, the veths (with any qdisc on them), the bridge and the one
# FORWARD rule `up` adds when the root firewall drops forwarded traffic.
#
# Environment: CAIRN_NETNS_PREFIX (default cairn, [a-z0-9]{1,8}),
# CAIRN_NETNS_SUBNET (default 10.77.0: the first three octets of a /24 that
# nothing else on this machine uses). Needs root and iproute2.
set -euo pipefail

PREFIX=${CAIRN_NETNS_PREFIX:-cairn}
SUBNET=${CAIRN_NETNS_SUBNET:-10.77.0}
BRIDGE="${PREFIX}br0"
MAX_NODES=200

die() { echo "netns-cluster: $*" >&2; exit 1; }
# unavailable exits 3: callers (the chaos harness) fall back to loopback.
unavailable() { echo "netns-cluster: cannot create network namespaces: $*" >&2; exit 3; }

[[ $PREFIX =~ ^[a-z0-9]{1,8}$ ]] || die "CAIRN_NETNS_PREFIX must be 1-8 of [a-z0-9], got '$PREFIX'"
[[ $SUBNET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "CAIRN_NETNS_SUBNET must be three octets like 10.77.0, got '$SUBNET'"

ns_name() { echo "${PREFIX}-n$1"; }
veth_name() { echo "${PREFIX}v$1"; }
node_addr() { echo "${SUBNET}.$((10 + $1))"; }
fw_comment="${PREFIX}-netns"

check_node() {
	[[ ${1:-} =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= MAX_NODES)) || die "node must be 1..$MAX_NODES, got '${1:-}'"
}

require() {
	[ "$(id -u)" = 0 ] || unavailable "must run as root (running as uid $(id -u))"
	command -v ip >/dev/null || unavailable "the 'ip' command (iproute2) is not installed"
}

cmd_check() {
	require
	local probe="${PREFIX}-probe"
	ip netns del "$probe" 2>/dev/null || true
	if ! out=$(ip netns add "$probe" 2>&1); then
		unavailable "'ip netns add' failed: $out"
	fi
	ip netns del "$probe"
	if ! out=$(ip link add "${PREFIX}probe0" type bridge 2>&1); then
		unavailable "cannot create a bridge: $out"
	fi
	ip link del "${PREFIX}probe0"
	echo "netns-cluster: network namespaces available"
}

our_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PREFIX}-n[0-9]+$" || true; }
our_veths() { ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^${PREFIX}v[0-9]+$" || true; }

# subnet_taken fails when another interface already holds an address of
# the subnet: the layout would shadow (or be shadowed by) a real network.
subnet_free() {
	local other
	other=$(ip -o -4 addr show 2>/dev/null | awk -v b="$BRIDGE" -v s="${SUBNET}." '$2 != b && index($4, s) == 1 {print $2}' | head -1)
	[ -z "$other" ] || die "subnet ${SUBNET}.0/24 is already used by interface $other; set CAIRN_NETNS_SUBNET"
}

cmd_up() {
	require
	local n=${1:-}
	[[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= MAX_NODES)) || die "usage: up N (1..$MAX_NODES)"
	subnet_free
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge || unavailable "cannot create bridge $BRIDGE"
	fi
	ip addr replace "${SUBNET}.1/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	# Bridged traffic may pass the root FORWARD chain (br_netfilter); let it
	# through when that chain drops by default, with a rule `down` finds.
	if command -v iptables >/dev/null && iptables -S FORWARD 2>/dev/null | grep -q '^-P FORWARD DROP'; then
		iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$fw_comment" -j ACCEPT 2>/dev/null ||
			iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$fw_comment" -j ACCEPT
	fi
	local i ns veth
	for ((i = 1; i <= n; i++)); do
		ns=$(ns_name "$i")
		veth=$(veth_name "$i")
		if ! ip netns list | awk '{print $1}' | grep -qx "$ns"; then
			ip netns add "$ns" || unavailable "'ip netns add $ns' failed"
		fi
		if ! ip link show "$veth" >/dev/null 2>&1; then
			ip link add "$veth" type veth peer name "${veth}p"
			ip link set "${veth}p" netns "$ns"
			ip -n "$ns" link set "${veth}p" name eth0
		fi
		ip link set "$veth" master "$BRIDGE"
		ip link set "$veth" up
		ip -n "$ns" addr replace "$(node_addr "$i")/24" dev eth0
		ip -n "$ns" link set lo up
		ip -n "$ns" link set eth0 up
	done
	echo "netns-cluster: $n namespaces on $BRIDGE (${SUBNET}.1/24), nodes ${SUBNET}.11..${SUBNET}.$((10 + n))"
}

cmd_down() {
	# Without root or ip there is nothing this script could have made.
	[ "$(id -u)" = 0 ] && command -v ip >/dev/null || return 0
	local ns pids mnt veth
	for ns in $(our_namespaces); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086
			kill -CONT $pids 2>/dev/null || true
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
		fi
	done
	for ns in $(our_namespaces); do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			[ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ] && break
			sleep 0.2
		done
	done
	# tmpfs drives of the chaos harness, found by their source name.
	for mnt in $(awk -v src="${PREFIX}-chaos" '$1 == src {print $2}' /proc/mounts); do
		umount -l "$(printf '%b' "$mnt")" 2>/dev/null || true
	done
	for ns in $(our_namespaces); do
		ip netns del "$ns" 2>/dev/null || true
	done
	for veth in $(our_veths); do
		ip link del "$veth" 2>/dev/null || true
	done
	ip link del "$BRIDGE" 2>/dev/null || true
	if command -v iptables >/dev/null; then
		while iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$fw_comment" -j ACCEPT 2>/dev/null; do :; done
	fi
	return 0
}

cmd_exec() {
	local node=${1:-}
	check_node "$node"
	shift
	[ $# -gt 0 ] || die "usage: exec NODE CMD [ARGS…]"
	require
	exec ip netns exec "$(ns_name "$node")" "$@"
}

usage() {
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

case "${1:-}" in
check) cmd_check ;;
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
exec) shift; cmd_exec "$@" ;;
addr) check_node "${2:-}"; node_addr "$2" ;;
ns) check_node "${2:-}"; ns_name "$2" ;;
veth) check_node "${2:-}"; veth_name "$2" ;;
bridge) echo "$BRIDGE ${SUBNET}.1" ;;
list) our_namespaces ;;
*) usage ;;
esac
