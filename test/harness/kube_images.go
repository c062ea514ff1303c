package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// testImages caches TestImages' result for the test process.
var testImages struct {
	once  sync.Once
	paths []string
	err   string
}

// TestImages returns the archives of the images every KubeCluster node
// gets: registry.k8s.io/pause:3.10 (containerd's sandbox image) and
// local.test/tools:1, built by hack/images.sh into the cache directory
// (rebuilt only when their sources changed).
func TestImages(tb T) []string {
	tb.Helper()
	testImages.once.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			testImages.err = err.Error()
			return
		}
		out, err := exec.Command(filepath.Join(root, "hack", "images.sh"), filepath.Join(CacheDir(), "test-images")).Output()
		if err != nil {
			testImages.err = "hack/images.sh: " + err.Error()
			if ee, ok := err.(*exec.ExitError); ok {
				testImages.err += ": " + string(ee.Stderr)
			}
			return
		}
		testImages.paths = strings.Fields(string(out))
	})
	if testImages.err != "" {
		tb.Fatalf("building the test images: %s", testImages.err)
	}
	return testImages.paths
}

// CacheDir is the cache shared with the Makefile: $OVNET_CACHE, else
// $HOME/.cache/ovnet.
func CacheDir() string {
	if dir := os.Getenv(cacheEnv); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "ovnet-cache")
	}
	return filepath.Join(home, ".cache", "ovnet")
}
