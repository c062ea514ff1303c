package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// sandboxEnv lists every variable hack/sandbox.sh (or what it runs) reads
// from the environment; the test sets each one itself, so a developer's
// shell settings for their own sandbox never leak into this one.
var sandboxEnv = append([]string{
	"KUBE_BIN", "NODE", "NODE_NETNS", "CTRD_STATE", "CGROUP_ROOT", "CONTROLLER_ARGS", "DAEMON_ARGS",
	"UL_NETNS", "EXT_NETNS", "FAR_NETNS", "FAR_PORT",
	"EXAMPLES", "WAIT_TIMEOUT", "KUBECONFIG", "OVN_RUNDIR", "OVS_RUNDIR",
}, sandboxPortVars...)

// sandboxPortVars are the sandbox's TCP ports, each chosen free at run time.
var sandboxPortVars = []string{
	"ETCD_PORT", "ETCD_PEER_PORT", "API_PORT", "NB_PORT", "SB_PORT",
	"METRICS_PORT", "PROBE_PORT", "KCM_PORT", "SCHEDULER_PORT", "KUBELET_PORT",
	"KUBELET_HEALTHZ_PORT", "DAEMON_METRICS_PORT", "DAEMON_PROBE_PORT",
}

// sandboxBinaries are the Kubernetes programs the sandbox's control plane
// and node run, all built by `make tools`.
var sandboxBinaries = []string{"etcd", "kube-apiserver", "kubectl", "kube-controller-manager", "kube-scheduler", "kubelet"}

// TestKubelet runs the whole sandbox (hack/sandbox.sh): a real kubelet and
// containerd run two pods through the ovnet CNI plugin and daemon, and the
// pods reach each other on their ovnet addresses, as a user would check
// it with kubectl. A Service whose EndpointSlices the real
// kube-controller-manager writes is reached through its ClusterIP, and a
// NetworkPolicy closes and, deleted, reopens the way to its pod.
func TestKubelet(t *testing.T) {
	start := time.Now()
	s := startScriptSandbox(t)
	t.Logf("sandbox up in %s", time.Since(start).Round(100*time.Millisecond))
	s.checkOutside()

	pods := []string{"kubelet-a", "kubelet-b"}
	var manifest strings.Builder
	for _, name := range pods {
		fmt.Fprintf(&manifest, `---
apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: default
  labels:
    app: %[1]s
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: probe
    image: local.test/tools:1
    imagePullPolicy: Never
    command: ["/probe", "serve", "--tcp", "80"]
`, name)
	}
	if out, err := s.kubectlIn(manifest.String(), "create", "-f", "-"); err != nil {
		t.Fatalf("create pods: %v\n%s", err, out)
	}
	args := append([]string{"wait", "--for=condition=Ready", "--timeout=90s"}, withPrefix("pod/", pods)...)
	if out, err := s.kubectl(args...); err != nil {
		describe, _ := s.kubectl("describe", "pods")
		t.Fatalf("pods not Ready: %v\n%s\n%s", err, out, describe)
	}
	t.Logf("pods Ready %s after start", time.Since(start).Round(100*time.Millisecond))

	ips := s.checkAddresses(pods, netip.MustParsePrefix("10.16.0.0/16"))
	for i, from := range pods {
		to := pods[1-i]
		s.connect(from, to, ips[to])
	}
	t.Logf("pods reach each other %s after start", time.Since(start).Round(100*time.Millisecond))

	vip := s.service("kubelet-b", 80)
	s.connect("kubelet-a", "kubelet-b", vip)
	t.Logf("service %s reached %s after start", vip, time.Since(start).Round(100*time.Millisecond))

	if out, err := s.kubectlIn(denyIngressPolicy, "create", "-f", "-"); err != nil {
		t.Fatalf("create policy: %v\n%s", err, out)
	}
	s.blocked("kubelet-a", ips["kubelet-b"])
	s.blocked("kubelet-a", vip)
	if out, err := s.kubectl("delete", "networkpolicy", "kubelet-b-deny"); err != nil {
		t.Fatalf("delete policy: %v\n%s", err, out)
	}
	s.connect("kubelet-a", "kubelet-b", ips["kubelet-b"])
	s.connect("kubelet-a", "kubelet-b", vip)
	t.Logf("policy enforced and lifted %s after start", time.Since(start).Round(100*time.Millisecond))
}

