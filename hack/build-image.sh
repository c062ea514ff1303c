#!/usr/bin/env bash
# build-image.sh - the ovnet image of dist/images/Dockerfile, built without a
# container engine, as an OCI archive that containerd imports by name:
#
#   hack/build-image.sh ARCHIVE REF
#   e.g. hack/build-image.sh _output/ovnet-image-dev.tar docker.io/ovnet/ovnet:dev
#   then ctr -n k8s.io images import ARCHIVE        (no --base-name needed)
#
# Two layers, as the Dockerfile's two stages give:
#   1. Debian: a root filesystem from this machine's own apt sources
#      (mmdebstrap), the Dockerfile's packages on the apt variant (essential +
#      apt, as debian:bookworm-slim), docs/man/locales left out as slim does.
#      It is cached under $OVNET_CACHE/image-base/KEY, KEY a hash of the
#      package list, the Debian release, the apt sources and the mmdebstrap
#      options, so it is rebuilt (2-4 min) only when one of them changes.
#   2. ovnet: the three static binaries at the Dockerfile's paths, and the
#      run directories.
# umoci assembles the layout, skopeo writes the image under REF; the index
# also carries containerd's name annotation so ctr import names it REF.
# dist/images' Go test checks the archive against the Dockerfile.
#
# Prints the archive's path on stdout, the timings on stderr. Needs root
# (mmdebstrap --mode=root), go, mmdebstrap, umoci, skopeo, jq (make deps).
set -euo pipefail
shopt -s inherit_errexit # errors inside $(...) stop the build too

REPO=$(cd "$(dirname "$0")/.." && pwd)
ARCHIVE=$(realpath -m "${1:?usage: $0 ARCHIVE REF}")
REF=${2:?usage: $0 ARCHIVE REF}
CACHE=${OVNET_CACHE:-$HOME/.cache/ovnet}/image-base
DEBIAN_RELEASE=${DEBIAN_RELEASE:-bookworm}
# mmdebstrap copies an apt sources file given as a mirror as it is, so the
# image gets exactly the packages (and versions) this machine installs.
if [ -z "${SOURCES:-}" ]; then
  for SOURCES in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [ -f "$SOURCES" ] && break
  done
fi
ARCH=$(go env GOARCH)

# Keep in step with the Dockerfile's apt-get install line: the Go test in
# dist/images fails when they differ.
PACKAGES=(openvswitch-switch ovn-central ovn-host iproute2 kmod ca-certificates patchelf)
# The Dockerfile's other RUN: Debian 13's ovs-vswitchd in place of Debian
# 12's (README "Known limitations"), run in the image's root.
export OVS_INSTALLER=$REPO/hack/install-ovs.sh

