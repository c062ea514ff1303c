package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/sandbox"
)

// TestSandboxProgram runs the program behind `make sandbox` as a user
// does: up (a detached supervisor; nodes Ready through ovnet installed by
// Helm), up again (nothing changed, nothing upgraded), then the supervisor
// killed as a crash would, and down, which must remove every namespace,
// cgroup and the directory from what the state file lists.
func TestSandboxProgram(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestSandboxProgram needs root (network namespaces, containerd, kubelet, Open vSwitch)")
	}
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "sandbox")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "test/sandbox/cmd/sandbox")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir, err := os.MkdirTemp("/tmp", "ovs-")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "SANDBOX_DIR="+dir, "EXAMPLES=0", "NODES=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// Whatever happens below, nothing may stay behind.
	t.Cleanup(func() {
		if _, err := os.Stat(dir); err == nil {
			out, err := run("down")
			t.Logf("sandbox down (cleanup): %v\n%s", err, out)
		}
	})

	start := time.Now()
	out, err := run("up")
	if err != nil {
		t.Fatalf("sandbox up: %v\n%s", err, out)
	}
	t.Logf("sandbox up in %s", time.Since(start).Round(100*time.Millisecond))
	for _, want := range []string{"helm install to 1 node(s) Ready", "node-1   Ready", "== OVN northbound"} {
		if !strings.Contains(out, want) {
			t.Errorf("sandbox up printed no %q:\n%s", want, out)
		}
	}
	env, err := os.ReadFile(filepath.Join(dir, "sandbox.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export KUBECONFIG=", "export OVN_NB_DB=tcp:127.0.0.1:", "export NODE_NETNS_1=", "export OVNET_TCPDUMP="} {
		if !strings.Contains(string(env), want) {
			t.Errorf("sandbox.env has no %q:\n%s", want, env)
		}
	}

	if out, err := run("up"); err != nil || !strings.Contains(out, "nothing changed") {
		t.Errorf("sandbox up again: %v, want it to say nothing changed:\n%s", err, out)
	}

	st, err := sandbox.LoadState(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.NetNS) == 0 || len(st.Cgroups) == 0 {
		t.Fatalf("state records no namespaces or cgroups: %+v", st)
	}
	if err := st.Supervisor.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing the supervisor: %v", err)
	}
	for st.Supervisor.Alive() {
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := run("down"); err != nil {
		t.Fatalf("sandbox down after a crash: %v\n%s", err, out)
	}
	for _, ns := range st.NetNS {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
			t.Errorf("network namespace %s left after down", ns)
		}
	}
	for _, cg := range st.Cgroups {
		if left, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", cg)); len(left) > 0 {
			t.Errorf("cgroup %s left after down: %v", cg, left)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left after down (%v)", dir, err)
	}
}