// denyIngressPolicy isolates kubelet-b for ingress and allows nothing in.
const denyIngressPolicy = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: kubelet-b-deny
  namespace: default
spec:
  podSelector:
    matchLabels:
      app: kubelet-b
  policyTypes: [Ingress]
`

// service creates a ClusterIP Service selecting pod name on port and
// returns its ClusterIP once the kube-controller-manager has published a
// ready endpoint for it.
func (s *scriptSandbox) service(name string, port int) string {
	s.t.Helper()
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: default
spec:
  selector:
    app: %[1]s
  ports:
  - port: %[2]d
    protocol: TCP
`, name, port)
	if out, err := s.kubectlIn(manifest, "create", "-f", "-"); err != nil {
		s.t.Fatalf("create service %s: %v\n%s", name, err, out)
	}
	out, err := s.kubectl("wait", "endpointslice", "-l", "kubernetes.io/service-name="+name,
		"--for=jsonpath={.endpoints[0].conditions.ready}=true", "--timeout=60s")
	if err != nil {
		slices, _ := s.kubectl("get", "endpointslices", "-o", "yaml")
		s.t.Fatalf("service %s has no ready endpoint: %v\n%s\n%s", name, err, out, slices)
	}
	vip, err := s.kubectl("get", "service", name, "-o", "jsonpath={.spec.clusterIP}")
	if err != nil {
		s.t.Fatalf("service %s: %v\n%s", name, err, vip)
	}
	return strings.TrimSpace(vip)
}

// blocked asserts that pod from's connections to target:80 stop being
// answered; the policy takes effect within moments, not at once.
func (s *scriptSandbox) blocked(from, target string) {
	s.t.Helper()
	wait.For(s.t, 30*time.Second, from+" blocked from "+target+":80 by the policy", func() error {
		out, err := s.kubectl("exec", from, "--", "/probe", "connect", "tcp", target+":80", "--timeout", "1s")
		// The probe itself must report the failure: a kubectl that could
		// not exec proves nothing about the policy.
		if err != nil && strings.Contains(out, "probe:") && !strings.Contains(out, "host=") {
			return nil
		}
		return fmt.Errorf("still reaches it (%v): %s", err, out)
	})
}

// sandboxNodeIP is the sandbox node's uplink address (hack/sandbox-outside.sh).
const sandboxNodeIP = "172.18.0.1"

// checkOutside asserts that the sandbox's node reaches the far probe
// server through its uplink and the external host, which sees the node's
// uplink address.
func (s *scriptSandbox) checkOutside() {
	s.t.Helper()
	vars := s.recorded()
	target := netip.AddrPortFrom(harness.FarIP, 8080).String()
	if port := vars["FAR_PORT"]; port != "8080" {
		s.t.Fatalf("FAR_PORT %q, want the default 8080", port)
	}
	out, err := exec.Command("ip", "netns", "exec", vars["NODE_NETNS"], filepath.Join(s.dir, "bin", "probe"),
		"connect", "tcp", target, "--timeout", "2s").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "client="+sandboxNodeIP+":") {
		s.t.Errorf("node to the far server %s: %v: %s, want client=%s", target, err, out, sandboxNodeIP)
	}
}

// recorded is what "up" recorded in DIR/sandbox.env; nothing before "up"
// got that far.
func (s *scriptSandbox) recorded() map[string]string {
	data, _ := os.ReadFile(filepath.Join(s.dir, "sandbox.env"))
	vars := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	return vars
}

