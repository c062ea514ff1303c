package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ovnet/ovnet/test/harness"
)

// imageSources are what the ovnet image is built from, relative to the
// repository: a change in any of them gives the image a new tag.
var imageSources = []string{"cmd", "pkg", "dist/images", "go.mod", "go.sum", "hack/build-image.sh"}

// chartDir is the chart the sandbox installs.
const chartDir = "charts/ovnet"

// buildTools builds kubectl-ovnet into Dir/bin, which sandbox.env puts on PATH.
func (s *Sandbox) buildTools(tb harness.T) {
	tb.Helper()
	s.run(tb, "go", "build", "-o", filepath.Join(s.binDir(), "kubectl-ovnet"), "./cmd/kubectl-ovnet")
}

// imageTag names the image after its sources' content, so an unchanged
// tree keeps its tag and `up` again upgrades nothing.
func (s *Sandbox) imageTag(tb harness.T) string {
	tb.Helper()
	sum, err := treeSum(s.cfg.Repo, imageSources)
	if err != nil {
		tb.Fatalf("sandbox: image tag: %v", err)
	}
	return "sbx-" + sum[:12]
}

func (s *Sandbox) chartSum(tb harness.T) string {
	tb.Helper()
	sum, err := treeSum(s.cfg.Repo, []string{chartDir})
	if err != nil {
		tb.Fatalf("sandbox: chart: %v", err)
	}
	return sum
}

// buildImage builds the ovnet image as `make image` does and returns the
// archive; its Debian layer comes from the cache.
func (s *Sandbox) buildImage(tb harness.T, tag string) string {
	tb.Helper()
	archive := s.imageArchive(tag)
	if _, err := os.Stat(archive); err == nil {
		return archive
	}
	s.log.Info("building the ovnet image (hack/build-image.sh)", "ref", DefaultImage+":"+tag)
	s.run(tb, "hack/build-image.sh", archive, DefaultImage+":"+tag)
	return archive
}

func (s *Sandbox) imageArchive(tag string) string {
	return filepath.Join(s.cfg.Dir, "images", "ovnet-"+tag+".tar")
}

// run runs a command in the repository, its output into the log.
func (s *Sandbox) run(tb harness.T, argv ...string) {
	tb.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.cfg.Repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("sandbox: %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// treeSum is a SHA-256 over the paths and contents of every file but tests under
// paths (files or directories) below root, in a fixed order.
func treeSum(root string, paths []string) (string, error) {
	var files []string
	for _, p := range paths {
		err := filepath.WalkDir(filepath.Join(root, p), func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			// Tests are not in the image.
			if d.Type().IsRegular() && !strings.HasSuffix(f, "_test.go") {
				files = append(files, f)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		fmt.Fprintf(h, "%s\x00", rel)
		if err := hashFile(h, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
