package integration

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/test/harness"
)

// serviceGroup is the load balancer group of the harness's cluster router.
var serviceGroup = ovnname.ServiceGroup(harness.DefaultNetwork().ClusterRouter)

// service creates a Service and returns it with its cluster IP filled in.
func (e *env) service(svc *corev1.Service) *corev1.Service {
	e.t.Helper()
	if svc.Namespace == "" {
		svc.Namespace = "default"
	}
	if err := e.c.Create(e.ctx, svc); err != nil {
		e.t.Fatalf("create service %s: %v", svc.Name, err)
	}
	return svc
}

func newService(name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Ports: ports}}
}

func port(name string, proto corev1.Protocol, number int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: proto, Port: number, TargetPort: target}
}

// endpoint is one address of an EndpointSlice with its readiness (nil: unset).
type endpoint struct {
	ip    string
	ready *bool
}

// slice writes an IPv4 EndpointSlice of the Service, as the EndpointSlice
// controller (or a user, for a Service without selector) would.
func (e *env) slice(svc *corev1.Service, name string, ports []discoveryv1.EndpointPort, eps ...endpoint) *discoveryv1.EndpointSlice {
	e.t.Helper()
	return e.sliceOf(discoveryv1.AddressTypeIPv4, svc, name, ports, eps...)
}

// sliceOf writes an EndpointSlice of one family: the EndpointSlice
// controller writes one per family of a dual-stack Service.
func (e *env) sliceOf(family discoveryv1.AddressType, svc *corev1.Service, name string, ports []discoveryv1.EndpointPort, eps ...endpoint) *discoveryv1.EndpointSlice {
	e.t.Helper()
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: family, Ports: ports,
	}
	for _, ep := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ep.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ep.ready}})
	}
	if err := e.c.Create(e.ctx, s); err != nil {
		e.t.Fatalf("create endpoint slice %s: %v", name, err)
	}
	return s
}

func slicePort(name string, proto corev1.Protocol, number int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Protocol: ptr.To(proto), Port: ptr.To(number)}
}

// lbName is the load balancer of a Service for a protocol.
func lbName(svc *corev1.Service, proto string) string {
	return ovnname.ServiceLoadBalancer(svc.Namespace, svc.Name, proto)
}

// loadBalancer waits until the Service's load balancer for proto has
// exactly vips and options, is owned by the Service and is in the group.
func (e *env) loadBalancer(svc *corev1.Service, proto string, vips, options map[string]string) {
	e.t.Helper()
	name := lbName(svc, proto)
	e.eventually("load balancer "+name, func() error {
		lb := e.view.LoadBalancer(e.t, name)
		if lb == nil {
			return fmt.Errorf("no load balancer %s", name)
		}
		if lb.Protocol == nil || *lb.Protocol != proto {
			return fmt.Errorf("protocol %v, want %s", lb.Protocol, proto)
		}
		if !maps.Equal(lb.Vips, vips) {
			return fmt.Errorf("vips %v, want %v", lb.Vips, vips)
		}
		if options != nil && !maps.Equal(lb.Options, options) {
			return fmt.Errorf("options %v, want %v", lb.Options, options)
		}
		if o, ok := ovn.OwnerOf(lb.ExternalIDs); !ok || o != (ovn.Owner{Kind: ovn.KindService, Namespace: svc.Namespace, Name: svc.Name}) {
			return fmt.Errorf("external_ids %v do not name service %s/%s", lb.ExternalIDs, svc.Namespace, svc.Name)
		}
		g := e.view.LoadBalancerGroup(e.t, serviceGroup)
		if g == nil || !slices.Contains(g.LoadBalancer, lb.UUID) {
			return fmt.Errorf("load balancer %s not in group %s", name, serviceGroup)
		}
		return nil
	})
}

// noLoadBalancer waits until the Service has no load balancer for proto.
func (e *env) noLoadBalancer(svc *corev1.Service, proto string) {
	e.t.Helper()
	name := lbName(svc, proto)
	e.eventually("no load balancer "+name, func() error {
		if lb := e.view.LoadBalancer(e.t, name); lb != nil {
			return fmt.Errorf("load balancer %s exists: %v", name, lb.Vips)
		}
		return nil
	})
}

