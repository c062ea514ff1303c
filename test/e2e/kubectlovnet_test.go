package e2e

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ovnet/ovnet/test/harness"
)

// TestKubectlOvnetTrace traces with `kubectl ovnet trace` what real
// packets do between two pods on two nodes under a NetworkPolicy: the
// allowed port names the policy's ACL and leaves by the server's port,
// another port names the namespace's default deny and is dropped, and the
// Service's ClusterIP names its load balancer.
func TestKubectlOvnetTrace(t *testing.T) {
	e := newEnv(t)
	nodes := e.geneveNodes("n1", "n2")
	rt1, rt2 := nodes[0].Runtime(t), nodes[1].Runtime(t)
	e.labeledNamespace("tr", nil, nil)
	server := e.labeledPod(rt2, "tr", "server", "n2", map[string]string{"app": "web"}, nil, map[string]int32{"http": 80})
	client := e.labeledPod(rt1, "tr", "client", "n1", map[string]string{"app": "client"}, nil, nil)
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
		{"service", []string{"tr/client", "svc/tr/web"}, []string{
			`(?m)^load balancer\s+Service_tr/web_tcp\s+` + regexp.QuoteMeta(svc.Spec.ClusterIP+":80 -> "+http),
			`(?m)^acl .* name "tr/allow-client"`,
			`(?m)^route\s+`,
			`(?m)^verdict\s+output to server\.tr  \(via ovn-default-ovn-cluster -> ovn-cluster-ovn-default\)$`,
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
