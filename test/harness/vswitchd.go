package harness

import (
	"os"
	"path/filepath"
)

// vswitchdProgram is the ovs-vswitchd the chassis run: Debian 13's 3.5,
// which hack/install-ovs.sh unpacks into the cache (`make tools` runs it).
// Debian 12's 3.1.0 aborts in its userspace conntrack on the suites' NATed
// traffic (README "Known limitations"), so it is no fallback: a missing
// install fails the test.
func vswitchdProgram(tb T) string {
	tb.Helper()
	path := filepath.Join(CacheDir(), "ovs", "bin", "ovs-vswitchd")
	if info, err := os.Stat(path); err != nil || info.Mode()&0o111 == 0 {
		tb.Fatalf("%s missing: run hack/install-ovs.sh (`make tools` does) for the "+
			"ovs-vswitchd these suites run (Debian 12's 3.1.0 aborts in its userspace conntrack)", path)
	}
	return path
}
