package e2e

import (
	"fmt"
	"maps"
	"regexp"
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

const (
	// serviceTries is how many connections a check makes; with two
	// backends chosen by hash, all of them landing on one by chance has a
	// probability of 2^-29.
	serviceTries = 30
	// backendTCP and backendUDP are the ports the backends serve, behind
	// the Service ports 80/TCP and 53/UDP.
	backendTCP, backendUDP = 8080, 5353
)

// localRe reads the address the backend was reached on from a probe
// answer ("local=10.16.0.5:8080" or "local=[fd00:66::5]:8080"); each
// backend pod has its own, so it names the pod that answered. (The
// answer's host= is the machine's name, which every netns shares.)
var localRe = regexp.MustCompile(`local=(?:\[([0-9a-f:]+)\]|([0-9.]+)):`)

// localOf is the address localRe read; "" when the answer holds none.
func localOf(answer string) string {
	m := localRe.FindStringSubmatch(answer)
	if m == nil {
		return ""
	}
	return m[1] + m[2]
}

// answeredBy runs one probe connection and returns the backend address
// that answered.
func (e *env) answeredBy(from *harness.Sandbox, proto, target string) (string, error) {
	out, err := e.connect(from, proto, target)
	if err != nil {
		return "", fmt.Errorf("%s %s from %s: %w: %s", proto, target, from.Pod.Name, err, out)
	}
	local := localOf(out)
	if local == "" {
		return "", fmt.Errorf("answer without local address: %q", out)
	}
	return local, nil
}

// answerers makes serviceTries connections and returns how often each
// backend answered; a connection without answer is an error.
func (e *env) answerers(from *harness.Sandbox, proto, target string) (map[string]int, error) {
	seen := map[string]int{}
	for range serviceTries {
		who, err := e.answeredBy(from, proto, target)
		if err != nil {
			return seen, err
		}
		seen[who]++
	}
	return seen, nil
}

// mustAnswer is answerers for a test that cannot go on without answers.
func (e *env) mustAnswer(t *testing.T, from *harness.Sandbox, proto, target string) map[string]int {
	t.Helper()
	seen, err := e.answerers(from, proto, target)
	if err != nil {
		t.Fatalf("after answers from %v: %v", seen, err)
	}
	return seen
}

// webService creates a Service with 80/TCP -> 8080 and 53/UDP -> 5353.
func (e *env) webService(name string, affinity corev1.ServiceAffinity) *corev1.Service {
	e.t.Helper()
	return e.createService(webServiceObject(name, affinity))
}

// webServiceObject is webService's Service, to adjust before creating it.
func webServiceObject(name string, affinity corev1.ServiceAffinity) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, SessionAffinity: affinity, Ports: []corev1.ServicePort{
			{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("http")},
			{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(backendUDP)},
		}}}
}

// createService creates svc and returns it with its cluster IPs filled in.
func (e *env) createService(svc *corev1.Service) *corev1.Service {
	e.t.Helper()
	if err := e.c.Create(e.ctx, svc); err != nil {
		e.t.Fatalf("create service %s: %v", svc.Name, err)
	}
	return svc
}

// setEndpoints writes the Service's IPv4 EndpointSlice as the EndpointSlice
// controller would from the pods' readiness (no kube-controller-manager
// runs here): ready maps each backend pod's address to its readiness.
func (e *env) setEndpoints(svc *corev1.Service, ready map[string]bool) {
	e.t.Helper()
	e.setFamilyEndpoints(svc, discoveryv1.AddressTypeIPv4, ready)
}

// setFamilyEndpoints writes the Service's EndpointSlice of one family: the
// EndpointSlice controller writes one per family of a dual-stack Service.
func (e *env) setFamilyEndpoints(svc *corev1.Service, family discoveryv1.AddressType, ready map[string]bool) {
	e.t.Helper()
	name := svc.Name + "-1"
	if family != discoveryv1.AddressTypeIPv4 {
		name = svc.Name + "-" + strings.ToLower(string(family))
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: family,
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](backendTCP)},
			{Name: ptr.To("dns"), Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To[int32](backendUDP)},
		},
	}
	for _, ip := range slices.Sorted(maps.Keys(ready)) {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready[ip])}})
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

