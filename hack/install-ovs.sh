#!/usr/bin/env bash
# Installs the ovs-vswitchd that ovnet runs on the userspace datapath:
# Debian 13's Open vSwitch 3.5, in place of Debian 12's 3.1.0, whose
# userspace conntrack aborts (lib/conntrack.c:1063, fixed upstream in 3.1.3)
# on NATed traffic: the suites hit it in about every other full run (README
# "Known limitations"). Everything else (ovsdb-server, ovs-vsctl, OVN)
# stays Debian 12's.
#
#   hack/install-ovs.sh            for the suites: into $OVNET_CACHE/ovs-<version>,
#                                  $OVNET_CACHE/ovs linking to it (make tools)
#   hack/install-ovs.sh --image    inside the image's root (hack/build-image.sh,
#                                  the Dockerfile): into /opt/ovs-<version>, and
#                                  /usr/sbin/ovs-vswitchd (Debian 12's diverted
#                                  to ovs-vswitchd.debian12) linking to it
#
# The program is unpacked with the Debian 13 C library it was built against
# (DIR/root), and patchelf points its loader and library path at that
# library, so it runs as itself (ps and /proc show ovs-vswitchd) and nothing
# under /usr/lib changes. apt fetches the packages with a private
# configuration and state, so they are checked against Debian's archive key
# as any package is, and the system's sources are untouched. Needs apt,
# dpkg-deb and patchelf.
set -euo pipefail
suite=${OVS_SUITE:-trixie}
pkgs=(openvswitch-switch libc6 libssl3t64 libcap-ng0 libnuma1 libxdp1 libbpf1
      libunbound8 libelf1t64 libevent-2.1-7t64 libzstd1 zlib1g)
program=root/usr/lib/openvswitch-switch/ovs-vswitchd

command -v patchelf >/dev/null || { echo "install-ovs: patchelf not found (make deps installs it)" >&2; exit 1; }

# installed DIR: DIR holds a vswitchd that runs with DIR's own loader (its
# path is absolute, so a moved directory needs a new unpacking).
installed() {
  [ "$(patchelf --print-interpreter "$1/$program" 2>/dev/null)" = "$(loader "$1" "$1")" ] &&
    "$1/$program" --version >/dev/null 2>&1
}
# loader DIR: the dynamic loader of DIR's C library, as its path will be
# once DIR is unpacked.
loader() {
  local found
  found=$(cd "$1" 2>/dev/null && compgen -G 'root/usr/lib/*-linux-gnu/ld-linux*.so.*' | head -1) || true
  echo "$2/${found:-none}"
}

# apt_in DIR ARGS: apt-get with its sources, lists and archives under DIR.
apt_in() {
  local dir=$1 tool=$2; shift 2
  "$tool" -qq -o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir" -o "Dir::Cache::archives=$dir/archives" \
    -o APT::Sandbox::User=root "$@"
}

# unpack PARENT: prints PARENT/ovs-<version>, unpacked there unless it is
# already.
unpack() {
  local parent=$1 apt dest tmp deb lib
  apt=$(mktemp -d "$parent/.ovs-apt-XXXXXX")
  tmp=$(mktemp -d "$parent/.ovs-XXXXXX")
  trap 'rm -rf "$apt" "$tmp"' EXIT
  mkdir -p "$apt"/{lists/partial,archives/partial}
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian %s main\n' \
    "$suite" >"$apt/sources.list"
  apt_in "$apt" apt-get update
  dest=$parent/ovs-$(apt_in "$apt" apt-cache show --no-all-versions openvswitch-switch | awk '/^Version:/{print $2; exit}')
  if ! installed "$dest"; then
    echo "install-ovs: unpacking ovs-vswitchd of Debian $suite into $dest" >&2
    (cd "$apt" && apt_in "$apt" apt-get download "${pkgs[@]}")
    for deb in "$apt"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
    # Only the program and its libraries are used.
    find "$tmp/root" -mindepth 1 -maxdepth 1 ! -name usr -exec rm -rf {} +
    find "$tmp/root/usr" -mindepth 1 -maxdepth 1 ! -name lib -exec rm -rf {} +
    lib=$(dirname "$(loader "$tmp" "$dest")")
    # DT_RPATH, unlike RUNPATH, also serves the libraries' own dependencies
    # (libssl's libcrypto, libbpf's libelf).
    patchelf --set-interpreter "$(loader "$tmp" "$dest")" --force-rpath --set-rpath "$lib" "$tmp/$program"
    chmod 755 "$tmp"
    rm -rf "$dest"
    mv "$tmp" "$dest"
    installed "$dest" || { echo "install-ovs: $dest/$program does not run" >&2; exit 1; }
  fi
  rm -rf "$apt" "$tmp"
  trap - EXIT
  echo "$dest"
}

if [ "${1:-}" = --image ]; then
  dest=$(unpack /opt)
  dpkg-divert --quiet --local --rename --divert /usr/sbin/ovs-vswitchd.debian12 --add /usr/sbin/ovs-vswitchd
  ln -sfn "$dest/$program" /usr/sbin/ovs-vswitchd
  ovs-vswitchd --version | head -1
  exit 0
fi

cache=${OVNET_CACHE:-$HOME/.cache/ovnet}
link=$cache/ovs
if [ -e "$link" ] && installed "$(readlink -f "$link")" && [ -z "${OVS_REFRESH:-}" ]; then
  exit 0
fi
mkdir -p "$cache"
dest=$(unpack "$cache")
mkdir -p "$dest/bin"
ln -sfn "../$program" "$dest/bin/ovs-vswitchd"
ln -sfn "$(basename "$dest")" "$link"
