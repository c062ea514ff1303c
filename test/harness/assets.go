package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const (
	// kubeVersion is the Kubernetes release hack/build-k8s.sh builds for tests;
	// its binaries live in a cache directory named after it.
	kubeVersion = "1.36.3"
	// assetsEnv is the variable envtest itself reads; honouring it lets a
	// developer point the suites at binaries built elsewhere.
	assetsEnv = "KUBEBUILDER_ASSETS"
	// cacheEnv overrides the cache root shared with the Makefile.
	cacheEnv = "OVNET_CACHE"
)

// kubeBinaries are the programs envtest runs or needs to provision users.
var kubeBinaries = []string{"etcd", "kube-apiserver", "kubectl"}

// KubeAssetsDir returns the directory holding etcd, kube-apiserver and
// kubectl: $KUBEBUILDER_ASSETS if set, else $OVNET_CACHE/k8s-<version>/bin
// with OVNET_CACHE defaulting to $HOME/.cache/ovnet. It fails when any of
// the three is missing, because a suite that silently skips proves nothing.
func KubeAssetsDir() (string, error) {
	dir := os.Getenv(assetsEnv)
	if dir == "" {
		cache := os.Getenv(cacheEnv)
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("locating kube test binaries: %w", err)
			}
			cache = filepath.Join(home, ".cache", "ovnet")
		}
		dir = filepath.Join(cache, "k8s-"+kubeVersion, "bin")
	}
	var missing []string
	for _, name := range kubeBinaries {
		if !isExecutable(filepath.Join(dir, name)) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("kube test binaries missing in %s: %s; run `make tools` to build them (or set %s)",
			dir, strings.Join(missing, ", "), assetsEnv)
	}
	return dir, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// RepoRoot returns the directory holding the module's go.mod, found by
// walking up from the working directory (a test runs in its package's
// directory, at any depth below the root).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}