// Connections to a ClusterIP reach every ready endpoint and no unready
// one, over TCP and UDP; a removed endpoint stops getting traffic; a
// backend reaching its own Service is answered, by itself too; with
// ClientIP affinity one client keeps reaching one backend.
func TestServiceClusterIP(t *testing.T) {
	e := newEnv(t)
	node := e.node("n1")
	rt := node.Runtime(t)
	caller := rt.AddPod(t, e.pod("default", "client", "n1", nil))
	var backends []*harness.Sandbox
	for _, name := range []string{"web-1", "web-2", "web-3"} {
		s := rt.AddPod(t, e.pod("default", name, "n1", nil))
		e.serve(s, "--tcp", fmt.Sprint(backendTCP), "--udp", fmt.Sprint(backendUDP))
		backends = append(backends, s)
	}
	ip1, ip2, ip3 := backends[0].IP.String(), backends[1].IP.String(), backends[2].IP.String()
	web := e.webService("web", corev1.ServiceAffinityNone)
	e.setEndpoints(web, map[string]bool{ip1: true, ip2: true, ip3: false})
	vipTCP, vipUDP := web.Spec.ClusterIP+":80", web.Spec.ClusterIP+":53"
	e.eventually("the ClusterIP answers", func() error {
		_, err := e.answeredBy(caller, "tcp", vipTCP)
		return err
	})

	t.Run("every ready endpoint and no unready one", func(t *testing.T) {
		for _, proto := range []struct{ name, vip string }{{"tcp", vipTCP}, {"udp", vipUDP}} {
			seen := e.mustAnswer(t, caller, proto.name, proto.vip)
			if seen[ip1] == 0 || seen[ip2] == 0 || len(seen) != 2 {
				t.Errorf("%s to %s answered by %v, want both ready backends %s and %s and not %s", proto.name, proto.vip, seen, ip1, ip2, ip3)
			}
		}
	})
	t.Run("the node reaches the ClusterIP through ovn0", func(t *testing.T) {
		out, err := nodeExec(node, "ip", "route", "get", web.Spec.ClusterIP)
		if err != nil || !strings.Contains(out, "dev ovn0") {
			t.Fatalf("route to %s on the node: %v\n%s", web.Spec.ClusterIP, err, out)
		}
		seen := map[string]int{}
		for range serviceTries {
			out, err := nodeExec(node, e.probe, "connect", "tcp", vipTCP, "--timeout", "2s")
			local := localOf(out)
			if err != nil || local == "" {
				t.Fatalf("tcp %s from the node: %v\n%s", vipTCP, err, out)
			}
			seen[local]++
		}
		if seen[ip1] == 0 || seen[ip2] == 0 || len(seen) != 2 {
			t.Errorf("tcp %s from the node answered by %v, want %s and %s", vipTCP, seen, ip1, ip2)
		}
	})
	t.Run("a removed endpoint stops getting traffic", func(t *testing.T) {
		e.setEndpoints(web, map[string]bool{ip1: true, ip3: false})
		until(t, "only "+ip1+" answers", func() error {
			for range 5 {
				if who, err := e.answeredBy(caller, "tcp", vipTCP); err != nil || who != ip1 {
					return fmt.Errorf("answered by %s (%v)", who, err)
				}
			}
			return nil
		})
		if seen := e.mustAnswer(t, caller, "tcp", vipTCP); len(seen) != 1 || seen[ip1] != serviceTries {
			t.Errorf("after removing %s: answered by %v, want %s only", ip2, seen, ip1)
		}
	})
	t.Run("hairpin: a backend reaches its own service", func(t *testing.T) {
		if who, err := e.answeredBy(backends[0], "tcp", vipTCP); err != nil || who != ip1 {
			t.Fatalf("web-1 to its own service, which only it backs: answered by %q, %v", who, err)
		}
		e.setEndpoints(web, map[string]bool{ip1: true, ip2: true})
		until(t, "web-1 reaches both backends, itself included", func() error {
			seen, err := e.answerers(backends[0], "tcp", vipTCP)
			if err != nil || seen[ip1] == 0 || seen[ip2] == 0 || len(seen) != 2 {
				return fmt.Errorf("answered by %v (%v)", seen, err)
			}
			return nil
		})
		if seen := e.mustAnswer(t, backends[0], "udp", vipUDP); seen[ip1] == 0 || seen[ip2] == 0 || len(seen) != 2 {
			t.Errorf("udp from web-1 to its service answered by %v, want %s and %s", seen, ip1, ip2)
		}
	})
	t.Run("a Service without ready endpoints refuses at once", func(t *testing.T) {
		e.setEndpoints(web, map[string]bool{ip3: false})
		until(t, "connections refused", func() error {
			out, err := e.connect(caller, "tcp", vipTCP)
			if err == nil || !strings.Contains(out, "refused") {
				return fmt.Errorf("connect: %v: %s", err, out)
			}
			return nil
		})
		e.setEndpoints(web, map[string]bool{ip1: true, ip2: true})
	})
	t.Run("ClientIP affinity keeps a client on one backend", func(t *testing.T) {
		sticky := e.webService("sticky", corev1.ServiceAffinityClientIP)
		e.setEndpoints(sticky, map[string]bool{ip1: true, ip2: true, ip3: true})
		target := sticky.Spec.ClusterIP + ":80"
		for _, from := range []*harness.Sandbox{caller, backends[2]} {
			// OVN 23.03 loses the first connection of a client new to an
			// affinity load balancer while it learns the client's backend
			// (a known OVN limitation); the session starts with the next.
			until(t, from.Pod.Name+" reaches the sticky ClusterIP", func() error {
				_, err := e.answeredBy(from, "tcp", target)
				return err
			})
			if seen := e.mustAnswer(t, from, "tcp", target); len(seen) != 1 {
				t.Errorf("%s with ClientIP affinity answered by %v, want one backend", from.Pod.Name, seen)
			}
		}
	})
}

