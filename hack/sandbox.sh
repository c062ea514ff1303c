#!/usr/bin/env bash
# sandbox.sh - a local ovnet cluster on this machine, for trying the
# annotations by hand and for running pods on a real node:
#
#   control plane  etcd, kube-apiserver, OVN central (NB, SB, ovn-northd),
#                  ovnet-controller, kube-controller-manager, kube-scheduler
#   node           "localhost": containerd (own root, state and socket),
#                  kubelet (cgroupfs, own cgroup root), and in the network
#                  namespace NODE_NETNS an Open vSwitch with the userspace
#                  datapath (ovsdb-server, ovs-vswitchd) and ovn-controller;
#                  ovnet-daemon (host namespace, network work in NODE_NETNS)
#                  when DIR/bin/ovnet-daemon and DIR/bin/ovnet exist
#   outside        (hack/sandbox-outside.sh) the node's uplink eth1 on OVS
#                  bridge br-phy with 172.18.0.1/24 (its encap address and
#                  default route) on an underlay bridge, an external host
#                  172.18.0.254 routing to a far network (198.51.100.0/24,
#                  203.0.113.0/24) where a probe server answers on port 8080
#                  with the client address it saw; all in network namespaces
#
# Everything listens on 127.0.0.1 or on unix sockets under DIR; the host
# namespace gets no bridge, route or tap (the outside world lives in
# namespaces of its own, in documentation ranges). The images registry.k8s.io/pause:3.10
# and local.test/tools:1 (/pause, /probe, busybox) are built by
# hack/images.sh into DIR/images and imported into containerd; no registry
# is used. yamls/examples/ is applied at the end (unless EXAMPLES=0).
#
# Usage:
#   hack/sandbox.sh up DIR       start what is not running yet, apply the examples, show the result
#   hack/sandbox.sh down DIR     stop what "up" started (by recorded PID), delete pods, state,
#                                network namespace, mounts and cgroups; keep logs
#   hack/sandbox.sh status DIR   show the daemons, the node and the Kubernetes -> OVN mapping
#
# `make sandbox` builds DIR/bin/ovnet-controller (and ovnet-daemon + the
# ovnet CNI plugin if cmd/daemon and cmd/cni build) and runs "up"; `make
# sandbox-down` runs "down". Without the daemon the node registers but has no
# CNI network: it stays NotReady and pods other than hostNetwork ones stay
# Pending, addressed by the controller all the same.
#
# Environment (read by "up"; "down" and "status" use what "up" recorded in
# DIR/sandbox.env):
#   KUBE_BIN=$HOME/.cache/ovnet/k8s-1.36.3/bin   etcd, kube-apiserver, kubectl, kube-controller-manager,
#                                                kube-scheduler, kubelet
#   ETCD_PORT=23790 ETCD_PEER_PORT=ETCD_PORT+10  etcd clients and peers
#   API_PORT=26443      kube-apiserver
#   NB_PORT=6641 SB_PORT=6642                    OVN NB/SB on 127.0.0.1
#   METRICS_PORT=10660 PROBE_PORT=10661          ovnet-controller
#   KCM_PORT=26257 SCHEDULER_PORT=26259          kube-controller-manager, kube-scheduler (https)
#   KUBELET_PORT=26250 KUBELET_HEALTHZ_PORT=26248
#   DAEMON_METRICS_PORT=10662 DAEMON_PROBE_PORT=10663   ovnet-daemon /metrics, /healthz and /readyz
#   NODE=1              0: control plane only (no kube-controller-manager, scheduler or node)
#   NODE_NETNS=ovnet-sbx-<id>   network namespace of the node's OVS, ovn-controller and pod ports
#                       (<id>: 8 hex digits derived from DIR, so two sandboxes never share it;
#                       the same id names containerd's state /run/ovnet-sbx-<id> and the
#                       kubelet's cgroup root /ovnet-sbx-<id>)
#   UL_NETNS=NODE_NETNS-ul EXT_NETNS=NODE_NETNS-ext FAR_NETNS=NODE_NETNS-far
#                       network namespaces of the underlay, the external host and the far network
#   FAR_PORT=8080       the far probe server's TCP and UDP port
#   CONTROLLER_ARGS=    extra flags for ovnet-controller
#   DAEMON_ARGS=        extra flags for ovnet-daemon
#   EXAMPLES=1          0: apply no examples (the node still has to go Ready)
#   WAIT_TIMEOUT=60     seconds to wait for the examples to be addressed (and Running)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
NB_SCHEMA=/usr/share/ovn/ovn-nb.ovsschema
SB_SCHEMA=/usr/share/ovn/ovn-sb.ovsschema
VSWITCH_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
# Matches the controller's default --service-cidr, so no subnet overlaps it.
SERVICE_CIDR=10.96.0.0/12
SERVICE_IP=10.96.0.1
# "localhost": the apiserver reaches the kubelet (logs, exec) through the
# node's Hostname address, which resolves to 127.0.0.1 where it listens.
NODE_NAME=localhost
# Debian's loopback plugin: containerd 1.6 runs it for every pod's lo
# besides the configured network, from the same bin_dir.
LOOPBACK_PLUGIN=/usr/lib/cni/loopback
# shellcheck source=hack/sandbox-outside.sh
. "$REPO/hack/sandbox-outside.sh"

die() { echo "sandbox: $*" >&2; exit 1; }
say() { echo "sandbox: $*"; }
warn() { echo "sandbox: WARNING: $*" >&2; }

