#!/usr/bin/env bash
# sandbox.sh - a local ovnet control plane on this machine, for trying the
# annotations by hand: etcd, kube-apiserver, OVN central (NB, SB, ovn-northd)
# and ovnet-controller, all on 127.0.0.1, with yamls/examples/ applied.
#
# Usage:
#   hack/sandbox.sh up DIR       start what is not running yet, apply the examples, show the result
#   hack/sandbox.sh down DIR     stop what "up" started (by recorded PID), delete state, keep logs
#   hack/sandbox.sh status DIR   show the daemons and the Kubernetes -> OVN mapping
#
# `make sandbox` builds DIR/bin/ovnet-controller and runs "up"; `make
# sandbox-down` runs "down". There is no kube-controller-manager, scheduler
# or kubelet: pods are addressed by the controller but stay Pending.
#
# Environment (read by "up"; "down" and "status" use what "up" recorded):
#   KUBE_BIN=$HOME/.cache/ovnet/k8s-1.36.3/bin   etcd, kube-apiserver, kubectl
#   ETCD_PORT=23790     etcd clients (peers on ETCD_PORT+10)
#   API_PORT=26443      kube-apiserver
#   NB_PORT=6641 SB_PORT=6642                    OVN NB/SB on 127.0.0.1
#   METRICS_PORT=10660 PROBE_PORT=10661          ovnet-controller
#   CONTROLLER_ARGS=    extra flags for ovnet-controller
#   WAIT_TIMEOUT=60     seconds to wait for the examples to be addressed
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
NB_SCHEMA=/usr/share/ovn/ovn-nb.ovsschema
SB_SCHEMA=/usr/share/ovn/ovn-sb.ovsschema
# Matches the controller's default --service-cidr, so no subnet overlaps it.
SERVICE_CIDR=10.96.0.0/12
SERVICE_IP=10.96.0.1

die() { echo "sandbox: $*" >&2; exit 1; }
say() { echo "sandbox: $*"; }

# setdirs DIR: the layout under DIR, and the settings "up" recorded there.
setdirs() {
  [ -n "${1:-}" ] || die "missing DIR (usage: $0 up|down|status DIR)"
  mkdir -p "$1"
  D=$(cd "$1" && pwd)
  PKI=$D/pki RUN=$D/run OVND=$D/ovn LOGD=$D/log
  mkdir -p "$PKI" "$RUN" "$OVND" "$LOGD"
  if [ -f "$D/sandbox.env" ]; then . "$D/sandbox.env"; fi
  : "${KUBE_BIN:=$HOME/.cache/ovnet/k8s-1.36.3/bin}"
  : "${ETCD_PORT:=23790}" "${API_PORT:=26443}" "${NB_PORT:=6641}" "${SB_PORT:=6642}"
  : "${METRICS_PORT:=10660}" "${PROBE_PORT:=10661}"
  export KUBECONFIG=$D/kubeconfig
  # ovn-appctl/ovs-appctl find control sockets here.
  export OVN_RUNDIR=$OVND OVS_RUNDIR=$OVND
  NB_DB=unix:$OVND/ovnnb_db.sock
  SB_DB=unix:$OVND/ovnsb_db.sock
  KUBECTL=$KUBE_BIN/kubectl
}

record_env() {
  cat > "$D/sandbox.env" <<EOF
KUBE_BIN=$KUBE_BIN
ETCD_PORT=$ETCD_PORT
API_PORT=$API_PORT
NB_PORT=$NB_PORT
SB_PORT=$SB_PORT
METRICS_PORT=$METRICS_PORT
PROBE_PORT=$PROBE_PORT
EOF
}

# Every daemon: name, pidfile, and the command name its /proc entry must
# show, so a PID reused by another program is never signalled.
DAEMONS="ovnet-controller ovn-northd ovnsb_db ovnnb_db kube-apiserver etcd"
pidfile() {
  case $1 in
    ovn-northd|ovnsb_db|ovnnb_db) echo "$OVND/$1.pid" ;;
    *) echo "$RUN/$1.pid" ;;
  esac
}
comm_of() {
  case $1 in
    ovnsb_db|ovnnb_db) echo ovsdb-server ;;
    ovnet-controller) echo ovnet-controller ;;
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

