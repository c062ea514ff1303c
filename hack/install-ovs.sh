#!/usr/bin/env bash
# Installs the ovs-vswitchd the suites run: Debian 13's Open vSwitch 3.5,
# unpacked with the Debian 13 C library it was built against into
# $OVNET_CACHE/ovs-<version> (nothing under /usr changes), the binary's
# loader and library path set to that library's (patchelf), so it runs as
# itself: ps and /proc show ovs-vswitchd. $OVNET_CACHE/ovs/bin/ovs-vswitchd
# links to it. Debian 12's 3.1.0 aborts in its userspace conntrack
# (lib/conntrack.c:1063, fixed upstream in 3.1.3), which the suites' NATed
# traffic hit in about every other full run; README "Known limitations".
# Everything else (ovsdb-server, ovs-vsctl, OVN) stays Debian 12's.
#
# apt fetches the packages with a private configuration and state under the
# cache, so the index is checked against Debian's archive keyring as for any
# package, and the host's sources are untouched. A version already unpacked
# is kept: repeated runs cost an index lookup only when the version changed.
set -euo pipefail
cache=${OVNET_CACHE:-$HOME/.cache/ovnet}
suite=${OVS_SUITE:-trixie}
pkgs=(openvswitch-switch openvswitch-common libc6 libssl3t64 libcap-ng0
      libnuma1 libxdp1 libbpf1 libunbound8 libelf1t64 libevent-2.1-7t64
      libzstd1 zlib1g)

command -v patchelf >/dev/null || { echo "install-ovs: patchelf not found (make deps installs it)" >&2; exit 1; }

# installed DIR: DIR holds a vswitchd that runs with DIR's own loader (its
# path is absolute, so a moved cache needs a new unpacking).
installed() {
  local program=$1/root/usr/lib/openvswitch-switch/ovs-vswitchd
  [ "$(patchelf --print-interpreter "$program" 2>/dev/null)" = "$1/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ] &&
    "$1/bin/ovs-vswitchd" --version >/dev/null 2>&1
}

link=$cache/ovs
if [ -e "$link" ] && installed "$(readlink -f "$link")" && [ -z "${OVS_REFRESH:-}" ]; then
  exit 0
fi

apt_dir=$cache/apt-$suite
mkdir -p "$apt_dir"/{lists/partial,archives/partial}
printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian %s main\n' \
  "$suite" >"$apt_dir/sources.list"
apt_opts=(-qq -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir"
          -o "Dir::Cache::archives=$apt_dir/archives" -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update
version=$(apt-cache "${apt_opts[@]}" show --no-all-versions openvswitch-switch | awk '/^Version:/{print $2; exit}')
[ -n "$version" ] || { echo "install-ovs: no openvswitch-switch in Debian $suite's index" >&2; exit 1; }

dest=$cache/ovs-$version
if ! installed "$dest"; then
  echo "install-ovs: unpacking Open vSwitch $version from Debian $suite into $dest" >&2
  tmp=$(mktemp -d "$cache/.ovs-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get "${apt_opts[@]}" download "${pkgs[@]}")
  mkdir -p "$tmp/root" "$tmp/bin"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
  lib=$dest/root/usr/lib/x86_64-linux-gnu
  # DT_RPATH, unlike RUNPATH, also serves the libraries' own dependencies
  # (libssl's libcrypto, libbpf's libelf).
  patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" \
    "$tmp/root/usr/lib/openvswitch-switch/ovs-vswitchd"
  ln -s ../root/usr/lib/openvswitch-switch/ovs-vswitchd "$tmp/bin/ovs-vswitchd"
  rm -f "$tmp"/*.deb
  chmod 755 "$tmp"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  trap - EXIT
  "$dest/bin/ovs-vswitchd" --version >/dev/null
fi
ln -sfn "ovs-$version" "$link"