# What debian:bookworm-slim leaves out (its /etc/dpkg/dpkg.cfg.d/docker),
# keeping the licences.
DPKG_OPTS=(path-exclude=/usr/share/doc/* path-include=/usr/share/doc/*/copyright
           path-exclude=/usr/share/man/* path-exclude=/usr/share/groff/*
           path-exclude=/usr/share/info/* path-exclude=/usr/share/lintian/*
           path-exclude=/usr/share/locale/*)

die() { echo "build-image: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v from="$1" -v to="$(now)" 'BEGIN { printf "%.1f", to - from }'; }

[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap --mode=root)"
for tool in go mmdebstrap umoci skopeo jq; do
  command -v "$tool" >/dev/null || die "$tool not found (make deps installs it)"
done
[ -f "$SOURCES" ] || die "no apt sources found (set SOURCES to a $DEBIAN_RELEASE sources file)"
# The file's suites decide what is installed: on another release the image
# would silently not be the Dockerfile's.
grep -qw "$DEBIAN_RELEASE" "$SOURCES" || die "$SOURCES has no $DEBIAN_RELEASE suite (set SOURCES)"

mmdebstrap_args() {
  local opt
  printf '%s\n' --variant=apt --mode=root --format=tar --skip=output/dev
  echo "--aptopt=APT::Install-Recommends \"false\""
  for opt in "${DPKG_OPTS[@]}"; do echo "--dpkgopt=$opt"; done
  echo "--include=$(IFS=,; echo "${PACKAGES[*]}")"
  # The Dockerfile's state directory; the host's resolver and name are the
  # runtime's to mount, not the image's.
  echo '--customize-hook=mkdir -p "$1/var/lib/ovn"'
  echo '--customize-hook=chroot "$1" bash -s -- --image <"$OVS_INSTALLER" >&2'
  echo '--customize-hook=: > "$1/etc/resolv.conf"; : > "$1/etc/hostname"; chmod 0644 "$1/etc/resolv.conf" "$1/etc/hostname"'
}

# BASE_FORMAT changes when build_base changes what it caches.
BASE_FORMAT=1
base_key() {
  { echo "$BASE_FORMAT"; mmdebstrap_args; echo "$DEBIAN_RELEASE $ARCH"; cat "$SOURCES" "$OVS_INSTALLER"; } |
    sha256sum | cut -c1-16
}

# build_base DIR: the Debian layer as an OCI layout DIR/oci, tag "base".
build_base() {
  local dir=$1 args
  mapfile -t args < <(mmdebstrap_args)
  mkdir -p "$dir"
  mmdebstrap --quiet "${args[@]}" "$DEBIAN_RELEASE" "$dir/debian.tar" "$SOURCES"
  umoci init --layout "$dir/oci"
  umoci new --image "$dir/oci:base"
  umoci raw add-layer --image "$dir/oci:base" \
    --history.created_by "mmdebstrap $DEBIAN_RELEASE ${PACKAGES[*]}" "$dir/debian.tar"
  rm "$dir/debian.tar"
  umoci gc --layout "$dir/oci"
}

# cached_base: the path of the cached Debian layout, built first if missing.
# Under a lock, so concurrent builds (make image and the test) build it once.
cached_base() {
  local key dir start
  key=$(base_key)
  dir=$CACHE/$key
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  if [ ! -f "$dir/oci/index.json" ]; then
    start=$(now)
    echo "build-image: building the Debian layer ($DEBIAN_RELEASE: ${PACKAGES[*]})" >&2
    rm -rf "$dir.tmp"
    build_base "$dir.tmp" >&2
    mv "$dir.tmp" "$dir"
    # Layers of other package lists are dead weight (~100 MB each).
    find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
    echo "build-image: Debian layer built in $(since "$start") s" >&2
  else
    echo "build-image: Debian layer cached ($dir)" >&2
  fi
  exec 9>&-
  echo "$dir/oci"
}

# binaries_tar ROOT TAR: the ovnet layer, the Dockerfile's builder stage.
binaries_tar() {
  local root=$1 tar=$2 bin
  mkdir -p "$root/usr/local/bin" "$root/usr/bin" "$root/run/ovn" "$root/run/openvswitch"
  for bin in controller:usr/local/bin/ovnet-controller daemon:usr/bin/ovnet-daemon speaker:usr/bin/ovnet-speaker cni:usr/bin/ovnet; do
    (cd "$REPO" && CGO_ENABLED=0 GOARCH=$ARCH go build -trimpath -ldflags='-s -w' \
       -o "$root/${bin#*:}" "./cmd/${bin%%:*}")
  done
  chmod 0755 "$root"/usr/local/bin/* "$root"/usr/bin/*
  tar --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 0)" -C "$root" -cf "$tar" usr run
}

main() {
  local start base_start base work image out
  start=$(now)
  base_start=$(now)
  base=$(cached_base)
  echo "build-image: Debian layer ready in $(since "$base_start") s" >&2

  work=$(mktemp -d "${TMPDIR:-/tmp}/ovnet-image.XXXXXX")
  trap "rm -rf '$work'" EXIT
  cp -a "$base" "$work/oci"
  image=$work/oci:base
  binaries_tar "$work/root" "$work/ovnet.tar"
  umoci raw add-layer --image "$image" --history.created_by "ovnet binaries" "$work/ovnet.tar"
  umoci config --image "$image" --architecture "$ARCH" --os linux \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.label org.opencontainers.image.source=https://github.com/ovnet/ovnet \
    --config.label org.opencontainers.image.title=ovnet \
    --config.label "org.opencontainers.image.description=ovnet controller, node daemon, BGP speaker and CNI plugin with Open vSwitch and OVN" \
    --config.label "org.opencontainers.image.revision=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)" \
    --history.created_by "ovnet image config"

  # skopeo copies only the blobs REF needs, under the name REF; containerd
  # reads its own annotation first, so ctr import needs no --base-name.
  out=$work/out
  skopeo copy --quiet "oci:$image" "oci:$out:$REF"
  jq -c --arg ref "$REF" '.manifests[0].annotations["io.containerd.image.name"] = $ref' \
    "$out/index.json" > "$work/index.json"
  mv "$work/index.json" "$out/index.json"
  mkdir -p "$(dirname "$ARCHIVE")"
  tar --owner=0 --group=0 --numeric-owner -C "$out" -cf "$ARCHIVE.tmp" oci-layout index.json blobs
  mv "$ARCHIVE.tmp" "$ARCHIVE"
  echo "build-image: $REF written to $ARCHIVE ($(du -m "$ARCHIVE" | cut -f1) MB) in $(since "$start") s" >&2
  echo "$ARCHIVE"
}

main
