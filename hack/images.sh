#!/usr/bin/env bash
# images.sh - the container images the local sandbox and the end-to-end tests
# run, built without a registry (none is reachable from our machines):
#
#   OUTDIR/pause.tar  registry.k8s.io/pause:3.10   containerd's sandbox_image
#   OUTDIR/tools.tar  local.test/tools:1           /pause, /probe and busybox
#                                                  (sh, ping, ip, wget, nc ...)
#
# Usage: hack/images.sh OUTDIR      prints the paths of the two tars
#
# Both are docker-archive tars for `ctr -n k8s.io images import`; pods use
# them with imagePullPolicy: Never. The programs are test/image/{pause,probe}
# built static (CGO_ENABLED=0); busybox is Debian's busybox-static. The tars
# are rebuilt only when an input changed (sources, busybox, Go, this script).
# Needs go, umoci, skopeo and /bin/busybox (make deps installs them).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:?usage: $0 OUTDIR}" && cd "$1" && pwd)
BUSYBOX=${BUSYBOX:-/bin/busybox}
ARCH=$(go env GOARCH)

die() { echo "images: $*" >&2; exit 1; }

for tool in go umoci skopeo; do
  command -v "$tool" >/dev/null || die "$tool not found (make deps installs it)"
done
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (Debian package busybox-static; make deps installs it)"
# A dynamically linked busybox would not run in an image without libc.
if linkage=$(LC_ALL=C ldd "$BUSYBOX" 2>&1); [[ $linkage != *"not a dynamic executable"* ]]; then
  die "$BUSYBOX is dynamically linked; install busybox-static"
fi

# inputs_sum: one checksum over everything the tars are made from.
inputs_sum() {
  {
    (cd "$REPO" && find test/image -type f -name '*.go' ! -name '*_test.go' | sort | xargs sha256sum)
    sha256sum "$0" "$BUSYBOX" "$REPO/go.mod"
    go version
  } | sha256sum | cut -d' ' -f1
}

# Under a lock, so concurrent suites (make test runs three processes) build
# the tars once and never read one half written.
exec 9>"$OUT/.lock"
flock 9

sum=$(inputs_sum)
if [ -f "$OUT/pause.tar" ] && [ -f "$OUT/tools.tar" ] && [ "$(cat "$OUT/inputs.sum" 2>/dev/null)" = "$sum" ]; then
  echo "$OUT/pause.tar"
  echo "$OUT/tools.tar"
  exit 0
fi

WORK=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$WORK/pause" ./test/image/pause)
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$WORK/probe" ./test/image/probe)

# mkimage NAME REF: an image from WORK/NAME-rootfs with entrypoint /pause.
mkimage() {
  local name=$1 ref=$2 layout=$WORK/$1-oci bundle=$WORK/$1-bundle
  umoci init --layout "$layout"
  umoci new --image "$layout:latest"
  umoci unpack --image "$layout:latest" "$bundle" >/dev/null
  cp -a "$WORK/$name-rootfs/." "$bundle/rootfs/"
  umoci repack --image "$layout:latest" "$bundle"
  umoci config --image "$layout:latest" --architecture "$ARCH" --os linux \
    --config.entrypoint /pause \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  rm -f "$OUT/$name.tar"
  skopeo copy --quiet "oci:$layout:latest" "docker-archive:$OUT/$name.tar:$ref"
}

mkdir -p "$WORK/pause-rootfs"
cp "$WORK/pause" "$WORK/pause-rootfs/pause"

tools=$WORK/tools-rootfs
mkdir -p "$tools/bin" "$tools/tmp"
chmod 1777 "$tools/tmp"
cp "$WORK/pause" "$WORK/probe" "$tools/"
cp "$BUSYBOX" "$tools/bin/busybox"
# What `busybox --install -s /bin` would do, without running it in the image.
for applet in $("$BUSYBOX" --list); do
  [ -e "$tools/bin/$applet" ] || ln -s busybox "$tools/bin/$applet"
done

mkimage pause registry.k8s.io/pause:3.10
mkimage tools local.test/tools:1
echo "$sum" > "$OUT/inputs.sum"
echo "$OUT/pause.tar"
echo "$OUT/tools.tar"
