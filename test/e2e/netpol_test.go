package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// labeledNamespace creates a namespace with labels and annotations.
func (e *env) labeledNamespace(name string, labels, annotations map[string]string) {
	e.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}}
	if err := e.c.Create(e.ctx, ns); err != nil {
		e.t.Fatalf("create namespace %s: %v", name, err)
	}
}

// labeledPod creates a pod with labels and named TCP container ports,
// bound to node, and adds its sandbox.
func (e *env) labeledPod(rt *harness.Runtime, namespace, name, node string, labels map[string]string,
	annotations map[string]string, ports map[string]int32) *harness.Sandbox {
	e.t.Helper()
	pod := e.podObject(namespace, name)
	pod.Labels, pod.Annotations, pod.Spec.NodeName = labels, annotations, node
	for n, p := range ports {
		pod.Spec.Containers[0].Ports = append(pod.Spec.Containers[0].Ports, corev1.ContainerPort{Name: n, ContainerPort: p})
	}
	if err := e.c.Create(e.ctx, pod); err != nil {
		e.t.Fatalf("create pod %s/%s: %v", namespace, name, err)
	}
	return rt.AddPod(e.t, pod)
}

func (e *env) createPolicy(p *networkingv1.NetworkPolicy) {
	e.t.Helper()
	if err := e.c.Create(e.ctx, p); err != nil {
		e.t.Fatalf("create networkpolicy %s: %v", p.Name, err)
	}
}

func (e *env) deletePolicy(namespace, name string) {
	e.t.Helper()
	p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := e.c.Delete(e.ctx, p); err != nil {
		e.t.Fatalf("delete networkpolicy %s: %v", name, err)
	}
}

// reachable waits until a TCP connection from one sandbox to host:port succeeds.
func (e *env) reachable(from *harness.Sandbox, target string) {
	e.t.Helper()
	e.eventually(from.Pod.Name+" reaches "+target, func() error {
		_, err := e.connect(from, "tcp", target)
		return err
	})
}

// blocked waits until a TCP connection from one sandbox to host:port fails.
func (e *env) blocked(from *harness.Sandbox, target string) {
	e.t.Helper()
	e.eventually(from.Pod.Name+" blocked from "+target, func() error {
		if out, err := e.connect(from, "tcp", target); err == nil {
			return fmt.Errorf("connected: %s", strings.TrimSpace(out))
		}
		return nil
	})
}

func selector(k, v string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
}

// logLine waits for a line of ovn-controller's log holding every part.
func (e *env) logLine(n *harness.Node, parts ...string) string {
	e.t.Helper()
	logFile := filepath.Join(n.Chassis.LogDir, "ovn-controller.log")
	var found string
	e.eventually("ovn-controller logs "+strings.Join(parts, " "), func() error {
		data, err := os.ReadFile(logFile)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if containsAll(line, parts...) {
				found = line
				return nil
			}
		}
		return fmt.Errorf("no such line in %s", logFile)
	})
	return found
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// A NetworkPolicy works end to end: an ingress policy isolating the server
// blocks a connection that worked, an allow rule re-opens one port and
// not the other, the node still reaches the isolated pod, drops and allows
// are logged by ovn-controller under the policy's name, an egress rule with
// a named port allows exactly that port and leaves replies alone, and
// deleting the policies restores what was there.
func TestNetworkPolicyPackets(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	e.labeledNamespace("np", map[string]string{"team": "a"},
		map[string]string{annotation.ACLLogging: `{"deny":"alert","allow":"notice"}`})
	server := e.labeledPod(rt, "np", "server", "n1", map[string]string{"app": "web"}, nil, map[string]int32{"http": 80})
	client := e.labeledPod(rt, "np", "client", "n1", map[string]string{"app": "client"}, nil, nil)
	e.serve(server, "--tcp", "80,81")
	http, other := server.IP.String()+":80", server.IP.String()+":81"
	e.reachable(client, http)
	e.reachable(client, other)

	e.createPolicy(&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "np", Name: "deny-web"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: selector("app", "web")}})
	e.blocked(client, http)
	e.blocked(client, other)
	e.eventually("node reaches the isolated pod (kubelet probes)", func() error {
		_, err := nodeExec(n, "ping", "-c", "1", "-W", "1", server.IP.String())
		return err
	})
	t.Logf("drop logged: %s", e.logLine(n, `name="np/ingressDefaultDeny"`, "verdict=drop", "severity=alert"))

	port80 := intstr.FromInt32(80)
	e.createPolicy(&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "np", Name: "allow-client"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: selector("app", "web"), Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: &port80}},
		}}}})
	// Forgotten neighbours must be resolved again: ARP to and from the
	// isolated pod passes.
	for _, s := range []*harness.Sandbox{client, server} {
		if out, err := s.Exec("ip", "neigh", "flush", "all"); err != nil {
			t.Fatalf("flush neighbours of %s: %v\n%s", s.Pod.Name, err, out)
		}
	}
	e.reachable(client, http)
	e.blocked(client, other)
	t.Logf("allow logged: %s", e.logLine(n, `name="np/allow-client"`, "verdict=allow", "severity=notice"))

	e.deletePolicy("np", "allow-client")
	e.deletePolicy("np", "deny-web")
	e.reachable(client, other)

	named := intstr.FromString("http")
	e.createPolicy(&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "np", Name: "client-egress"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: selector("app", "client"),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &named}},
			}}}})
	e.blocked(client, other)
	e.reachable(client, http)
	// Egress isolation leaves the pod's answers alone: replies to
	// connections others open to it, and to the node's probes.
	e.serve(client, "--tcp", "80")
	e.reachable(server, client.IP.String()+":80")
	e.eventually("node reaches the egress-isolated pod", func() error {
		_, err := nodeExec(n, "ping", "-c", "1", "-W", "1", client.IP.String())
		return err
	})
	e.deletePolicy("np", "client-egress")
	e.reachable(client, other)
}

// A private namespace's pods are reached from inside their subnet, from
// the allow list and from the node, not from other pods; their own
// connections to the outside still get their replies.
func TestPrivateNamespacePackets(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	e.labeledNamespace("priv", nil, map[string]string{annotation.CIDR: "10.70.0.0/24",
		annotation.Private: "true", annotation.Allow: "10.16.0.50/32"})
	in1 := e.labeledPod(rt, "priv", "in1", "n1", nil, nil, nil)
	in2 := e.labeledPod(rt, "priv", "in2", "n1", nil, nil, nil)
	allowed := e.labeledPod(rt, "default", "allowed", "n1", nil, map[string]string{annotation.IPAddress: "10.16.0.50"}, nil)
	outsider := e.labeledPod(rt, "default", "outsider", "n1", nil, nil, nil)
	e.serve(in1, "--tcp", "80")
	e.serve(outsider, "--tcp", "80")
	target := in1.IP.String() + ":80"

	e.reachable(in2, target)
	e.reachable(allowed, target)
	e.blocked(outsider, target)
	e.reachable(in1, outsider.IP.String()+":80")
	e.eventually("node reaches the private pod", func() error {
		_, err := nodeExec(n, "ping", "-c", "1", "-W", "1", in1.IP.String())
		return err
	})
}
