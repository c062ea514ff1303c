package e2e

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// nodePortEndpoint is one endpoint of a test Service as the EndpointSlice
// controller would list it.
type nodePortEndpoint struct {
	pod   *harness.Sandbox
	ready bool
}

// nodePortSpec is a selector-less NodePort Service with 80/TCP -> 8080
// and 53/UDP -> 5353 on the given node ports.
type nodePortSpec struct {
	name      string
	policy    corev1.ServiceExternalTrafficPolicy
	tcp, udp  int32
	endpoints []nodePortEndpoint
}

// nodePortService creates the Service and its one EndpointSlice.
func (e *env) nodePortService(spec nodePortSpec) *corev1.Service {
	e.t.Helper()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: spec.name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ExternalTrafficPolicy: spec.policy, Ports: []corev1.ServicePort{
			{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(backendTCP), NodePort: spec.tcp},
			{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(backendUDP), NodePort: spec.udp},
		}}}
	if err := e.c.Create(e.ctx, svc); err != nil {
		e.t.Fatalf("create service %s: %v", spec.name, err)
	}
	e.setEndpointsOnNodes(svc, spec.endpoints)
	return svc
}

// setEndpointsOnNodes writes the Service's one EndpointSlice, each
// endpoint with its pod's node, which the Local policy goes by.
func (e *env) setEndpointsOnNodes(svc *corev1.Service, endpoints []nodePortEndpoint) {
	e.t.Helper()
	e.setFamilyEndpointsOnNodes(svc, discoveryv1.AddressTypeIPv4, endpoints)
}

// setFamilyEndpointsOnNodes writes the Service's EndpointSlice of one
// family: each endpoint is its pod's address of that family.
func (e *env) setFamilyEndpointsOnNodes(svc *corev1.Service, family discoveryv1.AddressType, endpoints []nodePortEndpoint) {
	e.t.Helper()
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name + "-" + strings.ToLower(string(family)),
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: family,
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](backendTCP)},
			{Name: ptr.To("dns"), Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To[int32](backendUDP)},
		},
	}
	for _, ep := range endpoints {
		addr := ep.pod.IP
		for _, ip := range ep.pod.IPs {
			if ip.Is4() == (family == discoveryv1.AddressTypeIPv4) {
				addr = ip
			}
		}
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{addr.String()},
			NodeName: ptr.To(ep.pod.Pod.Spec.NodeName), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ep.ready)}})
	}
	have := &discoveryv1.EndpointSlice{}
	err := e.c.Get(e.ctx, client.ObjectKeyFromObject(slice), have)
	if err == nil {
		slice.ResourceVersion = have.ResourceVersion
		err = e.c.Update(e.ctx, slice)
	} else {
		err = e.c.Create(e.ctx, slice)
	}
	if err != nil {
		e.t.Fatalf("write endpoint slice of %s: %v", svc.Name, err)
	}
}

// externalAnswer is one connection from the external host: the backend
// that answered (its address) and the client address it saw.
type externalAnswer struct {
	backend, client netip.Addr
}

// connectFromOutside makes one probe connection from the external host.
func (e *env) connectFromOutside(o *outside, proto, target string) (externalAnswer, error) {
	out, err := o.ext.Exec(e.probe, "connect", proto, target, "--timeout", "2s")
	if err != nil {
		return externalAnswer{}, fmt.Errorf("%s %s from the external host: %w: %s", proto, target, err, out)
	}
	local := localOf(out)
	if local == "" {
		return externalAnswer{}, fmt.Errorf("answer without local address: %q", out)
	}
	client, err := clientSeen(out)
	if err != nil {
		return externalAnswer{}, err
	}
	return externalAnswer{backend: netip.MustParseAddr(local), client: client}, nil
}

// outsideAnswerers makes serviceTries connections from the external host
// and counts the backends that answered and the client addresses they
// saw; a connection without answer is an error.
func (e *env) outsideAnswerers(o *outside, proto, target string) (backends, clients map[netip.Addr]int, err error) {
	backends, clients = map[netip.Addr]int{}, map[netip.Addr]int{}
	for range serviceTries {
		a, err := e.connectFromOutside(o, proto, target)
		if err != nil {
			return backends, clients, err
		}
		backends[a.backend]++
		clients[a.client]++
	}
	return backends, clients, nil
}

// onlyAnswered checks that exactly want answered, each at least once.
func onlyAnswered(seen map[netip.Addr]int, want ...netip.Addr) error {
	got := slices.SortedFunc(maps.Keys(seen), netip.Addr.Compare)
	slices.SortFunc(want, netip.Addr.Compare)
	if !slices.Equal(got, want) {
		return fmt.Errorf("answered by %v, want exactly %v", seen, want)
	}
	return nil
}

// dropped checks that a connection from the external host gets no answer
// and times out: dropped on the way, not refused by a host without a
// listener.
func (e *env) dropped(o *outside, proto, target string) error {
	a, err := e.connectFromOutside(o, proto, target)
	switch {
	case err == nil:
		return fmt.Errorf("%s %s answered by %s (client %s), want it dropped", proto, target, a.backend, a.client)
	case !strings.Contains(err.Error(), "timeout"):
		return fmt.Errorf("want a timeout (a drop): %w", err)
	}
	return nil
}

