#!/usr/bin/env bash
# Installs the Debian packages ovnet's tests and sandbox run: Open vSwitch,
# OVN, the network tools the suites use, and for the node (kubelet) part:
# containerd, runc, the reference CNI plugins (the benchmark's baseline),
# BIRD (bird2, the BGP peer of the speaker's e2e test), umoci, skopeo,
# mmdebstrap and jq (to build images without a container
# engine or a registry: hack/images.sh, hack/build-image.sh), a static busybox
# (the shell and ping of the sandbox's test image) and patchelf (to point
# Debian 13's ovs-vswitchd at its own C library: hack/install-ovs.sh). Does nothing when every
# command is already there, so repeated runs cost a few milliseconds.
set -euo pipefail
need=(ovsdb-server:openvswitch-switch ovs-vswitchd:openvswitch-switch
      ovn-northd:ovn-central ovn-controller:ovn-host ip:iproute2 ethtool:ethtool
      tcpdump:tcpdump iperf3:iperf3 openssl:openssl ping:iputils-ping curl:curl
      containerd:containerd runc:runc umoci:umoci skopeo:skopeo mmdebstrap:mmdebstrap jq:jq
      busybox:busybox-static bird:bird2 patchelf:patchelf
      /usr/lib/cni/bridge:containernetworking-plugins)
missing=()
for pair in "${need[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
# The packages' service scripts may have started system daemons; ovnet's
# tests start their own, on their own sockets, and never use these.
