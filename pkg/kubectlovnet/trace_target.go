package kubectlovnet

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// servicePrefix marks a Service target, "svc/NAMESPACE/NAME".
const servicePrefix = "svc/"

// Protocols a trace may carry; none means an ICMP echo request.
const (
	protoTCP  = "tcp"
	protoUDP  = "udp"
	protoICMP = "icmp"
)

// sourcePort is the client port of a traced TCP/UDP packet: any port in
// the ephemeral range traces the same.
const sourcePort = 40000

// tracePeer is a pod as the trace needs it.
type tracePeer struct {
	Namespace, Name string
	Port            string // logical switch port
	Node            string // the node the pod is scheduled to
	Address         annotation.Address
}

// traceRequest is what the command line asks for, resolved against the cluster.
type traceRequest struct {
	From tracePeer
	// Dst is the packet's destination address.
	Dst netip.Addr
	// ToPod is the target pod, nil for a Service or an address.
	ToPod *tracePeer
	// Service is "ns/name" of a Service target.
	Service  string
	Protocol string
	Port     int
}

// traceArgs is POD TARGET [tcp|udp PORT] as typed.
type traceArgs struct {
	Pod, Target, Protocol string
	Port                  int
}

func parseTraceArgs(args []string) (traceArgs, error) {
	if len(args) != 2 && len(args) != 4 {
		return traceArgs{}, fmt.Errorf("trace POD TARGET [tcp|udp PORT]: got %d arguments", len(args))
	}
	a := traceArgs{Pod: args[0], Target: args[1], Protocol: protoICMP}
	if len(args) == 2 {
		return a, nil
	}
	a.Protocol = strings.ToLower(args[2])
	if a.Protocol != protoTCP && a.Protocol != protoUDP {
		return traceArgs{}, fmt.Errorf("protocol %q: want tcp or udp", args[2])
	}
	port, err := strconv.Atoi(args[3])
	if err != nil || port < 1 || port > 65535 {
		return traceArgs{}, fmt.Errorf("port %q: want 1-65535", args[3])
	}
	a.Port = port
	return a, nil
}

// splitName reads "ns/name" or "name" (in namespace "default").
func splitName(s string) (namespace, name string) {
	if ns, n, ok := strings.Cut(s, "/"); ok {
		return ns, n
	}
	return corev1.NamespaceDefault, s
}

func resolvePod(ctx context.Context, c client.Client, ref string) (tracePeer, error) {
	ns, name := splitName(ref)
	var pod corev1.Pod
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod); err != nil {
		return tracePeer{}, fmt.Errorf("pod %s/%s: %w", ns, name, err)
	}
	addr, ok, err := annotation.ParseAddress(pod.Annotations)
	if err != nil {
		return tracePeer{}, fmt.Errorf("pod %s/%s: address record: %w", ns, name, err)
	}
	if !ok {
		return tracePeer{}, fmt.Errorf("pod %s/%s has no address yet (no %s annotation)", ns, name, annotation.Allocated)
	}
	return tracePeer{Namespace: ns, Name: name, Port: ovnname.PodPort(ns, name), Node: pod.Spec.NodeName, Address: addr}, nil
}

// resolveTrace turns the typed arguments into the packet to trace.
func resolveTrace(ctx context.Context, c client.Client, a traceArgs) (traceRequest, error) {
	from, err := resolvePod(ctx, c, a.Pod)
	if err != nil {
		return traceRequest{}, err
	}
	req := traceRequest{From: from, Protocol: a.Protocol, Port: a.Port}
	switch {
	case strings.HasPrefix(a.Target, servicePrefix):
		err = resolveService(ctx, c, strings.TrimPrefix(a.Target, servicePrefix), &req)
	default:
		if ip, perr := netip.ParseAddr(a.Target); perr == nil {
			req.Dst = ip
			break
		}
		var to tracePeer
		if to, err = resolvePod(ctx, c, a.Target); err == nil {
			req.ToPod, req.Dst = &to, to.Address.IP
		}
	}
	if err != nil {
		return traceRequest{}, err
	}
	if req.Dst.Is4() != from.Address.IP.Is4() {
		return traceRequest{}, fmt.Errorf("pod %s/%s has %s, target %s: not the same IP family", from.Namespace, from.Name, from.Address.IP, req.Dst)
	}
	return req, nil
}

// resolveService sets the Service's ClusterIP as destination; without a
// port given, its first port of a traceable protocol.
func resolveService(ctx context.Context, c client.Client, ref string, req *traceRequest) error {
	ns, name := splitName(ref)
	var svc corev1.Service
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		return fmt.Errorf("service %s/%s: %w", ns, name, err)
	}
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil {
		return fmt.Errorf("service %s/%s has no ClusterIP (%q)", ns, name, svc.Spec.ClusterIP)
	}
	req.Dst, req.Service = ip, ns+"/"+name
	if req.Protocol != protoICMP || len(svc.Spec.Ports) == 0 {
		return nil
	}
	p := svc.Spec.Ports[0]
	req.Protocol, req.Port = strings.ToLower(string(p.Protocol)), int(p.Port)
	return nil
}

// microflow is the ovn-trace expression of the packet: the pod's first
// packet of a connection to the target, sent to dstMAC (the target's MAC
// on the same switch, else the gateway's).
func (r traceRequest) microflow(dstMAC string) string {
	ipv := "ip4"
	if r.Dst.Is6() {
		ipv = "ip6"
	}
	terms := []string{
		fmt.Sprintf("inport == %q", r.From.Port),
		"eth.src == " + r.From.Address.MAC.String(),
		"eth.dst == " + dstMAC,
		fmt.Sprintf("%s.src == %s", ipv, r.From.Address.IP),
		fmt.Sprintf("%s.dst == %s", ipv, r.Dst),
		"ip.ttl == 64",
	}
	switch r.Protocol {
	case protoTCP, protoUDP:
		terms = append(terms, r.Protocol,
			fmt.Sprintf("%s.src == %d", r.Protocol, sourcePort),
			fmt.Sprintf("%s.dst == %d", r.Protocol, r.Port))
	default:
		if ipv == "ip4" {
			terms = append(terms, "icmp4", "icmp4.type == 8", "icmp4.code == 0")
		} else {
			terms = append(terms, "icmp6", "icmp6.type == 128", "icmp6.code == 0")
		}
	}
	return strings.Join(terms, " && ")
}

// sameSwitch reports whether the packet stays on the pod's switch (no router hop).
func (r traceRequest) sameSwitch() bool {
	return r.ToPod != nil && r.ToPod.Address.LogicalSwitch == r.From.Address.LogicalSwitch
}
