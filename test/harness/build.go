package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// builds holds the binaries compiled for this test process, each once.
var builds struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string
}

// Build compiles a main package of this repository (such as "./cmd/daemon")
// once per test process and returns the binary's path. RemoveBuilds, from
// TestMain, deletes them.
func Build(tb T, pkg, name string) string {
	tb.Helper()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if bin, ok := builds.bins[pkg]; ok {
		return bin
	}
	root, err := RepoRoot()
	if err != nil {
		tb.Fatalf("building %s: %v", pkg, err)
	}
	if builds.dir == "" {
		if builds.dir, err = os.MkdirTemp("", "ovnet-bin-"); err != nil {
			tb.Fatalf("building %s: %v", pkg, err)
		}
		builds.bins = map[string]string{}
	}
	bin := filepath.Join(builds.dir, name)
	// Stripped, as released binaries are: the CNI plugin is exec'd for
	// every pod, and a smaller file starts faster.
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	builds.bins[pkg] = bin
	return bin
}

// RemoveBuilds deletes what Build compiled.
func RemoveBuilds() {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
		builds.dir, builds.bins = "", nil
	}
}
