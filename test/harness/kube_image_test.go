package harness

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestHelmVersionMatchesMakefile: Helm builds the helm the Makefile pins,
// so the e2e tests install the chart with the helm `make manifests` uses.
func TestHelmVersionMatchesMakefile(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^HELM_VERSION \?= (\S+)$`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("no HELM_VERSION in the Makefile")
	}
	if got := string(m[1]); got != helmVersion {
		t.Errorf("Makefile HELM_VERSION %s, harness helmVersion %s", got, helmVersion)
	}
}
