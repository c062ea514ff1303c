package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"

	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
	"github.com/ovnet/ovnet/test/sandbox"
)

// kubeletNodes is the test's node count: two, so the pods run on
// different nodes and their traffic crosses the underlay.
const kubeletNodes = 2

// TestKubelet brings up the sandbox in-process (test/sandbox, the code of
// `make sandbox`): kind-like nodes with a real kubelet and containerd,
// ovnet installed by `helm install` of charts/ovnet with the image built
// from this tree. Two pods on different nodes run on their ovnet
// addresses and reach each other, as a user would check it with kubectl;
// a Service whose EndpointSlices the real kube-controller-manager writes
// is reached through its ClusterIP and by name through cluster DNS
// (CoreDNS); a NetworkPolicy closes and, deleted, reopens the way to its
// pod; a pod reaches the far network outside.
func TestKubelet(t *testing.T) {
	start := time.Now()
	s := startSandbox(t)
	t.Logf("sandbox up in %s", time.Since(start).Round(100*time.Millisecond))

	pods := []string{"kubelet-a", "kubelet-b"}
	var manifest strings.Builder
	for i, name := range pods {
		fmt.Fprintf(&manifest, `---
apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: default
  labels:
    app: %[1]s
spec:
  nodeName: node-%d
  terminationGracePeriodSeconds: 1
  containers:
  - name: probe
    image: local.test/tools:1
    imagePullPolicy: Never
    command: ["/probe", "serve", "--tcp", "80"]
`, name, i%kubeletNodes+1)
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
	// By name, through the cluster DNS the sandbox runs (CoreDNS, kube-dns
	// 10.96.0.10, itself reached through ovnet's load balancer).
	s.connect("kubelet-a", "kubelet-b", "kubelet-b.default")
	t.Logf("service resolved by name %s after start", time.Since(start).Round(100*time.Millisecond))

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

	s.checkOutside("kubelet-a", harness.UnderlayAddr(1).Addr())
	t.Logf("far network reached %s after start", time.Since(start).Round(100*time.Millisecond))

	s.checkDualStackExample()
	t.Logf("dual-stack example checked %s after start", time.Since(start).Round(100*time.Millisecond))
}

// dualStackExample is the README's dual-stack example: a Subnet of
// 10.71.0.0/24 and fd00:10:71::/120 for namespace team-dual, with pod app
// and pod fixed, whose annotation fixes one address of each family.
const dualStackExample = "yamls/examples/dualstack/subnet.yaml"

// checkDualStackExample applies the dual-stack example as a user would and
// checks what the real kubelet reports: status.podIPs holds the pod's two
// ovnet addresses, IPv4 first, as its ip_address annotation lists them, the
// fixed pod has the addresses it asked for, and the pods reach each other
// over both families.
func (s *kubeletSandbox) checkDualStackExample() {
	s.t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		s.t.Fatal(err)
	}
	if out, err := s.kubectl("apply", "-f", filepath.Join(root, dualStackExample)); err != nil {
		s.t.Fatalf("apply %s: %v\n%s", dualStackExample, err, out)
	}
	if out, err := s.kubectl("wait", "-n", "team-dual", "--for=condition=Ready", "--timeout=90s", "pod/app", "pod/fixed"); err != nil {
		describe, _ := s.kubectl("describe", "-n", "team-dual", "pods")
		s.t.Fatalf("dual-stack pods not Ready: %v\n%s\n%s", err, out, describe)
	}
	ips := map[string][]string{}
	for _, name := range []string{"app", "fixed"} {
		ips[name] = s.podIPs("team-dual", name)
	}
	if got, want := strings.Join(ips["fixed"], ","), "10.71.0.200,fd00:10:71::c8"; got != want {
		s.t.Errorf("pod fixed: status.podIPs %s, want %s (its annotation)", got, want)
	}
	for _, ip := range ips["app"] {
		if a := netip.MustParseAddr(ip); !netip.MustParsePrefix("10.71.0.0/24").Contains(a) && !netip.MustParsePrefix("fd00:10:71::/120").Contains(a) {
			s.t.Errorf("pod app: %s is in neither of the Subnet's CIDRs", ip)
		}
	}
	if s.t.Failed() {
		s.t.FailNow()
	}
	for _, ip := range ips["fixed"] {
		s.connectIn("team-dual", "app", "fixed", netip.MustParseAddr(ip))
	}
}