var rejectOnly = map[string]string{"reject": "true"}

// Every kind of ClusterIP Service a user writes becomes the load balancer
// rows ovn-nbctl lb-list would show.
func TestServiceLoadBalancerRows(t *testing.T) {
	e := newEnv(t)
	named := newService("named", port("http", "TCP", 80, intstr.FromString("web")),
		port("dns", "UDP", 53, intstr.FromInt32(5353)), port("sig", "SCTP", 9, intstr.FromInt32(9)),
		port("admin", "TCP", 81, intstr.FromInt32(8081)))
	named.Spec.Selector = map[string]string{"app": "web"}
	e.service(named)
	ip := named.Spec.ClusterIP
	e.slice(named, "named-a", []discoveryv1.EndpointPort{slicePort("http", "TCP", 8080), slicePort("dns", "UDP", 5353),
		slicePort("sig", "SCTP", 9), slicePort("admin", "TCP", 8081)},
		endpoint{"10.16.0.5", nil}, endpoint{"10.16.0.6", ptr.To(true)}, endpoint{"10.16.0.7", ptr.To(false)})
	// Another pod whose container names port "web" differently.
	e.slice(named, "named-b", []discoveryv1.EndpointPort{slicePort("http", "TCP", 9090)}, endpoint{"10.16.0.8", nil})

	t.Run("tcp, udp and sctp, multi-port, named port, unready left out", func(t *testing.T) {
		e.loadBalancer(named, "tcp", map[string]string{
			ip + ":80": "10.16.0.5:8080,10.16.0.6:8080,10.16.0.8:9090",
			ip + ":81": "10.16.0.5:8081,10.16.0.6:8081",
		}, rejectOnly)
		e.loadBalancer(named, "udp", map[string]string{ip + ":53": "10.16.0.5:5353,10.16.0.6:5353"}, rejectOnly)
		e.loadBalancer(named, "sctp", map[string]string{ip + ":9": "10.16.0.5:9,10.16.0.6:9"}, rejectOnly)
	})
	t.Run("service without selector, endpoints written by hand", func(t *testing.T) {
		manual := e.service(newService("manual", port("", "TCP", 5432, intstr.FromInt32(5432))))
		e.slice(manual, "manual-1", []discoveryv1.EndpointPort{slicePort("", "TCP", 5432)}, endpoint{"192.168.7.20", nil})
		e.loadBalancer(manual, "tcp", map[string]string{manual.Spec.ClusterIP + ":5432": "192.168.7.20:5432"}, rejectOnly)
	})
	t.Run("no endpoints: the VIP refuses", func(t *testing.T) {
		empty := e.service(newService("empty", port("", "TCP", 80, intstr.FromInt32(80))))
		e.loadBalancer(empty, "tcp", map[string]string{empty.Spec.ClusterIP + ":80": ""}, rejectOnly)
	})
	t.Run("headless left alone", func(t *testing.T) {
		headless := newService("headless", port("", "TCP", 80, intstr.FromInt32(80)))
		headless.Spec.ClusterIP = corev1.ClusterIPNone
		e.service(headless)
		e.slice(headless, "headless-1", []discoveryv1.EndpointPort{slicePort("", "TCP", 80)}, endpoint{"10.16.0.5", nil})
		// A Service created after it is programmed; by then the headless
		// one has been reconciled too.
		after := e.service(newService("after-headless", port("", "TCP", 80, intstr.FromInt32(80))))
		e.loadBalancer(after, "tcp", map[string]string{after.Spec.ClusterIP + ":80": ""}, rejectOnly)
		for _, proto := range []string{"tcp", "udp", "sctp"} {
			if lb := e.view.LoadBalancer(t, lbName(headless, proto)); lb != nil {
				t.Errorf("headless service has load balancer %s", lb.Name)
			}
		}
	})
	t.Run("NodePort and LoadBalancer get their ClusterIP part; client IP affinity", func(t *testing.T) {
		np := newService("nodeport", port("", "TCP", 80, intstr.FromInt32(8080)))
		np.Spec.Type = corev1.ServiceTypeNodePort
		np.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		np.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](600)}}
		e.service(np)
		lbType := newService("lbtype", port("", "UDP", 53, intstr.FromInt32(53)))
		lbType.Spec.Type = corev1.ServiceTypeLoadBalancer
		lbType.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		e.service(lbType)
		e.loadBalancer(np, "tcp", map[string]string{np.Spec.ClusterIP + ":80": ""},
			map[string]string{"reject": "true", "affinity_timeout": "600"})
		e.loadBalancer(lbType, "udp", map[string]string{lbType.Spec.ClusterIP + ":53": ""},
			map[string]string{"reject": "true", "affinity_timeout": "10800"})
	})
	t.Run("IPv6 and dual-stack services: bracketed VIPs, backends of each family", func(t *testing.T) {
		v6 := newService("v6", port("http", "TCP", 80, intstr.FromInt32(8080)))
		v6.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
		v6.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		e.service(v6)
		e.sliceOf(discoveryv1.AddressTypeIPv6, v6, "v6-1", []discoveryv1.EndpointPort{slicePort("http", "TCP", 8080)},
			endpoint{"fd00:16::5", nil}, endpoint{"fd00:16::6", ptr.To(false)})
		e.loadBalancer(v6, "tcp", map[string]string{"[" + v6.Spec.ClusterIP + "]:80": "[fd00:16::5]:8080"},
			map[string]string{"reject": "true", "affinity_timeout": "10800"})

		dual := newService("dual", port("http", "TCP", 80, intstr.FromInt32(8080)), port("dns", "UDP", 53, intstr.FromInt32(53)))
		dual.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
		e.service(dual)
		if len(dual.Spec.ClusterIPs) != 2 {
			t.Fatalf("dual-stack service got cluster IPs %v, want one of each family", dual.Spec.ClusterIPs)
		}
		v4IP, v6IP := dual.Spec.ClusterIPs[0], "["+dual.Spec.ClusterIPs[1]+"]"
		e.slice(dual, "dual-v4", []discoveryv1.EndpointPort{slicePort("http", "TCP", 8080), slicePort("dns", "UDP", 53)},
			endpoint{"10.16.0.5", nil})
		e.sliceOf(discoveryv1.AddressTypeIPv6, dual, "dual-v6", []discoveryv1.EndpointPort{slicePort("http", "TCP", 8080), slicePort("dns", "UDP", 53)},
			endpoint{"fd00:16::5", nil})
		e.loadBalancer(dual, "tcp", map[string]string{v4IP + ":80": "10.16.0.5:8080", v6IP + ":80": "[fd00:16::5]:8080"}, rejectOnly)
		e.loadBalancer(dual, "udp", map[string]string{v4IP + ":53": "10.16.0.5:53", v6IP + ":53": "[fd00:16::5]:53"}, rejectOnly)
	})
	t.Run("every subnet switch carries the group, a new one too", func(t *testing.T) {
		e.namespace("blue", map[string]string{annotation.CIDR: "10.66.0.0/24"})
		e.condition("blue", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
		g := e.view.LoadBalancerGroup(t, serviceGroup)
		if g == nil {
			t.Fatalf("no load balancer group %s", serviceGroup)
		}
		for _, name := range []string{"ovn-default", "join", "blue"} {
			e.eventually("group on switch "+name, func() error {
				ls := e.view.Switch(t, name)
				if ls == nil || !slices.Equal(ls.LoadBalancerGroup, []string{g.UUID}) {
					return fmt.Errorf("switch %s: %+v, want load_balancer_group [%s]", name, ls, g.UUID)
				}
				return nil
			})
		}
	})
	t.Run("a restart writes nothing", func(t *testing.T) {
		e.ctrl.Stop(t)
		time.Sleep(time.Second) // let the stopped controller's last writes land before counting
		e.view.ResetChanges()
		e.ctrl = harness.StartController(t, e.api, e.nb, harness.DefaultNetwork())
		e.loadBalancer(named, "udp", map[string]string{ip + ":53": "10.16.0.5:5353,10.16.0.6:5353"}, rejectOnly)
		time.Sleep(2 * time.Second) // an observation window for the reconciles after start, not synchronisation
		if tx, changes := e.ctrl.NBTransactions(t), e.view.Changes(); tx != 0 || changes != 0 {
			t.Errorf("restart with nothing changed: %d northbound transactions, %d rows changed; want none", tx, changes)
		}
	})
}

