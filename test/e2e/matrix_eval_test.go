package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// matrixPort is one of the ports every model pod serves.
type matrixPort struct {
	protocol corev1.Protocol
	number   int32
}

func (p matrixPort) String() string {
	return strings.ToLower(string(p.protocol)) + "/" + fmt.Sprint(p.number)
}

// matrixPorts are the ports of the upstream NetworkPolicy model, in the
// order the matrix holds them.
var matrixPorts = [portCount]matrixPort{
	{corev1.ProtocolTCP, 80}, {corev1.ProtocolTCP, 81}, {corev1.ProtocolUDP, 80}, {corev1.ProtocolUDP, 81},
}

const (
	portCount = 4
	// podCount is the model's namespaces x, y, z times its pods a, b, c.
	podCount = 9
)

// matrix says, per port, whether a connection from pod i to pod j is
// answered: allowed[port][from][to]. Pods are indexed as model.pods.
type matrix struct {
	allowed [portCount][podCount][podCount]bool
}

// allAllowed is the matrix of a cluster without policies.
func allAllowed() matrix {
	var m matrix
	for p := range portCount {
		for from := range podCount {
			for to := range podCount {
				m.allowed[p][from][to] = true
			}
		}
	}
	return m
}

// podView is what the policy semantics look at: a pod's namespace, labels,
// its namespace's labels, its address and the names of its ports.
type podView struct {
	namespace       string
	labels          map[string]string
	namespaceLabels map[string]string
	ip              string
	ports           []corev1.ContainerPort
}

// portName is the name the pod gives port, "" if it names none; named
// ports in policies resolve against the destination pod's names.
func (v podView) portName(port matrixPort) string {
	for _, p := range v.ports {
		if p.ContainerPort == port.number && p.Protocol == port.protocol {
			return p.Name
		}
	}
	return ""
}

func (v podView) peer() *matcher.TrafficPeer {
	return &matcher.TrafficPeer{IP: v.ip, Internal: &matcher.InternalPeer{
		Namespace: v.namespace, PodLabels: v.labels, NamespaceLabels: v.namespaceLabels}}
}

// expectedMatrix evaluates the policies on the pods with Cyclonus's
// matcher, an implementation of the Kubernetes semantics independent of
// ovnet. A pod reaching itself is always allowed: the kernel delivers
// traffic to its own address over loopback, which no network plugin sees
// (the upstream suite's AllowLoopback).
func expectedMatrix(policies []*networkingv1.NetworkPolicy, pods [podCount]podView) matrix {
	semantics := matcher.BuildNetworkPolicies(true, policies)
	var m matrix
	for p, port := range matrixPorts {
		for from := range podCount {
			for to := range podCount {
				traffic := &matcher.Traffic{
					Source: pods[from].peer(), Destination: pods[to].peer(),
					ResolvedPort: int(port.number), ResolvedPortName: pods[to].portName(port), Protocol: port.protocol,
				}
				m.allowed[p][from][to] = from == to || semantics.IsTrafficAllowed(traffic).IsAllowed()
			}
		}
	}
	return m
}

// cell is how a table shows one connection: '.' allowed, 'X' denied.
func cell(allowed bool) string {
	if allowed {
		return "."
	}
	return "X"
}

// compare renders expected and observed side by side per port, in the
// style of Cyclonus's tables (rows: from, columns: to), a differing cell
// of the observed table marked with '*'. It returns "" when they agree.
func compare(names [podCount]string, expected, observed matrix) string {
	if expected == observed {
		return ""
	}
	var b strings.Builder
	header := fmt.Sprintf("%-5s", "")
	for _, n := range names {
		header += fmt.Sprintf("%-5s", n)
	}
	for p, port := range matrixPorts {
		if expected.allowed[p] == observed.allowed[p] {
			fmt.Fprintf(&b, "%s: as expected\n", port)
			continue
		}
		fmt.Fprintf(&b, "%s%-*s%s\n", "", 5*(podCount+1)+3, port.String()+" expected", port.String()+" observed (* differs)")
		fmt.Fprintf(&b, "%s   %s\n", header, header)
		for from := range podCount {
			exp, obs := fmt.Sprintf("%-5s", names[from]), fmt.Sprintf("%-5s", names[from])
			for to := range podCount {
				e, o := expected.allowed[p][from][to], observed.allowed[p][from][to]
				mark := " "
				if e != o {
					mark = "*"
				}
				exp += fmt.Sprintf("%-5s", cell(e))
				obs += fmt.Sprintf("%-5s", cell(o)+mark)
			}
			fmt.Fprintf(&b, "%s   %s\n", exp, obs)
		}
	}
	return b.String()
}

// cellWant is one cell of a matrix and the answer wanted there.
type cellWant struct {
	port, from, to int
	allowed        bool
}

// The evaluation is wired to Cyclonus as the semantics say: named ports
// resolve against the destination pod, egress isolation leaves
// connections into the pod alone, and a pod always reaches itself.
func TestExpectedMatrix(t *testing.T) {
	var pods [podCount]podView
	for i := range podCount {
		ns, name := modelNamespaces[i/len(modelPodNames)], modelPodNames[i%len(modelPodNames)]
		pods[i] = podView{namespace: ns, labels: map[string]string{podLabel: name},
			namespaceLabels: map[string]string{namespaceLabel: ns}, ip: fmt.Sprintf("10.16.0.%d", i+2),
			ports: modelPod(ns, name, "n1").Spec.Containers[0].Ports}
	}
	tcp := corev1.ProtocolTCP
	const xa, xb, ya = 0, 1, 3
	tcp80, tcp81, udp80 := 0, 1, 2
	tests := []struct {
		name   string
		policy pol
		cells  []cellWant
	}{
		{name: "ingress isolation", policy: pol{namespace: "x", name: "p", pods: podIs("a"), types: ingressOnly},
			cells: []cellWant{{tcp80, xb, xa, false}, {udp80, ya, xa, false}, {tcp80, xa, xb, true}, {tcp80, xa, xa, true}}},
		{name: "egress isolation", policy: pol{namespace: "x", name: "p", pods: podIs("a"), types: egressOnly},
			cells: []cellWant{{tcp80, xa, xb, false}, {tcp80, ya, xa, true}, {tcp81, xa, xa, true}}},
		{name: "named port", policy: pol{namespace: "x", name: "p", pods: podIs("a"), types: ingressOnly,
			ingress: []rule{{ports: ports(namedPort("serve-81-tcp", &tcp))}}},
			cells: []cellWant{{tcp81, ya, xa, true}, {tcp80, ya, xa, false}, {udp80, ya, xa, false}}},
		// y/a is 10.16.0.5, excepted.
		{name: "egress named port to an ipBlock", policy: pol{namespace: "x", name: "p", pods: podIs("a"), types: egressOnly,
			egress: []rule{{peers: peers(fromCIDR("10.16.0.0/24", "10.16.0.5/32")), ports: ports(namedPort("serve-80-tcp", &tcp))}}},
			cells: []cellWant{{tcp80, xa, xb, true}, {tcp81, xa, xb, false}, {udp80, xa, xb, false}, {tcp80, xa, ya, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := expectedMatrix([]*networkingv1.NetworkPolicy{tt.policy.object()}, pods)
			for _, c := range tt.cells {
				if got := m.allowed[c.port][c.from][c.to]; got != c.allowed {
					t.Errorf("%s from pod %d to pod %d: allowed=%t, want %t", matrixPorts[c.port], c.from, c.to, got, c.allowed)
				}
			}
			if none := expectedMatrix(nil, pods); none != allAllowed() {
				t.Errorf("without policies something is denied")
			}
		})
	}
}
