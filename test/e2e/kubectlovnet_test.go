package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// TestKubectlOvnetDataPath traces with `kubectl ovnet trace` what real
// packets do between two pods on two nodes under a NetworkPolicy: the
// allowed port names the policy's ACL and leaves by the server's port,
// another port names the namespace's default deny and is dropped, and the
// Service's ClusterIP names its load balancer. `kubectl ovnet tcpdump`
// then captures the server's pings on its node.
func TestKubectlOvnetDataPath(t *testing.T) {
	e := newEnv(t)
	nodes := e.geneveNodes("n1", "n2")
	rt1, rt2 := nodes[0].Runtime(t), nodes[1].Runtime(t)
	e.labeledNamespace("tr", nil, nil)
	server := e.labeledPod(rt2, "tr", "server", "n2", map[string]string{"app": "web"}, nil, map[string]int32{"http": 80})
	client := e.labeledPod(rt1, "tr", "client", "n1", map[string]string{"app": "client"}, nil, nil)
	// A pod of another subnet: its packets cross ovn-cluster before the
	// server's switch drops them.
	e.namespace("tr-other", map[string]string{annotation.CIDR: "10.71.0.0/24"})
	stranger := e.labeledPod(rt1, "tr-other", "stranger", "n1", map[string]string{"app": "client"}, nil, nil)
	e.serve(server, "--tcp", "80,81")
	port80 := intstr.FromInt32(80)
	e.createPolicy(&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "tr", Name: "allow-client"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: selector("app", "web"), Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: &port80}},
		}}}})
	svc := e.traceService("tr", "web", server.IP.String())
	http, other := server.IP.String()+":80", server.IP.String()+":81"
	// The packets first, so the traces are checked against what happens.
	e.reachable(client, http)
	e.blocked(client, other)
	e.blocked(stranger, http)
	e.reachable(client, svc.Spec.ClusterIP+":80")

	k := harness.Build(t, "./cmd/kubectl-ovnet", "kubectl-ovnet")
	trace := func(t *testing.T, args ...string) string {
		t.Helper()
		argv := append([]string{"--kubeconfig=" + e.api.Kubeconfig, "--nb=" + e.ovn.NB.Endpoint, "--sb=" + e.ovn.SB.Endpoint, "trace"}, args...)
		out, err := exec.Command(k, argv...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl ovnet %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		t.Logf("kubectl ovnet trace %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"allowed port", []string{"tr/client", "tr/server", "tcp", "80"}, []string{
			`(?m)^acl .* to-lport allow-related\s+name "tr/allow-client"\s+\(NetworkPolicy tr/allow-client\)$`,
			`(?m)^verdict\s+output to server\.tr$`,
		}},
		{"other port", []string{"tr/client", "tr/server", "tcp", "81"}, []string{
			`(?m)^acl .* to-lport drop\s+name "tr/ingressDefaultDeny"\s+\(Namespace tr\)$`,
			`(?m)^verdict\s+dropped in ls_out_acl`,
		}},
		{"other subnet", []string{"tr-other/stranger", "tr/server", "tcp", "80"}, []string{
			`(?m)^acl .* to-lport drop\s+name "tr/ingressDefaultDeny"\s+\(Namespace tr\)$`,
			`(?m)^verdict\s+dropped in ls_out_acl.*  \(via tr-other-ovn-cluster -> ovn-cluster-ovn-default\)$`,
		}},
		{"service", []string{"tr/client", "svc/tr/web"}, []string{
			`(?m)^load balancer\s+Service_tr/web_tcp\s+` + regexp.QuoteMeta(svc.Spec.ClusterIP+":80 -> "+http),
			`(?m)^acl .* name "tr/allow-client"`,
			`(?m)^route\s+ip4.dst == 10.16.0.0/16  \(connected\)  out ovn-cluster-ovn-default$`,
			`(?m)^verdict\s+output to server\.tr  \(via ovn-default-ovn-cluster -> ovn-cluster-ovn-default\)$`,
		}},
		// Nothing is sent: the address outside is only traced.
		{"outside", []string{"tr/client", "198.51.100.10", "tcp", "8080"}, []string{
			`(?m)^acl\s+none met`,
			// ovn-trace holds both nodes' chassis local and takes either
			// node's reroute; the summary must say so when it is n2's.
			`(?m)^policy priority \d+  reroute 100\.64\.0\.\d+  match .*is_chassis_resident\("node-` +
				`(n1"\)  \(Node n1\)|n2"\)  \(Node n2\)  \[ovn-trace holds every chassis local: on n1 .*\])$`,
			`(?m)^verdict\s+output to `,
		}},
		{"no policy", []string{"tr/server", "tr/client"}, []string{
			`(?m)^acl\s+none met`,
			`(?m)^verdict\s+output to client\.tr$`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := trace(t, tt.args...)
			for _, want := range tt.want {
				if !regexp.MustCompile(want).MatchString(out) {
					t.Errorf("no line matching %q", want)
				}
			}
		})
	}

	t.Run("tcpdump", func(t *testing.T) {
		n2 := nodes[1].Chassis
		// The policy lets only TCP 80 in: capture its handshake.
		out := startCapture(t, k, "--kubeconfig="+e.api.Kubeconfig, "tcpdump", "--node-netns="+n2.NetNS,
			"--node-ovsdb="+n2.OVS.Endpoint, "tr/server", "-nn", "-l", "-c", "2", "tcp port 80")
		until(t, "tcpdump listening", func() error {
			if !strings.Contains(out.String(), "listening on") {
				return fmt.Errorf("output so far: %q", out.String())
			}
			return nil
		})
		if o, err := e.connect(client, "tcp", http); err != nil {
			t.Fatalf("connect %s: %v: %s", http, err, o)
		}
		out.wait(t)
		t.Logf("kubectl ovnet tcpdump:\n%s", out.String())
		syn := regexp.MustCompile(`IP ` + regexp.QuoteMeta(client.IP.String()) + `\.\d+ > ` + regexp.QuoteMeta(server.IP.String()) + `\.80: Flags \[S\]`)
		if !syn.MatchString(out.String()) {
			t.Errorf("capture shows no SYN from the client to %s", http)
		}
	})
}

// capture is a running command whose output is collected.
type capture struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan error
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// wait waits for the command to exit by itself.
func (c *capture) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("exited: %v\n%s", err, c.String())
		}
	case <-time.After(waitTimeout):
		t.Fatalf("did not exit:\n%s", c.String())
	}
}

// startCapture starts bin in a process group of its own, so that the
// test's end stops it and the tcpdump under it, whatever happened.
func startCapture(t *testing.T, bin string, args ...string) *capture {
	t.Helper()
	c := &capture{done: make(chan error, 1)}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = c, c
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	return c
}

// traceService creates a Service 80/TCP -> 80 with one ready endpoint.
func (e *env) traceService(namespace, name, backend string) *corev1.Service {
	e.t.Helper()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{
			{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(80)}}}}
	if err := e.c.Create(e.ctx, svc); err != nil {
		e.t.Fatalf("create service %s: %v", name, err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-1",
			Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](80)}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{backend}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
	}
	if err := e.c.Create(e.ctx, slice); err != nil {
		e.t.Fatalf("create endpoint slice of %s: %v", name, err)
	}
	return svc
}