// nodePort is a node's address and port as "probe connect" takes it.
func nodePort(i int, port int32) string {
	return netip.AddrPortFrom(nodeAddr(i), uint16(port)).String()
}

// TestNodePortFromOutside: a NodePort Service is reachable from the
// external host at every node's address, with no kube-proxy. Under
// externalTrafficPolicy Cluster every ready endpoint, on either node,
// answers at either node and a not-ready one never does; under Local only
// the node's own ready endpoints answer, they see the external host's
// address, and a node with none drops.
func TestNodePortFromOutside(t *testing.T) {
	e := newEnv(t)
	o := e.outsideNodes("n1", "n2")
	web := map[string]*harness.Sandbox{}
	for _, w := range []struct{ name, node string }{{"web-n1", "n1"}, {"web-n2", "n2"}, {"idle-n2", "n2"}} {
		n := o.nodes[slices.IndexFunc(o.nodes, func(n *harness.Node) bool { return n.Name == w.node })]
		web[w.name] = n.Runtime(t).AddPod(t, e.pod("default", w.name, w.node, nil))
		e.serve(web[w.name], "--tcp", fmt.Sprint(backendTCP), "--udp", fmt.Sprint(backendUDP))
	}
	web1, web2, idle := web["web-n1"].IP, web["web-n2"].IP, web["idle-n2"].IP
	endpoints := []nodePortEndpoint{{web["web-n1"], true}, {web["web-n2"], true}, {web["idle-n2"], false}}
	e.nodePortService(nodePortSpec{name: "np-cluster", policy: corev1.ServiceExternalTrafficPolicyCluster,
		tcp: 30080, udp: 30053, endpoints: endpoints})
	local := e.nodePortService(nodePortSpec{name: "np-local", policy: corev1.ServiceExternalTrafficPolicyLocal,
		tcp: 30081, udp: 30054, endpoints: endpoints})
	// Endpoints on n2 only: n1 has nothing local to send to.
	e.nodePortService(nodePortSpec{name: "np-local-n2", policy: corev1.ServiceExternalTrafficPolicyLocal,
		tcp: 30082, udp: 30055, endpoints: endpoints[1:]})

	for _, proto := range []struct {
		name              string
		cluster, local    int32
		localOnlyOnSecond int32
	}{{"tcp", 30080, 30081, 30082}, {"udp", 30053, 30054, 30055}} {
		t.Run("cluster/"+proto.name, func(t *testing.T) {
			for i, n := range o.nodes {
				target := nodePort(i, proto.cluster)
				until(t, fmt.Sprintf("%s at %s (%s) answers", proto.name, target, n.Name), func() error {
					_, err := e.connectFromOutside(o, proto.name, target)
					return err
				})
				backends, clients, err := e.outsideAnswerers(o, proto.name, target)
				if err != nil {
					t.Fatalf("after answers from %v: %v", backends, err)
				}
				if err := onlyAnswered(backends, web1, web2); err != nil {
					t.Errorf("%s at %s (%s), not-ready %s: %v", proto.name, target, n.Name, idle, err)
				}
				// Cluster masquerades into ovn0, so replies come back
				// through this node: no endpoint sees the outside client.
				if clients[harness.ExternalHostIP] != 0 {
					t.Errorf("%s at %s (%s): clients seen %v, want the node's join address, not %s",
						proto.name, target, n.Name, clients, harness.ExternalHostIP)
				}
			}
		})
		t.Run("local/"+proto.name, func(t *testing.T) {
			for i, want := range []netip.Addr{web1, web2} {
				target := nodePort(i, proto.local)
				until(t, fmt.Sprintf("%s at %s answers", proto.name, target), func() error {
					_, err := e.connectFromOutside(o, proto.name, target)
					return err
				})
				backends, clients, err := e.outsideAnswerers(o, proto.name, target)
				if err != nil {
					t.Fatalf("after answers from %v: %v", backends, err)
				}
				if err := onlyAnswered(backends, want); err != nil {
					t.Errorf("%s at %s (%s): %v", proto.name, target, o.nodes[i].Name, err)
				}
				if err := onlyAnswered(clients, harness.ExternalHostIP); err != nil {
					t.Errorf("%s at %s (%s), clients seen: %v", proto.name, target, o.nodes[i].Name, err)
				}
			}
		})
		t.Run("local without a local endpoint/"+proto.name, func(t *testing.T) {
			at2 := nodePort(1, proto.localOnlyOnSecond)
			until(t, fmt.Sprintf("%s at %s answers", proto.name, at2), func() error {
				a, err := e.connectFromOutside(o, proto.name, at2)
				if err == nil && a.backend != web2 {
					return fmt.Errorf("answered by %s, want %s", a.backend, web2)
				}
				return err
			})
			at1 := nodePort(0, proto.localOnlyOnSecond)
			for range 3 {
				if err := e.dropped(o, proto.name, at1); err != nil {
					t.Fatalf("n1 without a local endpoint: %v", err)
				}
			}
		})
	}
	t.Run("from pods and nodes", func(t *testing.T) {
		caller := o.nodes[0].Runtime(t).AddPod(t, e.pod("default", "caller", "n1", nil))
		for i, n := range o.nodes {
			target := nodePort(i, 30080)
			until(t, "pod on n1 to "+target+" ("+n.Name+"), policy Cluster", func() error {
				seen, err := e.answerers(caller, "tcp", target)
				if err != nil {
					return err
				}
				return onlyAnswered(addrKeys(seen), web1, web2)
			})
			target = nodePort(i, 30081)
			until(t, "pod on n1 to "+target+" ("+n.Name+"), policy Local", func() error {
				who, err := e.answeredBy(caller, "tcp", target)
				if want := []netip.Addr{web1, web2}[i]; err == nil && who != want.String() {
					return fmt.Errorf("answered by %s, want %s", who, want)
				}
				return err
			})
		}
		// The other node, over the underlay: OVN routes the endpoint's
		// reply to a node address straight to that node, so n1
		// masquerades it (the client seen is n1's join address).
		out, err := nodeExec(o.nodes[1], e.probe, "connect", "tcp", nodePort(0, 30081), "--timeout", "2s")
		if local := localOf(out); err != nil || local != web1.String() {
			t.Errorf("n2 to n1's Local node port: %v: %s, want answered by %s", err, out, web1)
		}
	})
	t.Run("Local follows its endpoints", func(t *testing.T) {
		e.setEndpointsOnNodes(local, []nodePortEndpoint{{web["web-n2"], true}, {web["idle-n2"], true}})
		until(t, "both endpoints on n2 answer at n2, none at n1", func() error {
			if a, err := e.connectFromOutside(o, "tcp", nodePort(0, 30081)); err == nil {
				return fmt.Errorf("n1 still answers, by %s", a.backend)
			}
			backends, _, err := e.outsideAnswerers(o, "tcp", nodePort(1, 30081))
			if err != nil {
				return err
			}
			return onlyAnswered(backends, web2, idle)
		})
	})
}

