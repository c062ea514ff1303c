#!/usr/bin/env bash
# build-coredns.sh - CoreDNS for cluster DNS, built from the Go module proxy
# (hack/coredns: a main with the plugins yamls/coredns.yaml uses) rather
# than pulled, since no registry is reachable here.
#
#   hack/build-coredns.sh binary   prints the path of the static binary
#   hack/build-coredns.sh image    also builds local.test/coredns:<version>,
#                                  a docker-archive for
#                                  `ctr -n k8s.io images import`, and prints
#                                  its path, then its name, one a line
#
# Both live in $OVNET_CACHE/coredns-<version>-<hash>/, the hash being over
# hack/coredns's go.mod, go.sum and main.go and the Go version: a directory
# that exists is used as it is (a build takes ~3 minutes on 2 cores, a warm
# call none). The version is the one hack/coredns/go.mod requires.
# The image needs umoci and skopeo (make deps installs them).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SRC=$REPO/hack/coredns
CACHE=${OVNET_CACHE:-$HOME/.cache/ovnet}
MODE=${1:-binary}

die() { echo "build-coredns: $*" >&2; exit 1; }

case $MODE in binary|image) ;; *) die "usage: $0 binary|image" ;; esac
command -v go >/dev/null || die "go not found"

version=$(awk '$1 == "require" && $2 == "github.com/coredns/coredns" { print $3 }' "$SRC/go.mod")
version=${version#v}
[ -n "$version" ] || die "no github.com/coredns/coredns requirement in $SRC/go.mod"
sum=$({ (cd "$SRC" && sha256sum go.mod go.sum main.go); go version; } | sha256sum | cut -c1-12)
DIR=$CACHE/coredns-$version-$sum
BIN=$DIR/coredns
REF=local.test/coredns:$version
ARCHIVE=$DIR/coredns-image.tar

mkdir -p "$DIR"
if [ ! -x "$BIN" ]; then
  # Static: the image has no libc. Written aside and renamed, so an
  # interrupted build never leaves a binary that looks finished.
  (cd "$SRC" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$BIN.tmp" .) ||
    die "go build of hack/coredns failed"
  mv "$BIN.tmp" "$BIN"
fi
if [ "$MODE" = binary ]; then
  echo "$BIN"
  exit 0
fi

if [ ! -f "$ARCHIVE" ]; then
  for tool in umoci skopeo; do
    command -v "$tool" >/dev/null || die "$tool not found (make deps installs it)"
  done
  WORK=$(mktemp -d "$DIR/.image.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  layout=$WORK/oci bundle=$WORK/bundle
  umoci init --layout "$layout"
  umoci new --image "$layout:latest"
  umoci unpack --image "$layout:latest" "$bundle" >/dev/null
  install -m 0755 "$BIN" "$bundle/rootfs/coredns"
  mkdir -p "$bundle/rootfs/etc/coredns"
  umoci repack --image "$layout:latest" "$bundle"
  # As CoreDNS's own image: the binary is the entrypoint, the Corefile
  # comes from a ConfigMap mounted at /etc/coredns.
  umoci config --image "$layout:latest" --architecture "$(go env GOARCH)" --os linux \
    --config.entrypoint /coredns --config.cmd -conf --config.cmd /etc/coredns/Corefile \
    --config.exposedports 53/udp --config.exposedports 53/tcp --config.exposedports 9153/tcp
  skopeo copy --quiet "oci:$layout:latest" "docker-archive:$ARCHIVE.tmp:$REF"
  mv "$ARCHIVE.tmp" "$ARCHIVE"
fi
echo "$ARCHIVE"
echo "$REF"
