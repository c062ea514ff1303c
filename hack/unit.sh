#!/usr/bin/env bash
# The unit tests: every package under pkg/ whose tests import nothing from
# test/ (where ovsdb-server and the other real daemons are started; those
# packages run in `make test`). They run with a PATH that holds the go
# command alone, so a unit test that needs an installed program
# (ovsdb-server, ovs-vsctl, ip) fails here, on every machine, instead of
# passing on one that happens to have it.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
go_path=$(command -v "$GO")

# One line per test variant of a package ("p [p.test]", "p_test [p.test]"):
# the package, then everything its tests build on.
pkgs=$("$GO" list -test -f '{{if .ForTest}}{{.ForTest}} {{join .Deps " "}}{{end}}' ./pkg/... |
	awk '{ if ($0 ~ / github\.com\/ovnet\/ovnet\/test\//) needs[$1] = 1; else plain[$1] = 1 }
	     END { for (p in plain) if (!(p in needs)) print p }' | sort)

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
ln -s "$go_path" "$bin/go"
# Without cgo the go command needs no other program (no C compiler, no
# assembler); nothing ovnet's unit tests exercise uses cgo.
CGO_ENABLED=0 PATH="$bin" "$bin/go" test -count=1 "$@" $pkgs
