package e2e

import (
	"fmt"
	"strings"

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