# setdirs DIR: the layout under DIR, and the settings "up" recorded there.
setdirs() {
  [ -n "${1:-}" ] || die "missing DIR (usage: $0 up|down|status DIR)"
  mkdir -p "$1"
  D=$(cd "$1" && pwd)
  PKI=$D/pki RUN=$D/run OVND=$D/ovn OVSD=$D/ovs LOGD=$D/log CNID=$D/cni
  mkdir -p "$PKI" "$RUN" "$OVND" "$OVSD" "$LOGD"
  if [ -f "$D/sandbox.env" ]; then . "$D/sandbox.env"; fi
  local id
  id=$(printf %s "$D" | sha256sum | cut -c1-8)
  : "${KUBE_BIN:=$HOME/.cache/ovnet/k8s-1.36.3/bin}"
  : "${ETCD_PORT:=23790}" "${ETCD_PEER_PORT:=$((ETCD_PORT + 10))}" "${API_PORT:=26443}" "${NB_PORT:=6641}" "${SB_PORT:=6642}"
  : "${METRICS_PORT:=10660}" "${PROBE_PORT:=10661}"
  : "${KCM_PORT:=26257}" "${SCHEDULER_PORT:=26259}"
  : "${KUBELET_PORT:=26250}" "${KUBELET_HEALTHZ_PORT:=26248}" "${DAEMON_METRICS_PORT:=10662}"
  : "${DAEMON_PROBE_PORT:=10663}"
  : "${NODE:=1}" "${NODE_NETNS:=ovnet-sbx-$id}"
  : "${CTRD_STATE:=/run/ovnet-sbx-$id}" "${CGROUP_ROOT:=/ovnet-sbx-$id}"
  export KUBECONFIG=$D/kubeconfig
  # ovn-appctl/ovs-appctl find control sockets here; ovn-controller finds
  # ovs-vswitchd's br-int.mgmt in OVS_RUNDIR.
  export OVN_RUNDIR=$OVND OVS_RUNDIR=$OVSD
  NB_DB=unix:$OVND/ovnnb_db.sock
  SB_DB=unix:$OVND/ovnsb_db.sock
  VSWITCH_DB=unix:$OVSD/db.sock
  CTRD_SOCK=$CTRD_STATE/containerd.sock
  KUBECTL=$KUBE_BIN/kubectl
  outside_vars
}

record_env() {
  cat > "$D/sandbox.env" <<EOF
KUBE_BIN=$KUBE_BIN
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
API_PORT=$API_PORT
NB_PORT=$NB_PORT
SB_PORT=$SB_PORT
METRICS_PORT=$METRICS_PORT
PROBE_PORT=$PROBE_PORT
KCM_PORT=$KCM_PORT
SCHEDULER_PORT=$SCHEDULER_PORT
KUBELET_PORT=$KUBELET_PORT
KUBELET_HEALTHZ_PORT=$KUBELET_HEALTHZ_PORT
DAEMON_METRICS_PORT=$DAEMON_METRICS_PORT
DAEMON_PROBE_PORT=$DAEMON_PROBE_PORT
NODE=$NODE
NODE_NETNS=$NODE_NETNS
CTRD_STATE=$CTRD_STATE
CGROUP_ROOT=$CGROUP_ROOT
UL_NETNS=$UL_NETNS
EXT_NETNS=$EXT_NETNS
FAR_NETNS=$FAR_NETNS
FAR_PORT=$FAR_PORT
EOF
}

# Every daemon: name, pidfile, and the command name its /proc entry must
# show, so a PID reused by another program is never signalled. Listed in
# the order "down" stops them.
CONTROL_DAEMONS="ovnet-controller ovn-northd ovnsb_db ovnnb_db kube-apiserver etcd"
NODE_DAEMONS="kube-scheduler kube-controller-manager kubelet ovnet-daemon containerd ovn-controller ovs-vswitchd vswitch_db far-probe"
daemons() {
  if [ "$NODE" = 1 ]; then echo "$NODE_DAEMONS $CONTROL_DAEMONS"; else echo "$CONTROL_DAEMONS"; fi
}
pidfile() {
  case $1 in
    ovn-northd|ovnsb_db|ovnnb_db|ovn-controller) echo "$OVND/$1.pid" ;;
    ovs-vswitchd|vswitch_db) echo "$OVSD/$1.pid" ;;
    *) echo "$RUN/$1.pid" ;;
  esac
}
comm_of() {
  case $1 in
    ovnsb_db|ovnnb_db|vswitch_db) echo ovsdb-server ;;
    far-probe) echo probe ;;
    *) echo "$1" ;;
  esac
}