// scriptSandbox is one run of hack/sandbox.sh in a directory of its own.
type scriptSandbox struct {
	t       *testing.T
	dir     string
	kubeBin string
	// namespaces are the network namespaces "up" recorded: the node's
	// and the outside world's, which "down" must delete.
	namespaces []string
}

// startScriptSandbox brings a sandbox up without the examples, on ports free
// now, with its binaries built from this tree, and brings it down when
// the test ends. It fails, never skips, when something it needs is
// missing: a test that skips proves nothing.
func startScriptSandbox(t *testing.T) *scriptSandbox {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("TestKubelet needs root (network namespaces, containerd, kubelet, Open vSwitch)")
	}
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubeBin := os.Getenv("KUBE_BIN")
	if kubeBin == "" {
		if kubeBin, err = harness.KubeAssetsDir(); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range sandboxBinaries {
		if fi, err := os.Stat(filepath.Join(kubeBin, name)); err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Fatalf("%s/%s missing: `make tools` builds it (or set KUBE_BIN)", kubeBin, name)
		}
	}
	// A short directory directly under /tmp: unix socket paths below it
	// must stay under 108 bytes, so not t.TempDir(), whose name carries
	// the test's. Its path also names the sandbox's network namespace,
	// containerd state and cgroup, so it never meets a developer's
	// sandbox (/tmp/ovnet-sandbox by default).
	dir, err := os.MkdirTemp("/tmp", "ovk-")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptSandbox{t: t, dir: dir, kubeBin: kubeBin}
	t.Cleanup(func() {
		if t.Failed() {
			s.logTails()
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})

	built := time.Now()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for pkg, name := range map[string]string{"./cmd/controller": "ovnet-controller", "./cmd/daemon": "ovnet-daemon", "./cmd/cni": "ovnet",
		"./test/image/probe": "probe"} {
		if err := os.Symlink(harness.Build(t, pkg, name), filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("binaries built in %s", time.Since(built).Round(100*time.Millisecond))

	env := []string{"KUBE_BIN=" + kubeBin, "EXAMPLES=0", "WAIT_TIMEOUT=60"}
	for i, port := range distinctFreePorts(t, len(sandboxPortVars)) {
		env = append(env, fmt.Sprintf("%s=%d", sandboxPortVars[i], port))
	}
	script := filepath.Join(root, "hack", "sandbox.sh")
	run := func(verb string, timeout time.Duration) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, verb, dir)
		cmd.Env = append(withoutEnvVars(os.Environ(), sandboxEnv), env...)
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		down := time.Now()
		out, err := run("down", 3*time.Minute)
		t.Logf("hack/sandbox.sh down: %s", time.Since(down).Round(100*time.Millisecond))
		if err != nil {
			t.Errorf("sandbox.sh down %s: %v\n%s", dir, err, out)
		} else if t.Failed() {
			t.Logf("sandbox.sh down:\n%s", out)
		}
		for _, ns := range s.namespaces {
			if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
				t.Errorf("network namespace %s still exists after sandbox.sh down", ns)
			}
		}
	})
	up := time.Now()
	out, err := run("up", 4*time.Minute)
	t.Logf("hack/sandbox.sh up %s: %s", dir, time.Since(up).Round(100*time.Millisecond))
	vars := s.recorded()
	for _, name := range []string{"NODE_NETNS", "UL_NETNS", "EXT_NETNS", "FAR_NETNS"} {
		if ns := vars[name]; ns != "" {
			s.namespaces = append(s.namespaces, ns)
		} else if err == nil {
			t.Errorf("sandbox.env records no %s: %v", name, vars)
		}
	}
	if err != nil {
		t.Fatalf("sandbox.sh up %s: %v\n%s", dir, err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sandbox.sh up:\n%s", out)
		}
	})
	return s
}