// addrKeys parses the keys of a count by address.
func addrKeys(seen map[string]int) map[netip.Addr]int {
	out := map[netip.Addr]int{}
	for k, v := range seen {
		if a, err := netip.ParseAddr(k); err == nil {
			out[a] += v
		}
	}
	return out
}

// TestNodePortCentralizedEndpoint: a Local node port whose endpoint's
// subnet is centralized on another node still answers at the endpoint's
// node (its reply would leave through the gateway node, so that node
// masquerades it), and keeps the client address again once the subnet is
// back to distributed.
func TestNodePortCentralizedEndpoint(t *testing.T) {
	e := newEnv(t)
	o := e.outsideNodes("n1", "n2")
	e.namespace("central", map[string]string{annotation.CIDR: "10.84.0.0/24",
		annotation.GatewayType: "centralized", annotation.GatewayNode: "n2"})
	pod := o.nodes[0].Runtime(t).AddPod(t, e.pod("central", "web", "n1", nil))
	e.serve(pod, "--tcp", fmt.Sprint(backendTCP), "--udp", fmt.Sprint(backendUDP))
	e.farSeesPod(t, pod, nodeAddr(1))
	e.nodePortService(nodePortSpec{name: "np-local", policy: corev1.ServiceExternalTrafficPolicyLocal,
		tcp: 30081, udp: 30054, endpoints: []nodePortEndpoint{{pod, true}}})
	answers := func(t *testing.T, proto, target string, client netip.Addr) {
		t.Helper()
		until(t, fmt.Sprintf("%s at %s answered by %s", proto, target, pod.IP), func() error {
			a, err := e.connectFromOutside(o, proto, target)
			switch {
			case err != nil:
				return err
			case a.backend != pod.IP:
				return fmt.Errorf("answered by %s", a.backend)
			case client.IsValid() && a.client != client:
				return fmt.Errorf("client seen %s, want %s", a.client, client)
			}
			return nil
		})
	}
	t.Run("centralized on n2", func(t *testing.T) {
		for _, p := range []struct {
			proto string
			port  int32
		}{{"tcp", 30081}, {"udp", 30054}} {
			answers(t, p.proto, nodePort(0, p.port), netip.Addr{})
			if err := e.dropped(o, p.proto, nodePort(1, p.port)); err != nil {
				t.Errorf("n2 without a local endpoint: %v", err)
			}
		}
	})
	t.Run("back to distributed", func(t *testing.T) {
		e.patchNamespaceAnnotations(t, "central", map[string]*string{annotation.GatewayType: nil, annotation.GatewayNode: nil})
		e.farSeesPod(t, pod, nodeAddr(0))
		answers(t, "tcp", nodePort(0, 30081), harness.ExternalHostIP)
	})
}