# pid_of NAME: the recorded PID if that process is alive and is what we
# started; nothing otherwise.
pid_of() {
  local pf pid comm
  pf=$(pidfile "$1")
  pid=$(cat "$pf" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && ! exited "$pid" || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  # /proc/PID/comm is cut at 15 characters.
  [ "$comm" = "$(comm_of "$1" | cut -c1-15)" ] || return 1
  echo "$pid"
}
alive() { pid_of "$1" >/dev/null; }

waitfor() { # SECONDS COMMAND...: poll every 0.25s until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.25
  done
}

port_free() { [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
need_port() { # PORT WHAT
  port_free "$1" || die "port $1 ($2) is already in use by another program; pick another with the environment (see '$0' header) or stop that program"
}

# background NAME COMMAND...: start a daemon that does not detach by itself,
# immune to the terminal's hangup, with its log and pidfile under DIR.
background() {
  local name=$1; shift
  echo "=== sandbox: starting $name at $(date -u +%FT%TZ)" >>"$LOGD/$name.log"
  ( trap '' HUP; exec "$@" </dev/null >>"$LOGD/$name.log" 2>&1 ) &
  echo $! > "$(pidfile "$name")"
}

make_pki() {
  [ -f "$PKI/admin.crt" ] && return
  say "generating certificates in $PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=ovnet-sandbox-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' \
      "$SERVICE_IP" > apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out apiserver.crt -days 3650 -extfile apiserver.ext 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=sandbox-admin" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > client.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out admin.crt -days 3650 -extfile client.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext
  )
}

# client_cert NAME SUBJECT: PKI/NAME.{crt,key}, a client certificate of the sandbox CA.
client_cert() {
  [ -f "$PKI/$1.crt" ] && return
  (
    cd "$PKI"
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out "$1.crt" -days 3650 -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  )
}

# kubeconfig_for FILE CERT-NAME: a kubeconfig with PKI/CERT-NAME's identity.
kubeconfig_for() {
  local kc=$1 cert=$PKI/$2.crt key=$PKI/$2.key
  "$KUBECTL" config --kubeconfig="$kc" set-cluster sandbox --server="https://127.0.0.1:$API_PORT" \
    --certificate-authority="$PKI/ca.crt" --embed-certs >/dev/null
  "$KUBECTL" config --kubeconfig="$kc" set-credentials "$2" \
    --client-certificate="$cert" --client-key="$key" --embed-certs >/dev/null
  "$KUBECTL" config --kubeconfig="$kc" set-context sandbox --cluster=sandbox --user="$2" >/dev/null
  "$KUBECTL" config --kubeconfig="$kc" use-context sandbox >/dev/null
}

write_kubeconfig() { kubeconfig_for "$KUBECONFIG" admin; }

start_etcd() {
  alive etcd && return
  need_port "$ETCD_PORT" "etcd clients"; need_port "$ETCD_PEER_PORT" "etcd peers"
  local peer=http://127.0.0.1:$ETCD_PEER_PORT
  # No fsync: the sandbox holds nothing worth a disk flush.
  background etcd "$KUBE_BIN/etcd" --name=sandbox --data-dir="$D/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="$peer" --initial-advertise-peer-urls="$peer" --initial-cluster="sandbox=$peer" \
    --unsafe-no-fsync=true
  waitfor 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health" || die "etcd did not start; see $LOGD/etcd.log"
}

start_apiserver() {
  alive kube-apiserver && return
  need_port "$API_PORT" kube-apiserver
  # ServiceAccount admission is off: pods need no token here, and with it on
  # the examples would race kube-controller-manager creating each
  # namespace's "default" ServiceAccount (and fail without it when NODE=0).
  # The endpoint reconciler is off: it refuses a loopback advertise address.
  # The Node authorizer lets the kubelet (system:node:localhost) work; the
  # kubelet client certificate lets kubectl logs/exec reach the kubelet.
  background kube-apiserver "$KUBE_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --endpoint-reconciler-type=none \
    --disable-admission-plugins=ServiceAccount \
    --kubelet-client-certificate="$PKI/admin.crt" --kubelet-client-key="$PKI/admin.key" \
    --authorization-mode=Node,RBAC --allow-privileged=true
  waitfor 60 "$KUBECTL" get --raw /readyz || die "kube-apiserver not ready; see $LOGD/kube-apiserver.log"
}

# start_ovsdb NAME SCHEMA PORT: one OVN database server, unix socket and
# control socket in DIR/ovn, TCP on loopback.
start_ovsdb() {
  local name=$1 schema=$2 port=$3
  alive "$name" && return
  need_port "$port" "$name"
  [ -f "$OVND/$name.db" ] || ovsdb-tool create "$OVND/$name.db" "$schema"
  ovsdb-server "$OVND/$name.db" \
    --remote="punix:$OVND/$name.sock" --remote="ptcp:$port:127.0.0.1" \
    --unixctl="$OVND/$name.ctl" --pidfile="$(pidfile "$name")" \
    -vconsole:off --log-file="$LOGD/$name.log" --detach --no-chdir
  waitfor 10 test -S "$OVND/$name.sock" || die "$name did not create its socket; see $LOGD/$name.log"
}

start_ovn() {
  start_ovsdb ovnnb_db "$NB_SCHEMA" "$NB_PORT"
  start_ovsdb ovnsb_db "$SB_SCHEMA" "$SB_PORT"
  ovn-nbctl --db="$NB_DB" --timeout=10 --no-wait init
  alive ovn-northd && return
  ovn-northd --ovnnb-db="$NB_DB" --ovnsb-db="$SB_DB" \
    --unixctl="$OVND/ovn-northd.ctl" --pidfile="$(pidfile ovn-northd)" \
    -vconsole:off --log-file="$LOGD/ovn-northd.log" --detach --no-chdir
}

start_controller() {
  local bin=$D/bin/ovnet-controller
  alive ovnet-controller && return
  [ -x "$bin" ] || die "$bin not found: build it with 'make sandbox' (or go build -o $bin ./cmd/controller)"
  need_port "$METRICS_PORT" "controller metrics"; need_port "$PROBE_PORT" "controller probes"
  # shellcheck disable=SC2086 # CONTROLLER_ARGS is a list of flags
  background ovnet-controller "$bin" --kubeconfig="$KUBECONFIG" --nb-address="$NB_DB" \
    --leader-elect=false \
    --metrics-bind-address="127.0.0.1:$METRICS_PORT" \
    --health-probe-bind-address="127.0.0.1:$PROBE_PORT" ${CONTROLLER_ARGS:-}
  if ! waitfor 60 curl -sf "http://127.0.0.1:$PROBE_PORT/readyz"; then
    alive ovnet-controller || die "ovnet-controller exited; see $LOGD/ovnet-controller.log"
    die "ovnet-controller not ready after 60s; see $LOGD/ovnet-controller.log"
  fi
}

# --- the node ---------------------------------------------------------------

start_kube_controllers() {
  client_cert kube-controller-manager "/CN=system:kube-controller-manager"
  client_cert kube-scheduler "/CN=system:kube-scheduler"
  kubeconfig_for "$D/kube-controller-manager.kubeconfig" kube-controller-manager
  kubeconfig_for "$D/kube-scheduler.kubeconfig" kube-scheduler
  if ! alive kube-controller-manager; then
    need_port "$KCM_PORT" kube-controller-manager
    local kc=$D/kube-controller-manager.kubeconfig
    background kube-controller-manager "$KUBE_BIN/kube-controller-manager" --kubeconfig="$kc" \
      --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
      --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
      --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
      --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
      --use-service-account-credentials=true --controllers='*'
  fi
  if ! alive kube-scheduler; then
    need_port "$SCHEDULER_PORT" kube-scheduler
    local kc=$D/kube-scheduler.kubeconfig
    background kube-scheduler "$KUBE_BIN/kube-scheduler" --kubeconfig="$kc" \
      --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
      --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false
  fi
}

# The node's network namespace; "down" deletes it only if "up" created it.
start_netns() {
  if [ -e "/run/netns/$NODE_NETNS" ]; then
    [ "$(cat "$RUN/netns.created" 2>/dev/null)" = "$NODE_NETNS" ] ||
      die "network namespace $NODE_NETNS exists but this sandbox did not create it; pick another with NODE_NETNS="
    return
  fi
  ip netns add "$NODE_NETNS"
  echo "$NODE_NETNS" > "$RUN/netns.created"
  ip -n "$NODE_NETNS" link set lo up
}

# Open vSwitch of the node: its database on a unix socket in DIR/ovs, and
# ovs-vswitchd with the userspace datapath inside NODE_NETNS (it creates its
# taps, ovs-netdev and br-int, in the namespace it runs in).
start_ovs() {
  if ! alive vswitch_db; then
    [ -f "$OVSD/conf.db" ] || ovsdb-tool create "$OVSD/conf.db" "$VSWITCH_SCHEMA"
    ovsdb-server "$OVSD/conf.db" \
      --remote="punix:$OVSD/db.sock" --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
      --unixctl="$OVSD/vswitch_db.ctl" --pidfile="$(pidfile vswitch_db)" \
      -vconsole:off --log-file="$LOGD/vswitch_db.log" --detach --no-chdir
    waitfor 10 test -S "$OVSD/db.sock" || die "vswitch_db did not create its socket; see $LOGD/vswitch_db.log"
  fi
  alive ovs-vswitchd && return
  # TSO off: the daemon turns tx offload off in pods instead (DESIGN.md §6).
  ovs-vsctl --db="$VSWITCH_DB" --timeout=10 --no-wait init \
    -- set Open_vSwitch . other_config:userspace-tso-enable=false
  ip netns exec "$NODE_NETNS" ovs-vswitchd "$VSWITCH_DB" --disable-system \
    --pidfile="$(pidfile ovs-vswitchd)" \
    -vconsole:off --log-file="$LOGD/ovs-vswitchd.log" --detach --no-chdir
}

# The ovnet daemon, if it is built: it configures the node (br-int, ovn0,
# Open_vSwitch external_ids), serves CNI and installs the plugin and
# DIR/cni/net.d/01-ovnet.conflist.
start_daemon() {
  local bin=$D/bin/ovnet-daemon plugin=$D/bin/ovnet
  alive ovnet-daemon && return
  if [ ! -x "$bin" ] || [ ! -x "$plugin" ]; then
    warn "$bin or $plugin not built (cmd/daemon, cmd/cni; 'make sandbox' builds them when they compile):" \
      "the node runs without the ovnet daemon, so it has no CNI network, stays NotReady and only hostNetwork pods run"
    return
  fi
  need_port "$DAEMON_METRICS_PORT" "daemon metrics"; need_port "$DAEMON_PROBE_PORT" "daemon probes"
  client_cert ovnet-daemon "/O=system:masters/CN=ovnet-daemon"
  kubeconfig_for "$D/ovnet-daemon.kubeconfig" ovnet-daemon
  # shellcheck disable=SC2086 # DAEMON_ARGS is a list of flags
  background ovnet-daemon "$bin" --kubeconfig="$D/ovnet-daemon.kubeconfig" \
    --node-name="$NODE_NAME" --ovs-db="$VSWITCH_DB" --netns="/run/netns/$NODE_NETNS" \
    --datapath-type=netdev --socket="$RUN/daemon.sock" \
    --cni-bin-dir="$CNID/bin" --cni-conf-dir="$CNID/net.d" --cni-plugin="$plugin" \
    --ovn-remote="$SB_DB" --encap-ip="${NODE_IP%/*}" --enable-mirror --ovn-rundir="$OVND" \
    --metrics-address="127.0.0.1:$DAEMON_METRICS_PORT" --health-probe-address="127.0.0.1:$DAEMON_PROBE_PORT" \
    --mtu=1400 ${DAEMON_ARGS:-}
  if ! waitfor 30 test -S "$RUN/daemon.sock"; then
    if alive ovnet-daemon; then
      warn "ovnet-daemon has no socket $RUN/daemon.sock after 30s; see $LOGD/ovnet-daemon.log"
    else
      warn "ovnet-daemon exited; the node runs without it. Last lines of $LOGD/ovnet-daemon.log:"
      tail -5 "$LOGD/ovnet-daemon.log" >&2
    fi
  fi
}

# ovn-controller in NODE_NETNS, talking to the SB over its unix socket (the
# SB's TCP port on the host's 127.0.0.1 is not reachable from there). When
# the daemon is absent, set the few Open_vSwitch external_ids ovn-controller
# needs to register the chassis; otherwise that is the daemon's job.
start_ovn_controller() {
  if ! alive ovnet-daemon; then
    ovs-vsctl --db="$VSWITCH_DB" --timeout=10 set Open_vSwitch . \
      external_ids:system-id="$NODE_NAME" external_ids:hostname="$NODE_NAME" \
      external_ids:ovn-remote="$SB_DB" external_ids:ovn-encap-type=geneve \
      external_ids:ovn-encap-ip="${NODE_IP%/*}" external_ids:ovn-bridge-datapath-type=netdev
  fi
  if ! alive ovn-controller; then
    ip netns exec "$NODE_NETNS" ovn-controller "$VSWITCH_DB" \
      --pidfile="$(pidfile ovn-controller)" \
      -vconsole:off --log-file="$LOGD/ovn-controller.log" --detach --no-chdir
  fi
  waitfor 30 chassis_registered || warn "chassis $NODE_NAME is not in the SB after 30s; see $LOGD/ovn-controller.log"
}

chassis_registered() {
  [ -n "$(ovn-sbctl --db="$SB_DB" --timeout=5 --bare --columns=name find Chassis name="$NODE_NAME")" ]
}

# The kubelet's cgroup root exists in every hierarchy (cpuset needs its
# cpus and mems copied: a new v1 cpuset starts empty).
make_cgroup_root() {
  local h
  for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [ -f "$h/cgroup.procs" ] || continue
    mkdir -p "$h$CGROUP_ROOT"
    if [ -f "$h/cpuset.cpus" ] && [ -z "$(cat "$h$CGROUP_ROOT/cpuset.cpus")" ]; then
      cat "$h/cpuset.cpus" > "$h$CGROUP_ROOT/cpuset.cpus"
      cat "$h/cpuset.mems" > "$h$CGROUP_ROOT/cpuset.mems"
    fi
  done
}

remove_cgroup_root() {
  local h
  for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [ -d "$h$CGROUP_ROOT" ] || continue
    find "$h$CGROUP_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null ||
      warn "could not remove cgroup $h$CGROUP_ROOT (processes left in it?)"
  done
}

start_containerd() {
  mkdir -p "$CNID/bin" "$CNID/net.d" "$CTRD_STATE" "$D/containerd"
  # Not a CNI config: containerd runs this plugin for each pod's lo.
  cp "$LOOPBACK_PLUGIN" "$CNID/bin/loopback"
  if ! alive containerd; then
    # Shims put their sockets in /run/containerd/s whatever the state
    # directory; "down" removes those directories if this sandbox made them.
    [ -e /run/containerd ] || echo /run/containerd > "$RUN/run-containerd.created"
    cat > "$D/containerd.toml" <<EOF
version = 2
root = "$D/containerd"
state = "$CTRD_STATE"
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  enable_selinux = false
  # No CAP_SYS_RESOURCE on our machines: runc cannot lower oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$CTRD_STATE/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNID/bin"
    conf_dir = "$CNID/net.d"
EOF
    date +%s > "$RUN/containerd.started"
    background containerd containerd --config "$D/containerd.toml"
    waitfor 30 ctr --address "$CTRD_SOCK" version || die "containerd did not start; see $LOGD/containerd.log"
  fi
  local tar
  wait_images || die "building the images failed: hack/images.sh $D/images; see $LOGD/images.log"
  for tar in $(cat "$RUN/images.out"); do
    ctr --address "$CTRD_SOCK" -n k8s.io images import "$tar" >/dev/null ||
      die "importing $tar into containerd failed; see $LOGD/containerd.log"
  done
}

# build_images starts hack/images.sh in the background, so the images are
# built while the control plane starts; wait_images waits for it.
IMAGES_PID=
build_images() {
  "$REPO/hack/images.sh" "$D/images" >"$RUN/images.out" 2>"$LOGD/images.log" &
  IMAGES_PID=$!
}
wait_images() {
  [ -n "$IMAGES_PID" ] || build_images
  wait "$IMAGES_PID" || { cat "$LOGD/images.log" >&2; return 1; }
}

start_kubelet() {
  alive kubelet && return
  need_port "$KUBELET_PORT" kubelet; need_port "$KUBELET_HEALTHZ_PORT" "kubelet healthz"
  client_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  kubeconfig_for "$D/kubelet.kubeconfig" kubelet
  make_cgroup_root
  mkdir -p "$D/kubelet" "$D/pod-logs"
  # failCgroupV1=false: our machines run cgroup v1. Authentication by the
  # sandbox CA, so the apiserver (admin certificate) reaches logs and exec.
  cat > "$D/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
containerRuntimeEndpoint: unix://$CTRD_SOCK
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
podLogsDir: $D/pod-logs
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: AlwaysAllow}
podPidsLimit: -1
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
registerNode: true
EOF
  # A PATH without /usr/sbin hides iptables: nothing here needs the
  # kubelet's canary chains (no kube-proxy), and they would outlive "down"
  # in the host's tables.
  background kubelet env PATH=/usr/local/bin:/usr/bin:/bin "$KUBE_BIN/kubelet" --config="$D/kubelet.yaml" \
    --kubeconfig="$D/kubelet.kubeconfig" --root-dir="$D/kubelet" \
    --hostname-override="$NODE_NAME" --v=2
  waitfor 60 "$KUBECTL" get node "$NODE_NAME" ||
    die "node $NODE_NAME did not register after 60s; see $LOGD/kubelet.log"
}

start_node() {
  for tool in containerd ctr ip ethtool sysctl ovs-vswitchd ovs-vsctl ovn-controller ovn-sbctl umoci skopeo go; do
    command -v "$tool" >/dev/null || die "$tool not found (make deps installs it; NODE=0 runs the control plane only)"
  done
  for tool in kube-controller-manager kube-scheduler kubelet; do
    [ -x "$KUBE_BIN/$tool" ] || die "$KUBE_BIN/$tool not found (make tools builds it; NODE=0 runs the control plane only)"
  done
  [ -x "$LOOPBACK_PLUGIN" ] || die "$LOOPBACK_PLUGIN not found (Debian package containernetworking-plugins; make deps)"
  start_kube_controllers
  start_netns
  start_ovs
  start_outside
  start_daemon
  start_ovn_controller
  start_containerd
  start_kubelet
  say "node $NODE_NAME registered (OVS and ovn-controller in network namespace $NODE_NETNS)"
}

# wait_examples: every pod the examples created carries allocated=true.
wait_examples() {
  local timeout=${WAIT_TIMEOUT:-60} pending
  local deadline=$((SECONDS + timeout))
  while :; do
    pending=$("$KUBECTL" get pods -A --no-headers \
      -o custom-columns='NS:.metadata.namespace,NAME:.metadata.name,A:.metadata.annotations.ovn\.kubernetes\.io/allocated' \
      | awk '$3 != "true" {print $1 "/" $2}')
    [ -z "$pending" ] && break
    if [ $SECONDS -ge $deadline ]; then
      echo "sandbox: after ${timeout}s these pods have no address yet:" $pending >&2
      echo "sandbox: see 'kubectl describe pod' events and $LOGD/ovnet-controller.log" >&2
      return 1
    fi
    sleep 0.2
  done
  # Subnet usage is written at most once a second; give it that long to
  # catch up so the table below shows it.
  waitfor 5 usage_caught_up "$("$KUBECTL" get pods -A --no-headers | wc -l)" || true
}

# wait_running: with the daemon, the node goes Ready (its CNI config exists)
# and the examples' pods run; StatefulSet pods come one after the other.
wait_running() {
  local timeout=${WAIT_TIMEOUT:-60} sts
  "$KUBECTL" wait --for=condition=Ready "node/$NODE_NAME" --timeout="${timeout}s" >/dev/null ||
    { warn "node $NODE_NAME not Ready after ${timeout}s; see $LOGD/kubelet.log and $LOGD/ovnet-daemon.log"; return 1; }
  for sts in $("$KUBECTL" get statefulsets -A --no-headers -o custom-columns='NS:.metadata.namespace,N:.metadata.name' | awk '{print $1 "/" $2}'); do
    "$KUBECTL" rollout status -n "${sts%/*}" "statefulset/${sts#*/}" --timeout="${timeout}s" >/dev/null ||
      warn "statefulset $sts not rolled out after ${timeout}s"
  done
  [ -n "$("$KUBECTL" get pods -A --no-headers 2>/dev/null)" ] || return 0
  "$KUBECTL" wait --for=condition=Ready pods --all -A --timeout="${timeout}s" >/dev/null ||
    { warn "some pods are not Ready after ${timeout}s: see 'kubectl describe pod' and $LOGD/kubelet.log"; return 1; }
}

# usage_caught_up N: the subnets' status counts at least N used addresses.
usage_caught_up() {
  local used
  used=$("$KUBECTL" get subnets -o jsonpath='{range .items[*]}{.status.usedIPs} {end}' |
    awk '{for (i = 1; i <= NF; i++) s += $i} END {print s + 0}')
  [ "$used" -ge "$1" ]
}

show_mapping() {
  echo "== Subnets (kubectl get subnets)"
  "$KUBECTL" get subnets
  echo
  if [ "$NODE" = 1 ]; then
    echo "== Node"
    "$KUBECTL" get nodes -o wide
    echo
    echo "== Pods and their addresses"
    if ! alive ovnet-daemon; then
      echo "   (no ovnet daemon: the node has no CNI network, so pods stay Pending; that is expected)"
    fi
  else
    echo "== Pods and their addresses (no node and no scheduler here: pods stay Pending, that is expected)"
  fi
  "$KUBECTL" get pods -A -o custom-columns='NAMESPACE:.metadata.namespace,NAME:.metadata.name,STATUS:.status.phase,SWITCH:.metadata.annotations.ovn\.kubernetes\.io/logical_switch,IP:.metadata.annotations.ovn\.kubernetes\.io/ip_address,MAC:.metadata.annotations.ovn\.kubernetes\.io/mac_address,ALLOCATED:.metadata.annotations.ovn\.kubernetes\.io/allocated,POD-IP:.status.podIP'
  echo
  echo "== OVN northbound (ovn-nbctl show): one switch per subnet, one port per pod, the cluster router"
  ovn-nbctl --db="$NB_DB" --timeout=10 show
}

show_usage() {
  cat <<EOF

== Using the sandbox
  export KUBECONFIG=$KUBECONFIG
  export OVN_NB_DB=$NB_DB OVN_SB_DB=$SB_DB   # or tcp:127.0.0.1:$NB_PORT / tcp:127.0.0.1:$SB_PORT
  export PATH=$KUBE_BIN:\$PATH
  kubectl get subnets; kubectl apply -f yamls/examples/; ovn-nbctl show
  logs: $LOGD   controller metrics: http://127.0.0.1:$METRICS_PORT/metrics
EOF
  if [ "$NODE" = 1 ]; then
    cat <<EOF
  node $NODE_NAME: OVS + ovn-controller in network namespace $NODE_NETNS
    export OVS_RUNDIR=$OVSD OVN_RUNDIR=$OVND
    ovs-vsctl --db=$VSWITCH_DB show; ovn-sbctl show; ip netns exec $NODE_NETNS ip addr
    ovs-appctl -t ovs-vswitchd ...; ovn-appctl -t ovn-controller ...
    containerd: ctr --address $CTRD_SOCK -n k8s.io images ls
    test pods: image local.test/tools:1, imagePullPolicy: Never, e.g.
      command: ["/probe", "serve", "--tcp", "80", "--udp", "80"]
      kubectl exec POD -- /probe connect tcp IP:80
      kubectl exec POD -- ping -c 3 IP
    pod traffic (daemon --enable-mirror): ip netns exec $NODE_NETNS tcpdump -ni mirror0 icmp
EOF
    show_outside
  else
    cat <<EOF
  Only the control plane runs here (NODE=0: no kube-controller-manager,
  scheduler or kubelet): pods get addresses and OVN ports but stay Pending.
EOF
  fi
  echo "  stop: make sandbox-down   (or hack/sandbox.sh down $D)"
}

all_running() {
  local n
  for n in $(daemons); do alive "$n" || return 1; done
}

cmd_up() {
  setdirs "$1"
  if all_running; then
    say "already running in $D"
    cmd_status "$D"
    return
  fi
  for tool in openssl curl ss ovsdb-server ovsdb-tool ovn-northd ovn-nbctl; do
    command -v "$tool" >/dev/null || die "$tool not found (make deps installs it)"
  done
  for tool in etcd kube-apiserver kubectl; do
    [ -x "$KUBE_BIN/$tool" ] || die "$KUBE_BIN/$tool not found (make tools builds it)"
  done
  record_env
  # shellcheck disable=SC2154 # rc is assigned inside the trap
  # A failed "up" still waits for the images job, so nothing writes to DIR after it.
  trap 'rc=$?; [ -z "$IMAGES_PID" ] || wait "$IMAGES_PID" 2>/dev/null || true; [ $rc -eq 0 ] || echo "sandbox: up failed; what did start keeps running: see $0 status $D; stop it with $0 down $D (make sandbox-down for the default DIR)" >&2' EXIT
  local t0=$SECONDS
  if [ "$NODE" = 1 ]; then build_images; fi
  make_pki
  write_kubeconfig
  start_etcd
  start_apiserver
  start_ovn
  say "applying the Subnet CRD"
  "$KUBECTL" apply -f "$REPO/config/crd/ovnet.io_subnets.yaml" >/dev/null
  "$KUBECTL" wait --for=condition=Established crd/subnets.ovnet.io --timeout=30s >/dev/null
  start_controller
  if [ "$NODE" = 1 ]; then start_node; fi
  local ok=0
  if [ "${EXAMPLES:-1}" != 0 ]; then
    say "applying yamls/examples/"
    "$KUBECTL" apply -f "$REPO/yamls/examples/"
    wait_examples || ok=1
  fi
  if [ "$NODE" = 1 ] && alive ovnet-daemon; then
    wait_running || ok=1
  elif [ "$NODE" = 1 ] && [ -x "$D/bin/ovnet-daemon" ]; then
    warn "ovnet-daemon is built but not running: the node has no CNI network; see $LOGD/ovnet-daemon.log"
    ok=1
  fi
  say "up in $((SECONDS - t0))s"
  echo
  show_mapping
  show_usage
  return $ok
}

# exited PID: the process is gone or a zombie (an init that reaps slowly
# keeps exited daemons as zombies for a while, and kill -0 still finds them).
exited() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
  [ -z "$state" ] || [ "$state" = Z ]
}

