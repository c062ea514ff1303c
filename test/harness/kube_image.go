package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

const (
	// ImageRepository is the image `make image` and the chart name
	// (docker.io/ovnet/ovnet, the chart's image.repository ovnet/ovnet).
	ImageRepository = "docker.io/ovnet/ovnet"
	// helmVersion is the Makefile's HELM_VERSION.
	helmVersion = "v3.22.0"
)

// imageInputs are what the ovnet image is made from, relative to the
// repository root: a change to any of them rebuilds it.
var imageInputs = []string{"cmd", "pkg", "go.mod", "go.sum", "hack/build-image.sh", "dist/images"}

// builtImages caches OvnetImage per tag for the test process.
var builtImages sync.Map

// OvnetImage returns the archive of the ovnet image tagged tag
// (ImageRepository:tag), built by hack/build-image.sh from this tree. The
// archive is kept in the cache directory under a hash of the image's
// inputs, so an unchanged tree is not built again.
func OvnetImage(tb T, tag string) string {
	tb.Helper()
	if path, ok := builtImages.Load(tag); ok {
		return path.(string)
	}
	root, err := RepoRoot()
	if err != nil {
		tb.Fatalf("%v", err)
	}
	sum, err := hashTree(root, imageInputs)
	if err != nil {
		tb.Fatalf("ovnet image: %v", err)
	}
	path := filepath.Join(CacheDir(), "ovnet-image", fmt.Sprintf("%s-%s.tar", sum[:16], tag))
	if _, err := os.Stat(path); err != nil {
		cmd := exec.Command(filepath.Join(root, "hack", "build-image.sh"), path, ImageRepository+":"+tag)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("hack/build-image.sh: %v\n%s", err, out)
		}
	}
	builtImages.Store(tag, path)
	return path
}

// hashTree hashes the names and contents of the files under paths
// (test files excluded: they are not in the image).
func hashTree(root string, paths []string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		err := filepath.WalkDir(filepath.Join(root, p), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			fmt.Fprintf(h, "%s\n", strings.TrimPrefix(path, root))
			_, err = io.Copy(h, f)
			return err
		})
		if err != nil {
			return "", fmt.Errorf("hashing %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// helmBinary caches Helm's result.
var helmBinary struct {
	once sync.Once
	path string
	err  error
}

// Helm returns the path of the helm binary at the Makefile's version,
// built once from the Go module proxy into the cache directory.
func Helm(tb T) string {
	tb.Helper()
	helmBinary.once.Do(func() {
		dir := filepath.Join(CacheDir(), "helm-"+helmVersion)
		helmBinary.path = filepath.Join(dir, "helm")
		if isExecutable(helmBinary.path) {
			return
		}
		cmd := exec.Command("go", "install", "helm.sh/helm/v3/cmd/helm@"+helmVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			helmBinary.err = fmt.Errorf("go install helm %s: %w\n%s", helmVersion, err, out)
		}
	})
	if helmBinary.err != nil {
		tb.Fatalf("%v", helmBinary.err)
	}
	return helmBinary.path
}