// distinctFreePorts returns n distinct TCP ports of 127.0.0.1 that are free now.
func distinctFreePorts(t *testing.T, n int) []int {
	t.Helper()
	seen := map[int]bool{}
	var ports []int
	for len(ports) < n {
		_, p, err := net.SplitHostPort(harness.FreeAddr(t))
		if err != nil {
			t.Fatal(err)
		}
		var port int
		if _, err := fmt.Sscan(p, &port); err != nil {
			t.Fatal(err)
		}
		if !seen[port] {
			seen[port] = true
			ports = append(ports, port)
		}
	}
	return ports
}

// withoutEnvVars drops the named variables from an environment.
func withoutEnvVars(environ, names []string) []string {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	var out []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			out = append(out, kv)
		}
	}
	return out
}

func withPrefix(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// kubectl runs the sandbox's kubectl against its API server.
func (s *scriptSandbox) kubectl(args ...string) (string, error) {
	return s.kubectlIn("", args...)
}

func (s *scriptSandbox) kubectlIn(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"--kubeconfig=" + filepath.Join(s.dir, "kubeconfig")}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(s.kubeBin, "kubectl"), argv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// checkAddresses asserts that each pod runs with status.podIP equal to
// the address ovnet gave it (its ip_address annotation), inside subnet;
// it returns the pods' addresses by name.
func (s *scriptSandbox) checkAddresses(names []string, subnet netip.Prefix) map[string]string {
	s.t.Helper()
	out, err := s.kubectl(append([]string{"get", "-o", "json", "pods"}, names...)...)
	if err != nil {
		s.t.Fatalf("%v\n%s", err, out)
	}
	var list corev1.List
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		s.t.Fatalf("kubectl get pods -o json: %v", err)
	}
	ips := map[string]string{}
	for _, raw := range list.Items {
		var pod corev1.Pod
		if err := json.Unmarshal(raw.Raw, &pod); err != nil {
			s.t.Fatal(err)
		}
		annotated := pod.Annotations["ovn.kubernetes.io/ip_address"]
		if pod.Status.Phase != corev1.PodRunning {
			s.t.Errorf("pod %s is %s, want Running", pod.Name, pod.Status.Phase)
		}
		if pod.Status.PodIP == "" || pod.Status.PodIP != annotated {
			s.t.Errorf("pod %s: status.podIP %q, ovn.kubernetes.io/ip_address %q: want them equal", pod.Name, pod.Status.PodIP, annotated)
		}
		if ip, err := netip.ParseAddr(pod.Status.PodIP); err != nil || !subnet.Contains(ip) {
			s.t.Errorf("pod %s: status.podIP %q is not in %s", pod.Name, pod.Status.PodIP, subnet)
		}
		ips[pod.Name] = pod.Status.PodIP
	}
	if len(ips) != len(names) {
		s.t.Errorf("kubectl get pods %v returned %d pods", names, len(ips))
	}
	if s.t.Failed() {
		s.t.FailNow()
	}
	return ips
}

// connect asserts that pod from reaches pod to's probe server on ip:80,
// retrying for a while: the first packets may wait for ARP and for
// ovn-controller to finish installing the ports' flows.
func (s *scriptSandbox) connect(from, to, ip string) {
	s.t.Helper()
	wait.For(s.t, 30*time.Second, from+" reaches "+to+" at "+ip+":80", func() error {
		out, err := s.kubectl("exec", from, "--", "/probe", "connect", "tcp", ip+":80", "--timeout", "2s")
		if err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
		if !strings.Contains(out, "host="+to+" ") {
			return fmt.Errorf("answer is not from %s\n%s", to, out)
		}
		return nil
	})
}

// logTails logs the end of every sandbox log, for a failure in CI where
// the directory is gone afterwards.
func (s *scriptSandbox) logTails() {
	logs, _ := filepath.Glob(filepath.Join(s.dir, "log", "*.log"))
	sort.Strings(logs)
	for _, f := range logs {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		s.t.Logf("--- last lines of %s:\n%s", f, strings.Join(lines, "\n"))
	}
}