# stop NAME: SIGTERM, wait up to 10s, then SIGKILL; only the recorded PID.
stop() {
  local name=$1 pid pf
  pf=$(pidfile "$name")
  if pid=$(pid_of "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    if ! waitfor 10 exited "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      waitfor 5 exited "$pid" || true
    fi
    say "stopped $name (pid $pid)"
  fi
  rm -f "$pf"
}

# stop_appctl NAME CTL-NAME ARGS...: ask an OVS/OVN daemon to exit through
# its control socket (named after its PID), then stop it by PID if it lingers.
stop_appctl() {
  local name=$1 ctl=$2 pid; shift 2
  if pid=$(pid_of "$name"); then
    timeout 5 ovs-appctl -t "$(dirname "$(pidfile "$name")")/$ctl.$pid.ctl" exit "$@" >/dev/null 2>&1 || true
    waitfor 5 exited "$pid" && say "stopped $name (pid $pid)"
  fi
  stop "$name"
}

ctr_k8s() { ctr --address "$CTRD_SOCK" -n k8s.io "$@"; }
no_tasks() { [ -z "$(ctr_k8s tasks ls -q 2>/dev/null)" ]; }

# stop_pods: delete every pod while kubelet, daemon and containerd still run,
# so each is torn down properly (CNI DEL, netns, mounts); then kill what is
# left in containerd and delete the network namespaces of those tasks.
stop_pods() {
  local id pid inodes="" f ino
  if alive kubelet && alive kube-apiserver; then
    "$KUBECTL" delete pods --all -A --grace-period=1 --wait=true --timeout=60s >/dev/null 2>&1 ||
      warn "not every pod was deleted within 60s"
    if alive containerd; then waitfor 30 no_tasks || true; fi
  fi
  stop kubelet
  alive containerd || return 0
  for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
    pid=$(ctr_k8s tasks ls 2>/dev/null | awk -v id="$id" '$1 == id {print $2}')
    [ -n "$pid" ] && inodes+=" $(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)"
    ctr_k8s tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    waitfor 5 sh -c "! ctr --address '$CTRD_SOCK' -n k8s.io tasks ls -q | grep -qx '$id'" || true
    ctr_k8s tasks delete -f "$id" >/dev/null 2>&1 || true
    say "killed container $id, left over by the kubelet"
  done
  for f in /run/netns/cni-*; do
    [ -e "$f" ] || continue
    ino=$(stat -L -c %i "$f" 2>/dev/null) || continue
    case " $inodes " in *" $ino "*) ip netns delete "$(basename "$f")" && say "deleted $f" ;; esac
  done
  warn_stray_netns
}

