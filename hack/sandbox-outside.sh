# sandbox-outside.sh - the world outside the sandbox's cluster, sourced by
# hack/sandbox.sh; the same shape as test/harness's Underlay and
# ExternalHost, in network namespaces only (documentation ranges, nothing
# routed to or from the host's own namespace):
#
#   UL_NETNS    the underlay: a Linux bridge ul0 joining the node's uplink
#               and the external host
#   NODE_NETNS  the node's uplink: veth eth1, a port of the OVS bridge br-phy,
#               which carries NODE_IP (172.18.0.1/24); default route via EXT_IP
#   EXT_NETNS   the external host: EXT_IP (172.18.0.254) on the underlay,
#               198.51.100.1/24 towards the far host; forwards between them
#   FAR_NETNS   the far network, standing for the internet: 198.51.100.10/24,
#               203.0.113.10/32 on lo, default route via the external host;
#               a probe server (test/image/probe) on FAR_PORT (TCP and UDP)
#               answering every connection with the client address it saw
#
# Each namespace is recorded in RUN/outside.created once made, and "down"
# deletes only recorded ones.

# outside_vars: names and addresses, from NODE_NETNS unless set.
outside_vars() {
  : "${UL_NETNS:=$NODE_NETNS-ul}" "${EXT_NETNS:=$NODE_NETNS-ext}" "${FAR_NETNS:=$NODE_NETNS-far}"
  : "${FAR_PORT:=8080}"
  NODE_IP=172.18.0.1/24 EXT_IP=172.18.0.254
  FAR_IP=198.51.100.10 FAR_ALT_IP=203.0.113.10 FAR_GW=198.51.100.1
  OUTSIDE_RECORD=$RUN/outside.created
}

# outside_netns NAME: create a namespace for the outside world and record it;
# one that exists already must be ours from an earlier "up".
outside_netns() {
  if [ -e "/run/netns/$1" ]; then
    grep -qxF "$1" "$OUTSIDE_RECORD" 2>/dev/null ||
      die "network namespace $1 exists but this sandbox did not create it; pick other names with NODE_NETNS="
    return 1
  fi
  ip netns add "$1"
  echo "$1" >> "$OUTSIDE_RECORD"
  ip -n "$1" link set lo up
}

# The nodes' userspace datapath takes packets off a veth as they are, so
# the hosts outside compute their checksums themselves (tx offload off).
no_tx_offload() { ip netns exec "$1" ethtool -K "$2" tx off >/dev/null; }

start_underlay() {
  outside_netns "$UL_NETNS" || return 0
  ip -n "$UL_NETNS" link add ul0 type bridge
  ip -n "$UL_NETNS" link set ul0 up
}

start_far() {
  outside_netns "$FAR_NETNS" || return 0
  ip -n "$FAR_NETNS" addr add "$FAR_ALT_IP/32" dev lo
}

start_external() {
  outside_netns "$EXT_NETNS" || return 0
  ip netns exec "$EXT_NETNS" sysctl -q -w net.ipv4.ip_forward=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  ip -n "$EXT_NETNS" link add eth0 type veth peer name ext0 netns "$UL_NETNS"
  ip -n "$UL_NETNS" link set ext0 master ul0 up
  ip -n "$EXT_NETNS" addr add "$EXT_IP/24" dev eth0
  ip -n "$EXT_NETNS" link set eth0 up
  no_tx_offload "$EXT_NETNS" eth0
  ip -n "$EXT_NETNS" link add far0 type veth peer name eth0 netns "$FAR_NETNS"
  ip -n "$EXT_NETNS" addr add "$FAR_GW/24" dev far0
  ip -n "$EXT_NETNS" link set far0 up
  no_tx_offload "$EXT_NETNS" far0
  ip -n "$FAR_NETNS" addr add "$FAR_IP/24" dev eth0
  ip -n "$FAR_NETNS" link set eth0 up
  no_tx_offload "$FAR_NETNS" eth0
  ip -n "$FAR_NETNS" route add default via "$FAR_GW"
  ip -n "$EXT_NETNS" route add 203.0.113.0/24 via "$FAR_IP"
}

# start_uplink: the node's eth1 on br-phy with NODE_IP, as the harness's
# Underlay.Attach does; needs ovs-vswitchd running in NODE_NETNS.
start_uplink() {
  if ! ip -n "$NODE_NETNS" link show eth1 >/dev/null 2>&1; then
    ip -n "$NODE_NETNS" link add eth1 type veth peer name node0 netns "$UL_NETNS"
    ip -n "$UL_NETNS" link set node0 master ul0 up
    ip -n "$NODE_NETNS" link set eth1 up
  fi
  ovs-vsctl --db="$VSWITCH_DB" --timeout=10 --may-exist add-br br-phy \
    -- set Bridge br-phy datapath_type=netdev -- --may-exist add-port br-phy eth1
  ip -n "$NODE_NETNS" addr replace "$NODE_IP" dev br-phy
  ip -n "$NODE_NETNS" link set br-phy up
  ip -n "$NODE_NETNS" route replace default via "$EXT_IP" dev br-phy
}

# start_far_probe: the probe server in the far host, by PID like every daemon.
start_far_probe() {
  local bin=$D/bin/probe
  alive far-probe && return
  if [ ! -x "$bin" ]; then
    (cd "$REPO" && CGO_ENABLED=0 go build -trimpath -o "$bin" ./test/image/probe) || die "building $bin failed"
  fi
  background far-probe ip netns exec "$FAR_NETNS" "$bin" serve --tcp "$FAR_PORT" --udp "$FAR_PORT"
  waitfor 10 ip netns exec "$FAR_NETNS" "$bin" connect tcp "$FAR_IP:$FAR_PORT" ||
    die "the far probe server does not answer on $FAR_IP:$FAR_PORT; see $LOGD/far-probe.log"
}

start_outside() {
  outside_vars
  start_underlay
  start_far
  start_external
  start_uplink
  start_far_probe
  say "outside: node $NODE_IP on br-phy, external host $EXT_IP, far server $FAR_IP:$FAR_PORT and $FAR_ALT_IP:$FAR_PORT"
}

# stop_outside: after ovs-vswitchd is gone, before NODE_NETNS is deleted;
# the veths go with the namespaces, the underlay's last.
stop_outside() {
  outside_vars
  stop far-probe
  [ -f "$OUTSIDE_RECORD" ] || return 0
  local ns
  for ns in "$FAR_NETNS" "$EXT_NETNS" "$UL_NETNS"; do
    grep -qxF "$ns" "$OUTSIDE_RECORD" || continue
    if [ -e "/run/netns/$ns" ]; then
      ip netns delete "$ns" && say "deleted network namespace $ns"
    fi
  done
  rm -f "$OUTSIDE_RECORD"
}

show_outside() {
  outside_vars
  cat <<EOF
  outside: underlay $UL_NETNS (bridge ul0), the node's uplink br-phy $NODE_IP in $NODE_NETNS
    (its default route), external host $EXT_IP in $EXT_NETNS, far network in $FAR_NETNS:
    a probe server on $FAR_IP:$FAR_PORT and $FAR_ALT_IP:$FAR_PORT (TCP, UDP) answers with the client address it saw
      ip netns exec $NODE_NETNS $D/bin/probe connect tcp $FAR_IP:$FAR_PORT   # from the node: client=${NODE_IP%/*}
      ip netns exec $EXT_NETNS tcpdump -ni eth0 tcp port $FAR_PORT             # what the outside sees
EOF
}
