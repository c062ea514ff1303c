package chart

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// helmVersion is the Makefile's HELM_VERSION: the tests render with the
// helm that `make manifests` uses. kubeVersion is its K8S_VERSION: a helm
// built by `go run` assumes 1.20 without it, which the chart refuses.
const (
	helmVersion = "v3.22.0"
	kubeVersion = "1.36.3"
)

// repoRoot is the repository's top directory, found from this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// helmTemplate renders charts/ovnet into the release namespace kube-system
// with extra arguments (--set ...). It returns helm's stdout and, on a
// failed render, an error holding its stderr.
func helmTemplate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return helm(t, append([]string{"template", "ovnet", chartDir(t), "--namespace", "kube-system",
		"--kube-version", kubeVersion}, args...)...)
}

func chartDir(t *testing.T) string {
	return filepath.Join(repoRoot(t), "charts", "ovnet")
}

// helm runs the pinned helm with args, its caches in the test's temporary
// directories. It returns stdout and, when helm fails, an error with stderr.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := repoRoot(t)
	cmd := exec.Command("go", append([]string{"run", "helm.sh/helm/v3/cmd/helm@" + helmVersion}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("run helm: %v", err)
		}
		return stdout.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// object is the part of a rendered object the tests read.
type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Rules []struct {
		APIGroups []string `json:"apiGroups"`
		Resources []string `json:"resources"`
		Verbs     []string `json:"verbs"`
	} `json:"rules"`
	RoleRef struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"roleRef"`
	Subjects []struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"subjects"`
	Spec map[string]any `json:"spec"`
	// Raw is the document as rendered.
	Raw string `json:"-"`
}

// objects splits a render into its objects.
func objects(t *testing.T, rendered string) []object {
	t.Helper()
	var out []object
	for _, doc := range strings.Split(rendered, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("parse rendered object: %v\n%s", err, doc)
		}
		if o.Kind == "" {
			continue
		}
		o.Raw = doc
		out = append(out, o)
	}
	return out
}