# warn_stray_netns: a pod whose CNI ADD and DEL both failed leaves its
# network namespace behind with no task to trace it to this containerd.
# Those made while it ran and empty now are most likely ours, but another
# containerd may be setting one up right now: name them, delete nothing.
warn_stray_netns() {
  local since f stray=""
  since=$(cat "$RUN/containerd.started" 2>/dev/null) || return 0
  for f in /run/netns/cni-*; do
    [ -e "$f" ] && [ "$(stat -c %Y "$f")" -ge "$since" ] && [ -z "$(ip netns pids "$(basename "$f")" 2>/dev/null)" ] &&
      stray+=" $(basename "$f")"
  done
  [ -z "$stray" ] && return 0
  warn "network namespaces made by a containerd since this one started, with no process in them (pods whose CNI DEL failed?):$stray"
  warn "if they are this sandbox's, delete them with: for n in$stray; do ip netns delete \$n; done"
}

# shim_pids: containerd shims started for this sandbox (their command line
# names its containerd socket); they outlive containerd if a task does.
shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = containerd-shim ] || continue
    tr '\0' '\n' < "$p/cmdline" 2>/dev/null | grep -qxF "$CTRD_SOCK" && echo "${p#/proc/}"
  done
}

# unmount_under PATH...: unmount every mount below the paths, deepest first.
unmount_under() {
  local m p
  for p in "$@"; do
    [ -d "$p" ] || continue
    for m in $(awk -v p="$p/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r); do
      umount "$m" 2>/dev/null || umount -l "$m" || warn "could not unmount $m"
    done
  done
}

no_mounts_under() { ! awk -v p="$1/" 'index($2, p) == 1 {f = 1} END {exit !f}' /proc/self/mounts; }

cmd_down_node() {
  local n pid
  stop kube-controller-manager
  stop kube-scheduler
  stop_pods
  stop ovnet-daemon
  stop containerd
  rm -f "$RUN/containerd.started"
  for pid in $(shim_pids); do
    kill -KILL "$pid" 2>/dev/null && say "killed containerd shim $pid"
  done
  if [ -f "$RUN/run-containerd.created" ]; then
    rmdir /run/containerd/s /run/containerd 2>/dev/null || true
    rm -f "$RUN/run-containerd.created"
  fi
  stop_appctl ovn-controller ovn-controller
  stop_appctl ovs-vswitchd ovs-vswitchd --cleanup
  stop vswitch_db
  stop_outside
  if [ -e "/run/netns/$NODE_NETNS" ] && [ "$(cat "$RUN/netns.created" 2>/dev/null)" = "$NODE_NETNS" ]; then
    ip netns delete "$NODE_NETNS" && say "deleted network namespace $NODE_NETNS"
  fi
  rm -f "$RUN/netns.created"
  unmount_under "$D" "$CTRD_STATE"
  remove_cgroup_root
  # Only with nothing mounted below: rm -rf through a bind mount would
  # delete what it shows.
  for n in "$D/kubelet" "$D/containerd" "$CTRD_STATE" "$CNID"; do
    [ -e "$n" ] || continue
    if no_mounts_under "$n"; then rm -rf "$n"; else warn "kept $n: something is still mounted below it"; fi
  done
  rm -f "$OVSD"/conf.db "$OVSD"/.conf.db.~lock~ "$OVSD"/*.sock "$OVSD"/*.ctl "$OVSD"/*.mgmt "$RUN/daemon.sock"
}

cmd_down() {
  setdirs "$1"
  local n
  if [ "$NODE" = 1 ]; then cmd_down_node; fi
  # The controller first, so nothing writes to the databases being stopped.
  for n in $CONTROL_DAEMONS; do stop "$n"; done
  rm -rf "$D/etcd"
  rm -f "$OVND"/*.db "$OVND"/.*.~lock~ "$OVND"/*.sock "$OVND"/*.ctl "$D/sandbox.env"
  say "down: $D (logs kept in $LOGD)"
}

cmd_status() {
  setdirs "$1"
  local n pid
  for n in $(daemons); do
    if pid=$(pid_of "$n"); then
      printf "  %-24s running, pid %s\n" "$n" "$pid"
    else
      printf '  %-24s not running\n' "$n"
    fi
  done
  echo
  if alive kube-apiserver && alive ovnnb_db; then
    show_mapping
    if [ "$NODE" = 1 ] && alive ovnsb_db; then
      echo
      echo "== OVN southbound (ovn-sbctl show): chassis"
      ovn-sbctl --db="$SB_DB" --timeout=10 show
    fi
    show_usage
  else
    echo "sandbox: not (fully) running in $D; start it with 'make sandbox' (or $0 up $D)"
  fi
}

case "${1:-}" in
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
