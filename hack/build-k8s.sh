#!/usr/bin/env bash
# Builds Kubernetes and etcd binaries from the Go module proxy into a cache
# directory outside the repository. No GitHub or release bucket is reachable
# from the machines we build on, so the sources come as Go modules.
#
# usage: hack/build-k8s.sh OUTDIR component...
#   components: kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl etcd
#   env: K8S_VERSION, ETCD_VERSION, SRC_CACHE (where module copies are prepared)
# A binary already in OUTDIR that reports the wanted version is kept.
set -euo pipefail
OUT=$(mkdir -p "${1:?usage: build-k8s.sh OUTDIR component...}" && cd "$1" && pwd)
shift
K8S_VERSION=${K8S_VERSION:-1.36.3}
ETCD_VERSION=${ETCD_VERSION:-3.6.8}
SRC_CACHE=${SRC_CACHE:-$OUT/../src}
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
staging=v0.${K8S_VERSION#1.}

# prepare_tree MODULE@VERSION DEST SED-PATTERN REPLACEMENT-VERSION
# Copies a module from the module cache into DEST and rewrites its relative
# replace directives (which point into the monorepo) to published modules.
prepare_tree() {
  local mod=$1 dest=$2 pattern=$3 version=$4
  [ -f "$dest/.prepared" ] && return 0
  local dir
  dir=$(go mod download -json "$mod" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  rm -rf "$dest"; mkdir -p "$(dirname "$dest")"
  cp -r "$dir" "$dest"; chmod -R u+w "$dest"
  rm -f "$dest/go.work" "$dest/go.work.sum"
  local edits=()
  for m in $(sed -n "s#$pattern#\\1#p" "$dest/go.mod"); do
    case $m in
      k8s.io/sample-cli-plugin) edits+=(-dropreplace="$m") ;; # unpublished, unused
      *) edits+=(-replace="$m=$m@$version") ;;
    esac
  done
  (cd "$dest" && go mod edit "${edits[@]}")
  touch "$dest/.prepared"
}

build_kube() {
  local name=$1 src=$SRC_CACHE/kubernetes-$K8S_VERSION minor
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  prepare_tree "k8s.io/kubernetes@v$K8S_VERSION" "$src" \
    '^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*' "$staging"
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$src" && go build -trimpath -ldflags "$ld" -o "$OUT/$name" "./cmd/$name")
}

build_etcd() {
  local src=$SRC_CACHE/etcd-server-$ETCD_VERSION
  prepare_tree "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "$src" \
    '^\s*\(go.etcd.io/etcd/[a-z0-9/]*\) => \.\./.*' "v$ETCD_VERSION"
  (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" .)
}

# version_of BINARY: what the binary says its version is.
version_of() {
  case $(basename "$1") in
    kubectl) "$1" version --client 2>/dev/null ;;
    *) "$1" --version 2>/dev/null ;;
  esac | head -3
}

for c in "$@"; do
  want=v$K8S_VERSION; [ "$c" = etcd ] && want=$ETCD_VERSION
  if [ -x "$OUT/$c" ] && version_of "$OUT/$c" | grep -q -- "$want"; then
    continue
  fi
  echo "building $c $want into $OUT (cold: minutes)" >&2
  case $c in
    etcd) build_etcd ;;
    *) build_kube "$c" ;;
  esac
done
