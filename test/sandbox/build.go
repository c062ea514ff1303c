package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ovnet/ovnet/test/harness"
)

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
	return "sbx-" + harness.OvnetImageSum(tb)[:12]
}

func (s *Sandbox) chartSum(tb harness.T) string {
	tb.Helper()
	return harness.TreeSum(tb, chartDir)
}

// buildImage builds the ovnet image as `make image` does (or finds it in
// the cache) and returns the archive.
func (s *Sandbox) buildImage(tb harness.T, tag string) string {
	tb.Helper()
	s.log.Info("building the ovnet image (hack/build-image.sh; cached by content)", "ref", harness.ImageRepository+":"+tag)
	return harness.OvnetImage(tb, tag)
}

// run runs a command in the repository.
func (s *Sandbox) run(tb harness.T, argv ...string) {
	tb.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.cfg.Repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("sandbox: %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// removeImage deletes an image archive the nodes no longer need.
func removeImage(archive string) { _ = os.Remove(archive) }