write_kubeconfig() {
  "$KUBECTL" config set-cluster sandbox --server="https://127.0.0.1:$API_PORT" \
    --certificate-authority="$PKI/ca.crt" --embed-certs >/dev/null
  "$KUBECTL" config set-credentials sandbox-admin \
    --client-certificate="$PKI/admin.crt" --client-key="$PKI/admin.key" --embed-certs >/dev/null
  "$KUBECTL" config set-context sandbox --cluster=sandbox --user=sandbox-admin >/dev/null
  "$KUBECTL" config use-context sandbox >/dev/null
}

start_etcd() {
  alive etcd && return
  need_port "$ETCD_PORT" "etcd clients"; need_port $((ETCD_PORT + 10)) "etcd peers"
  local peer=http://127.0.0.1:$((ETCD_PORT + 10))
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
  # ServiceAccount admission is off: without kube-controller-manager no
  # namespace gets its "default" ServiceAccount and every pod would be refused.
  # The endpoint reconciler is off: it refuses a loopback advertise address.
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
    --authorization-mode=RBAC --allow-privileged=true
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
  echo "== Pods and their addresses (no node and no scheduler here: pods stay Pending, that is expected)"
  "$KUBECTL" get pods -A -o custom-columns='NAMESPACE:.metadata.namespace,NAME:.metadata.name,STATUS:.status.phase,SWITCH:.metadata.annotations.ovn\.kubernetes\.io/logical_switch,IP:.metadata.annotations.ovn\.kubernetes\.io/ip_address,MAC:.metadata.annotations.ovn\.kubernetes\.io/mac_address,ALLOCATED:.metadata.annotations.ovn\.kubernetes\.io/allocated'
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
  Only the control plane runs here (no kube-controller-manager, scheduler or
  kubelet): pods get addresses and OVN ports but stay Pending, and the
  StatefulSet "db" creates no pods.
  stop: make sandbox-down   (or hack/sandbox.sh down $D)
EOF
}

all_running() {
  local n
  for n in $DAEMONS; do alive "$n" || return 1; done
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
  trap 'rc=$?; [ $rc -eq 0 ] || echo "sandbox: up failed; what did start keeps running: see $0 status $D; stop it with $0 down $D (make sandbox-down for the default DIR)" >&2' EXIT
  local t0=$SECONDS
  make_pki
  write_kubeconfig
  start_etcd
  start_apiserver
  start_ovn
  say "applying the Subnet CRD"
  "$KUBECTL" apply -f "$REPO/config/crd/ovnet.io_subnets.yaml" >/dev/null
  "$KUBECTL" wait --for=condition=Established crd/subnets.ovnet.io --timeout=30s >/dev/null
  start_controller
  say "applying yamls/examples/"
  "$KUBECTL" apply -f "$REPO/yamls/examples/"
  local ok=0
  wait_examples || ok=1
  say "control plane up in $((SECONDS - t0))s"
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

cmd_down() {
  setdirs "$1"
  local n
  # The controller first, so nothing writes to the databases being stopped.
  for n in $DAEMONS; do stop "$n"; done
  rm -rf "$D/etcd"
  rm -f "$OVND"/*.db "$OVND"/.*.~lock~ "$OVND"/*.sock "$OVND"/*.ctl "$D/sandbox.env"
  say "down: $D (logs kept in $LOGD)"
}

cmd_status() {
  setdirs "$1"
  local n pid
  for n in $DAEMONS; do
    if pid=$(pid_of "$n"); then
      printf "  %-18s running, pid %s\n" "$n" "$pid"
    else
      printf '  %-18s not running\n' "$n"
    fi
  done
  echo
  if alive kube-apiserver && alive ovnnb_db; then
    show_mapping
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