// One Service's endpoint change is one transaction changing one row; a
// deleted Service's rows go, and so do those of a Service deleted while no
// controller ran.
func TestServiceChangeDeleteAndCollect(t *testing.T) {
	e := newEnv(t)
	a := e.service(newService("a", port("", "TCP", 80, intstr.FromInt32(8080))))
	b := e.service(newService("b", port("", "TCP", 80, intstr.FromInt32(8080))))
	sliceA := e.slice(a, "a-1", []discoveryv1.EndpointPort{slicePort("", "TCP", 8080)}, endpoint{"10.16.0.5", nil})
	sliceB := e.slice(b, "b-1", []discoveryv1.EndpointPort{slicePort("", "TCP", 8080)}, endpoint{"10.16.0.9", nil})
	e.loadBalancer(a, "tcp", map[string]string{a.Spec.ClusterIP + ":80": "10.16.0.5:8080"}, rejectOnly)
	e.loadBalancer(b, "tcp", map[string]string{b.Spec.ClusterIP + ":80": "10.16.0.9:8080"}, rejectOnly)

	t.Run("endpoint change updates only that load balancer", func(t *testing.T) {
		e.ctrl.SettleNB(t, 2*time.Second)
		bBefore := e.view.LoadBalancer(t, lbName(b, "tcp"))
		txBefore := e.ctrl.NBTransactions(t)
		e.view.ResetChanges()
		sliceA.Endpoints = append(sliceA.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.16.0.6"}})
		if err := e.c.Update(e.ctx, sliceA); err != nil {
			t.Fatal(err)
		}
		e.loadBalancer(a, "tcp", map[string]string{a.Spec.ClusterIP + ":80": "10.16.0.5:8080,10.16.0.6:8080"}, rejectOnly)
		time.Sleep(time.Second) // an observation window for stray writes, not synchronisation
		if tx := e.ctrl.NBTransactions(t) - txBefore; tx != 1 {
			t.Errorf("%d northbound transactions for one endpoint change, want 1", tx)
		}
		if changes := e.view.Changes(); changes != 1 {
			t.Errorf("%d northbound rows changed for one endpoint change, want 1", changes)
		}
		if bAfter := e.view.LoadBalancer(t, lbName(b, "tcp")); !maps.Equal(bAfter.Vips, bBefore.Vips) {
			t.Errorf("service b's load balancer changed: %v -> %v", bBefore.Vips, bAfter.Vips)
		}
	})
	t.Run("delete removes the rows", func(t *testing.T) {
		uuid := e.view.LoadBalancer(t, lbName(a, "tcp")).UUID
		if err := e.c.Delete(e.ctx, a); err != nil {
			t.Fatal(err)
		}
		e.noLoadBalancer(a, "tcp")
		if g := e.view.LoadBalancerGroup(t, serviceGroup); g == nil || slices.Contains(g.LoadBalancer, uuid) {
			t.Errorf("group %v still lists the deleted load balancer %s", g, uuid)
		}
	})
	t.Run("service deleted while no controller ran", func(t *testing.T) {
		e.ctrl.Stop(t)
		// The slice goes too, as Kubernetes' garbage collector would take
		// it: a restarted controller then hears of neither, and only the
		// garbage collection can find the rows.
		for _, obj := range []client.Object{b, sliceB} {
			if err := e.c.Delete(e.ctx, obj); err != nil {
				t.Fatal(err)
			}
		}
		e.eventually("service b gone", func() error {
			err := e.c.Get(e.ctx, client.ObjectKeyFromObject(b), &corev1.Service{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("service b still there: %v", err)
		})
		e.ctrl = harness.StartController(t, e.api, e.nb, harness.DefaultNetwork())
		e.noLoadBalancer(b, "tcp")
	})
}