// A Service whose backends sit on two nodes, reached from a pod of
// another subnet: the client's switch balances, the cluster router and
// the Geneve tunnel carry the connection, and answers come back through
// the client's switch, which undoes the translation.
func TestServiceAcrossNodesAndSubnets(t *testing.T) {
	e := newEnv(t)
	nodes := e.geneveNodes("n1", "n2")
	n1, n2 := nodes[0], nodes[1]
	e.namespace("blue", map[string]string{annotation.CIDR: "10.66.0.0/24"})
	caller := n1.Runtime(t).AddPod(t, e.pod("blue", "client", "n1", nil))
	b1 := n1.Runtime(t).AddPod(t, e.pod("default", "web-1", "n1", nil))
	b2 := n2.Runtime(t).AddPod(t, e.pod("default", "web-2", "n2", nil))
	for _, s := range []*harness.Sandbox{b1, b2} {
		e.serve(s, "--tcp", fmt.Sprint(backendTCP), "--udp", fmt.Sprint(backendUDP))
	}
	web := e.webService("web", corev1.ServiceAffinityNone)
	e.setEndpoints(web, map[string]bool{b1.IP.String(): true, b2.IP.String(): true})
	for _, proto := range []struct{ name, vip string }{{"tcp", web.Spec.ClusterIP + ":80"}, {"udp", web.Spec.ClusterIP + ":53"}} {
		until(t, proto.name+" to the ClusterIP", func() error {
			_, err := e.answeredBy(caller, proto.name, proto.vip)
			return err
		})
		seen := e.mustAnswer(t, caller, proto.name, proto.vip)
		if seen[b1.IP.String()] == 0 || seen[b2.IP.String()] == 0 || len(seen) != 2 {
			t.Errorf("%s from blue/client on n1 answered by %v, want %s (n1) and %s (n2)", proto.name, seen, b1.IP, b2.IP)
		}
	}
}
