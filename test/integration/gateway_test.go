package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

// policy is a router policy as a test compares it.
type policy struct {
	priority int
	match    string
	action   string
	nexthops string
}

// policies lists ovn-cluster's policies.
func (e *env) policies() []policy {
	e.t.Helper()
	lr := e.view.Router(e.t, "ovn-cluster")
	rows := harness.List(e.t, e.view, func(p *nbdb.LogicalRouterPolicy) bool { return lr != nil && contains(lr.Policies, p.UUID) })
	out := make([]policy, len(rows))
	for i, r := range rows {
		hops := slices.Clone(r.Nexthops)
		slices.Sort(hops)
		out[i] = policy{r.Priority, r.Match, r.Action, strings.Join(hops, ",")}
	}
	return out
}

// hasPolicies fails unless every wanted policy is on ovn-cluster and no
// unwanted one is.
func (e *env) hasPolicies(want []policy, unwanted ...policy) error {
	have := e.policies()
	for _, w := range want {
		if !slices.Contains(have, w) {
			return fmt.Errorf("policy %+v missing; have %+v", w, have)
		}
	}
	for _, u := range unwanted {
		if slices.Contains(have, u) {
			return fmt.Errorf("policy %+v still there", u)
		}
	}
	return nil
}

// gatewayNode registers a node with an InternalIP and returns its join
// address once the controller gave it one.
func (e *env) gatewayNode(name, internalIP string) string {
	e.t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.c.Create(e.ctx, node); err != nil {
		e.t.Fatal(err)
	}
	patch := client.MergeFrom(node.DeepCopy())
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: internalIP}}
	if err := e.c.Status().Patch(e.ctx, node, patch); err != nil {
		e.t.Fatal(err)
	}
	var join string
	e.eventually("join address of "+name, func() error {
		if err := e.c.Get(e.ctx, client.ObjectKeyFromObject(node), node); err != nil {
			return err
		}
		if join = node.Annotations[annotation.IPAddress]; join == "" {
			return fmt.Errorf("not addressed")
		}
		return nil
	})
	return join
}

// activeGateway waits until the subnet's status names gw.
func (e *env) activeGateway(subnet, gw string) {
	e.t.Helper()
	e.eventually(fmt.Sprintf("subnet %s egress through %q", subnet, gw), func() error {
		s := e.subnet(subnet)
		if got := s.Status.ActiveGateway; got != gw {
			return fmt.Errorf("activeGateway %q, conditions %+v", got, s.Status.Conditions)
		}
		return nil
	})
}

// gatewayGauge waits until ovnet_subnet_gateway_ready says of the subnet
// what its status says: ready (1 or 0) with gw active.
func (e *env) gatewayGauge(subnet, gw string, ready float64) {
	e.t.Helper()
	labels := map[string]string{"subnet": subnet, "active_gateway": gw}
	e.eventually(fmt.Sprintf("ovnet_subnet_gateway_ready%v %v", labels, ready), func() error {
		if got, ok := e.ctrl.Gauge(e.t, "ovnet_subnet_gateway_ready", labels); !ok || got != ready {
			return fmt.Errorf("got %v (series present: %v)", got, ok)
		}
		return nil
	})
}

// anyEvent waits for an Event of any type about the Subnet with the reason
// and a note containing substr.
func (e *env) anyEvent(subnet, reason, substr string) {
	e.t.Helper()
	e.eventually("event "+reason+" on "+subnet, func() error {
		var list eventsv1.EventList
		if err := e.c.List(e.ctx, &list); err != nil {
			return err
		}
		for _, ev := range list.Items {
			if ev.Regarding.Name == subnet && ev.Reason == reason && strings.Contains(ev.Note, substr) {
				return nil
			}
		}
		return fmt.Errorf("no such event among %d", len(list.Items))
	})
}