// podIPs returns pod's status.podIPs, checking that the kubelet reported
// one address of each family, IPv4 first, equal to the pod's ip_address
// annotation.
func (s *kubeletSandbox) podIPs(namespace, name string) []string {
	s.t.Helper()
	out, err := s.kubectl("get", "pod", "-n", namespace, name, "-o", "json")
	if err != nil {
		s.t.Fatalf("%v\n%s", err, out)
	}
	var pod corev1.Pod
	if err := json.Unmarshal([]byte(out), &pod); err != nil {
		s.t.Fatalf("kubectl get pod %s -o json: %v", name, err)
	}
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	annotated := pod.Annotations["ovn.kubernetes.io/ip_address"]
	if strings.Join(ips, ",") != annotated || len(ips) != 2 {
		s.t.Errorf("pod %s/%s: status.podIPs %v, ovn.kubernetes.io/ip_address %q: want the same two addresses", namespace, name, ips, annotated)
	}
	if len(ips) == 2 && (!netip.MustParseAddr(ips[0]).Is4() || !netip.MustParseAddr(ips[1]).Is6()) {
		s.t.Errorf("pod %s/%s: status.podIPs %v, want IPv4 then IPv6", namespace, name, ips)
	}
	return ips
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
func (s *kubeletSandbox) service(name string, port int) string {
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
func (s *kubeletSandbox) blocked(from, target string) {
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

// checkOutside asserts that pod from reaches the far network's probe
// server through its node's egress NAT, the underlay and the external
// host: the server sees the node's underlay address, nodeIP.
func (s *kubeletSandbox) checkOutside(from string, nodeIP netip.Addr) {
	s.t.Helper()
	target := netip.AddrPortFrom(harness.FarIP, sandbox.FarPort).String()
	wait.For(s.t, 30*time.Second, from+" reaches the far server "+target, func() error {
		out, err := s.kubectl("exec", from, "--", "/probe", "connect", "tcp", target, "--timeout", "2s")
		if err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
		if !strings.Contains(out, "client="+nodeIP.String()+":") {
			return fmt.Errorf("the far server saw another client than %s: %s", nodeIP, out)
		}
		return nil
	})
}

// kubeletSandbox is the sandbox of one test, in a directory of its own.
type kubeletSandbox struct {
	t  *testing.T
	sb *sandbox.Sandbox
	// dir holds the sandbox's state, logs and nodes.
	dir string
}

// startSandbox brings a sandbox of kubeletNodes nodes up without the
// examples, with its image built from this tree, and brings it down when
// the test ends. It fails, never skips, when something it needs is
// missing: a test that skips proves nothing.
func startSandbox(t *testing.T) *kubeletSandbox {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("TestKubelet needs root (network namespaces, containerd, kubelet, Open vSwitch)")
	}
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubeBin, err := harness.KubeAssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	// A short directory directly under /tmp: unix socket paths below it
	// must stay under 108 bytes, so not t.TempDir(), whose name carries
	// the test's.
	dir, err := os.MkdirTemp("/tmp", "ovk-")
	if err != nil {
		t.Fatal(err)
	}
	s := &kubeletSandbox{t: t, dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			s.logTails()
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	cfg := sandbox.Config{Dir: dir, Nodes: kubeletNodes, Repo: root, KubeBin: kubeBin}
	s.sb = sandbox.Start(t, cfg, testr.New(t))
	return s
}

func withPrefix(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// kubectl runs kubectl against the sandbox's API server.
func (s *kubeletSandbox) kubectl(args ...string) (string, error) {
	return s.sb.Kubectl(args...)
}

func (s *kubeletSandbox) kubectlIn(stdin string, args ...string) (string, error) {
	return s.sb.KubectlIn(stdin, args...)
}

// checkAddresses asserts that each pod runs with status.podIP equal to
// the address ovnet gave it (its ip_address annotation), inside subnet;
// it returns the pods' addresses by name.
func (s *kubeletSandbox) checkAddresses(names []string, subnet netip.Prefix) map[string]string {
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
func (s *kubeletSandbox) connect(from, to, ip string) {
	s.t.Helper()
	s.connectTo("default", from, to, ip+":80")
}

// connectIn is connect for pods of namespace, to ip of either family.
func (s *kubeletSandbox) connectIn(namespace, from, to string, ip netip.Addr) {
	s.t.Helper()
	s.connectTo(namespace, from, to, netip.AddrPortFrom(ip, 80).String())
}

func (s *kubeletSandbox) connectTo(namespace, from, to, target string) {
	s.t.Helper()
	wait.For(s.t, 30*time.Second, from+" reaches "+to+" at "+target, func() error {
		out, err := s.kubectl("exec", "-n", namespace, from, "--", "/probe", "connect", "tcp", target, "--timeout", "2s")
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
func (s *kubeletSandbox) logTails() {
	var logs []string
	_ = filepath.WalkDir(s.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".log") {
			logs = append(logs, p)
		}
		return nil
	})
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