func TestGatewayRows(t *testing.T) {
	e := newEnv(t)
	e.condition("ovn-default", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	join1 := e.gatewayNode("gw-1", "172.18.0.1")
	join2 := e.gatewayNode("gw-2", "172.18.0.2")

	cluster := []policy{
		{31000, "ip4.dst == 10.96.0.0/12", "allow", ""},
		{31000, "ip6.dst == fd00:96::/112", "allow", ""}, // --service-cidr's second range
		{31000, "ip4.dst == 10.16.0.0/16", "allow", ""},
		{31000, "ip4.dst == 100.64.0.0/16", "allow", ""},
		{31000, "ip4.dst == 172.18.0.1/32", "allow", ""},
		{31000, "ip4.dst == 172.18.0.2/32", "allow", ""},
		{29000, `ip4 && is_chassis_resident("node-gw-1")`, "reroute", join1},
		{29000, `ip4 && is_chassis_resident("node-gw-2")`, "reroute", join2},
	}
	e.eventually("distributed egress rows", func() error {
		if routes := e.routesTo("0.0.0.0/0"); len(routes) != 1 || routes[0].Nexthop != "100.64.0.1" {
			return fmt.Errorf("default routes %+v", routes)
		}
		if lsp := e.view.SwitchPort(t, "node-gw-1"); lsp == nil || len(lsp.PortSecurity) != 0 {
			return fmt.Errorf("node-gw-1 carries outside addresses, so no port security: %+v", lsp)
		}
		return e.hasPolicies(cluster)
	})
	e.condition("ovn-default", ovnetv1.ConditionGatewayReady, metav1.ConditionTrue, ovnetv1.ReasonDistributed)
	e.gatewayGauge("ovn-default", "", 1)
	// A pod costs no gateway row: the policies and routes stay as they are.
	before, routes := e.policies(), e.routesTo("0.0.0.0/0")
	e.pod("default", "p", nil)
	e.addressed("default", "p")
	if after := e.policies(); len(after) != len(before) || e.hasPolicies(before) != nil || len(e.routesTo("0.0.0.0/0")) != len(routes) {
		t.Errorf("a pod changed the gateway rows: policies before %+v, after %+v", before, after)
	}

	e.namespace("egress", map[string]string{annotation.CIDR: "10.70.0.0/24",
		annotation.GatewayType: "centralized", annotation.GatewayNode: "gw-1, gw-2"})
	first := policy{29500, "ip4.src == 10.70.0.0/24", "reroute", join1}
	second := policy{29500, "ip4.src == 10.70.0.0/24", "reroute", join2}
	{ // no heartbeat: egress stays on the first listed node, not ready
		msg := e.condition("egress", ovnetv1.ConditionGatewayReady, metav1.ConditionFalse, ovnetv1.ReasonNoGatewayReady)
		if !strings.Contains(msg, "gw-1") || !strings.Contains(msg, "gw-2") {
			t.Errorf("condition names neither node: %q", msg)
		}
		e.eventually("reroute to gw-1", func() error { return e.hasPolicies([]policy{first}, second) })
		e.gatewayGauge("egress", "", 0)
	}
	beats := harness.StartHeartbeats(t, e.c)
	{ // second ready
		beats.Set("gw-2", &gatewayhealth.Report{Ready: true})
		e.activeGateway("egress", "gw-2")
		e.eventually("reroute to gw-2", func() error { return e.hasPolicies([]policy{second}, first) })
		e.anyEvent("egress", ovnetv1.ReasonGatewayChanged, `"gw-2"`)
		e.gatewayGauge("egress", "gw-2", 1)
	}
	{ // first ready again takes egress back
		beats.Set("gw-1", &gatewayhealth.Report{Ready: true})
		e.activeGateway("egress", "gw-1")
		e.eventually("reroute to gw-1", func() error { return e.hasPolicies([]policy{first}, second) })
	}
	{ // first reports a fault
		beats.Set("gw-1", &gatewayhealth.Report{Reason: "uplink eth1 is down"})
		e.activeGateway("egress", "gw-1")
		e.activeGateway("egress", "gw-2")
		msg := e.condition("egress", ovnetv1.ConditionGatewayReady, metav1.ConditionTrue, ovnetv1.ReasonGatewayActive)
		if !strings.Contains(msg, "uplink eth1 is down") {
			t.Errorf("condition does not say why gw-1 is passed over: %q", msg)
		}
	}
	{ // first's daemon stops reporting
		beats.Set("gw-1", &gatewayhealth.Report{Ready: true})
		e.activeGateway("egress", "gw-1")
		beats.Set("gw-1", nil) // no write from now on: only the Lease's expiry tells
		e.activeGateway("egress", "gw-2")
		e.eventually("reroute to gw-2", func() error { return e.hasPolicies([]policy{second}, first) })
	}
	{ // both silent, then the first's daemon comes back: its renewal alone brings the egress back
		beats.Set("gw-2", nil)
		e.condition("egress", ovnetv1.ConditionGatewayReady, metav1.ConditionFalse, ovnetv1.ReasonNoGatewayReady)
		beats.Set("gw-1", &gatewayhealth.Report{Ready: true})
		e.activeGateway("egress", "gw-1")
		e.eventually("reroute to gw-1", func() error { return e.hasPolicies([]policy{first}, second) })
	}
	e.restartWritesNothing() // with gateways in force
	// Back to distributed.
	{
		e.annotateNamespace("egress", map[string]string{annotation.GatewayType: "distributed", annotation.GatewayNode: ""})
		e.activeGateway("egress", "")
		e.condition("egress", ovnetv1.ConditionGatewayReady, metav1.ConditionTrue, ovnetv1.ReasonDistributed)
		e.eventually("no reroute for the subnet", func() error {
			return e.hasPolicies(append(cluster, policy{31000, "ip4.dst == 10.70.0.0/24", "allow", ""}), first, second)
		})
	}
}

func TestGatewayRefusals(t *testing.T) {
	e := newEnv(t)
	e.gatewayNode("gw-1", "172.18.0.1")
	e.namespace("kept", map[string]string{annotation.CIDR: "10.71.0.0/24",
		annotation.GatewayType: "centralized", annotation.GatewayNode: "gw-1"})
	e.condition("kept", ovnetv1.ConditionGatewayReady, metav1.ConditionFalse, ovnetv1.ReasonNoGatewayReady)
	kept := func() error {
		for _, p := range e.policies() {
			if p.match == "ip4.src == 10.71.0.0/24" {
				return nil
			}
		}
		return fmt.Errorf("reroute of 10.71.0.0/24 gone")
	}
	e.eventually("reroute of kept", kept)
	tests := []struct {
		name       string
		gwType     string
		gwNode     string
		reason     string
		mentioning string
	}{
		{"centralized without gateway_node", "centralized", "", ovnetv1.ReasonInvalidGateway, "needs gatewayNode"},
		{"unknown node", "centralized", "gw-1,gw-9", ovnetv1.ReasonUnknownGatewayNode, "gw-9"},
		{"malformed list", "centralized", "gw-1,,gw-2", ovnetv1.ReasonInvalidGateway, "empty entry"},
		{"node:address form", "centralized", "gw-1:172.18.0.1", ovnetv1.ReasonInvalidGateway, "not supported"},
		{"not a node name", "centralized", "Gw_1", ovnetv1.ReasonInvalidGateway, "not a node name"},
		{"unknown gateway_type", "central", "gw-1", ovnetv1.ReasonInvalidGateway, `"central"`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := fmt.Sprintf("bad-%d", i)
			ann := map[string]string{annotation.CIDR: fmt.Sprintf("10.72.%d.0/24", i), annotation.GatewayType: tt.gwType}
			if tt.gwNode != "" {
				ann[annotation.GatewayNode] = tt.gwNode
			}
			e.namespace(ns, ann)
			msg := e.condition(ns, ovnetv1.ConditionValidated, metav1.ConditionFalse, tt.reason)
			if !strings.Contains(msg, tt.mentioning) {
				t.Errorf("Validated message %q does not mention %q", msg, tt.mentioning)
			}
			e.event("Subnet", "", ns, tt.reason, tt.mentioning)
			// The rest of the subnet works: its switch is up and it is a
			// cluster destination; with no gateway accepted yet its
			// egress is distributed.
			e.condition(ns, ovnetv1.ConditionReady, metav1.ConditionTrue, "")
			e.eventually("the subnet's destination policy", func() error {
				return e.hasPolicies([]policy{{31000, fmt.Sprintf("ip4.dst == 10.72.%d.0/24", i), "allow", ""}})
			})
		})
	}
	{ // a refused change keeps the gateway in force
		e.annotateNamespace("kept", map[string]string{annotation.GatewayNode: "nowhere"})
		e.condition("kept", ovnetv1.ConditionValidated, metav1.ConditionFalse, ovnetv1.ReasonUnknownGatewayNode)
		time.Sleep(time.Second)
		if err := kept(); err != nil {
			t.Fatal(err)
		}
		// The settings last accepted keep deciding: gw-1 coming up is
		// taken into use although the spec in force is refused.
		harness.StartHeartbeats(t, e.c).Set("gw-1", &gatewayhealth.Report{Ready: true})
		e.activeGateway("kept", "gw-1")
	}
}
