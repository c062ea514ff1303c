package integration

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/netpol"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

// A namespace whose subnet annotations cannot be honoured gets an Event
// and a condition saying why, and its pods wait with an Event instead of
// landing in a subnet that is not theirs: the node subnet, another
// namespace's subnet, or a subnet the API server refused.
func TestNamespaceSubnetRefusals(t *testing.T) {
	e := newEnv(t)
	e.namespace("owner", map[string]string{annotation.CIDR: "10.72.0.0/24"})
	e.condition("owner", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	// Kube-OVN's documentation writes the choice with a comment after it.
	pastedComment := "centralized // or distributed by default"
	// The API server refuses a Subnet of this CIDR: an admission policy
	// stands for whatever a cluster's admins enforce.
	const fencedCIDR = "10.75.0.0/24"
	tests := []struct {
		name        string
		annotations map[string]string
		reason      string
		mentions    string
	}{
		{"joiner", map[string]string{annotation.LogicalSwitch: "join"}, controller.ReasonReservedSubnet, "reserved for nodes"},
		{"joiner-cidr", map[string]string{annotation.CIDR: "10.73.0.0/24", annotation.LogicalSwitch: "join"},
			controller.ReasonReservedSubnet, "reserved for nodes"},
		{"intruder", map[string]string{annotation.CIDR: "10.74.0.0/24", annotation.LogicalSwitch: "owner"},
			controller.ReasonSubnetConflict, "does not belong to namespace intruder"},
		{"fenced", map[string]string{annotation.CIDR: fencedCIDR}, controller.ReasonRejectedByAPI, "reserved by the cluster's admission policy"},
	}
	e.fenceCIDR(fencedCIDR)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.namespace(tt.name, tt.annotations)
			e.event("Namespace", "", tt.name, controller.ReasonInvalidNamespaceSubnet, tt.mentions)
			e.nsCondition(tt.name, corev1.ConditionFalse, tt.reason, tt.mentions)
			e.pod(tt.name, "victim", nil)
			e.event("Pod", tt.name, "victim", controller.ReasonAddressFailed, tt.mentions)
			e.stillUnaddressed(tt.name, "victim")
		})
	}
	t.Run("one Event, no hot retry", func(t *testing.T) {
		time.Sleep(3 * time.Second)
		if n := e.countEvents("Namespace", "", "fenced", controller.ReasonInvalidNamespaceSubnet); n != 1 {
			t.Fatalf("the refusal was reported %d times, want once", n)
		}
	})
	t.Run("fixed annotation", func(t *testing.T) {
		e.annotate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fenced"}}, annotation.CIDR, "10.76.0.0/24")
		e.condition("fenced", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
		e.nsCondition("fenced", corev1.ConditionTrue, "Accepted", "")
		if got := e.addressed("fenced", "victim").Annotations[annotation.LogicalSwitch]; got != "fenced" {
			t.Fatalf("pod placed in %s, want fenced", got)
		}
	})
	t.Run("a pasted gateway type is refused by the controller, the subnet works", func(t *testing.T) {
		e.namespace("pasted", map[string]string{annotation.CIDR: "10.77.0.0/24", annotation.GatewayType: pastedComment})
		e.event("Namespace", "", "pasted", controller.ReasonInvalidNamespaceSubnet, "gatewayType")
		e.nsCondition("pasted", corev1.ConditionFalse, ovnetv1.ReasonInvalidGateway, "gatewayType")
		e.condition("pasted", ovnetv1.ConditionValidated, metav1.ConditionFalse, ovnetv1.ReasonInvalidGateway)
		e.condition("pasted", ovnetv1.ConditionGatewayReady, metav1.ConditionTrue, ovnetv1.ReasonDistributed)
		if got := e.addressed(e.pod("pasted", "p", nil).Namespace, "p").Annotations[annotation.LogicalSwitch]; got != "pasted" {
			t.Fatalf("pod placed in %s, want pasted", got)
		}
	})
	t.Run("refused update keeps the subnet in force", func(t *testing.T) {
		e.annotate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, annotation.CIDR, fencedCIDR)
		e.event("Namespace", "", "owner", controller.ReasonInvalidNamespaceSubnet, "admission policy")
		e.nsCondition("owner", corev1.ConditionFalse, controller.ReasonRejectedByAPI, "admission policy")
		if s := e.subnet("owner"); s.Spec.CIDR != "10.72.0.0/24" {
			t.Fatalf("subnet owner spec changed to %+v", s.Spec)
		}
		if got := e.addressed(e.pod("owner", "after", nil).Namespace, "after").Annotations[annotation.LogicalSwitch]; got != "owner" {
			t.Fatalf("pod placed in %s, want owner", got)
		}
	})
}

// fenceCIDR makes the API server refuse Subnets of cidr, through a
// ValidatingAdmissionPolicy, and waits until it does.
func (e *env) fenceCIDR(cidr string) {
	e.t.Helper()
	policy := &admissionv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "fence"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"ovnet.io"}, APIVersions: []string{"v1"}, Resources: []string{"subnets"}},
				}}}},
			Validations: []admissionv1.Validation{{Expression: fmt.Sprintf("object.spec.cidr != '%s'", cidr),
				Message: "cidr " + cidr + " is reserved by the cluster's admission policy"}},
		}}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "fence"},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: "fence",
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny}}}
	for _, obj := range []client.Object{policy, binding} {
		if err := e.c.Create(e.ctx, obj); err != nil {
			e.t.Fatalf("create %T: %v", obj, err)
		}
	}
	e.eventually("admission policy in force", func() error {
		probe := &ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "fence-probe"}, Spec: ovnetv1.SubnetSpec{CIDR: cidr}}
		if err := e.c.Create(e.ctx, probe, client.DryRunAll); err == nil {
			return fmt.Errorf("a Subnet of %s is still accepted", cidr)
		}
		return nil
	})
}

// nsCondition waits for the namespace's SubnetAccepted condition.
func (e *env) nsCondition(name string, status corev1.ConditionStatus, reason, mentions string) {
	e.t.Helper()
	e.eventually(fmt.Sprintf("namespace %s condition %s=%s %s", name, controller.ConditionSubnetAccepted, status, reason), func() error {
		ns := &corev1.Namespace{}
		if err := e.c.Get(e.ctx, client.ObjectKey{Name: name}, ns); err != nil {
			return err
		}
		for _, c := range ns.Status.Conditions {
			if c.Type == controller.ConditionSubnetAccepted && c.Status == status && c.Reason == reason && stringsContains(c.Message, mentions) {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", ns.Status.Conditions)
	})
}

// stillUnaddressed checks that the pod has no address and no port.
func (e *env) stillUnaddressed(namespace, name string) {
	e.t.Helper()
	p := &corev1.Pod{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: namespace, Name: name}, p); err != nil {
		e.t.Fatal(err)
	}
	if p.Annotations[annotation.Allocated] == annotation.True {
		e.t.Fatalf("pod %s/%s addressed: %v", namespace, name, p.Annotations)
	}
	if lsp := e.view.SwitchPort(e.t, name+"."+namespace); lsp != nil {
		e.t.Fatalf("pod %s/%s has a port: %+v", namespace, name, lsp)
	}
}

// countEvents counts the times a Warning was observed on the object:
// each Event, plus the repeats its series records.
func (e *env) countEvents(kind, namespace, name, reason string) int {
	e.t.Helper()
	var list eventsv1.EventList
	if err := e.c.List(e.ctx, &list); err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, ev := range list.Items {
		if ev.Regarding.Kind != kind || ev.Regarding.Name != name || ev.Regarding.Namespace != namespace || ev.Reason != reason {
			continue
		}
		n++
		if ev.Series != nil {
			n += int(ev.Series.Count) - 1
		}
	}
	return n
}

// An exclude added over addresses running pods hold applies to new
// allocations; the pods keep theirs and are named in a condition. Excludes
// outside the CIDR are reported and ignored, and a refused field does not
// hold back the others.
func TestExcludeOverRunningPods(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace("ls1", map[string]string{annotation.CIDR: "10.76.0.0/24"})
	e.condition("ls1", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	p1 := podIP(t, e.addressed(e.pod("ls1", "p1", nil).Namespace, "p1"))
	p2 := podIP(t, e.addressed(e.pod("ls1", "p2", nil).Namespace, "p2"))

	// Kube-OVN's isolation example applied over its subnet example.
	e.patchAnnotations(ns, map[string]string{annotation.ExcludeIPs: "10.76.0.1..10.76.0.10,10.99.0.5",
		annotation.Private: "true", annotation.Allow: "10.16.0.0/16"})
	e.condition("ls1", ovnetv1.ConditionValidated, metav1.ConditionTrue, "")
	msg := e.condition("ls1", ovnetv1.ConditionExcludedInUse, metav1.ConditionTrue, ovnetv1.ReasonHeldBeforeExclude)
	if !containsAll(msg, p1.String()+" (pod/ls1/p1)", p2.String()+" (pod/ls1/p2)") {
		t.Errorf("condition %q does not name both pods", msg)
	}
	e.condition("ls1", ovnetv1.ConditionIgnoredFields, metav1.ConditionTrue, ovnetv1.ReasonNotActedOn)
	e.event("Subnet", "", "ls1", ovnetv1.ConditionIgnoredFields, "10.99.0.5")
	e.event("Namespace", "", "ls1", controller.ReasonInvalidNamespaceSubnet, "10.99.0.5")
	e.waitPrivateDrop("ls1")
	if p3 := podIP(t, e.addressed(e.pod("ls1", "p3", nil).Namespace, "p3")); p3.Compare(netip.MustParseAddr("10.76.0.10")) <= 0 {
		t.Fatalf("new pod got %s, inside the exclude", p3)
	}
	if got := podIP(t, e.addressed("ls1", "p1")); got != p1 {
		t.Fatalf("p1 moved from %s to %s", p1, got)
	}

	// The gateway onto p2's address is refused; allow still changes.
	e.patchAnnotations(ns, map[string]string{annotation.Gateway: p2.String(), annotation.Allow: "10.16.0.0/28"})
	e.condition("ls1", ovnetv1.ConditionValidated, metav1.ConditionFalse, ovnetv1.ReasonAllocationsOutside)
	e.waitPrivateDrop("ls1", "10.16.0.0/28")
	if s := e.subnet("ls1"); s.Status.Gateway != "10.76.0.1" {
		t.Fatalf("gateway in force %s, want 10.76.0.1", s.Status.Gateway)
	}

	// Once released, an excluded address is not handed out again.
	e.patchAnnotations(ns, map[string]string{annotation.Gateway: ""})
	e.condition("ls1", ovnetv1.ConditionValidated, metav1.ConditionTrue, "")
	e.deletePod("ls1", "p1")
	e.deletePod("ls1", "p2")
	e.eventually("exclude condition gone", func() error {
		if c := meta.FindStatusCondition(e.subnet("ls1").Status.Conditions, ovnetv1.ConditionExcludedInUse); c != nil {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
	e.pod("ls1", "fixed", map[string]string{annotation.IPAddress: p1.String()})
	e.event("Pod", "ls1", "fixed", controller.ReasonAddressFailed, "excluded")
}

// patchAnnotations merges annotations into an object; "" removes a key.
func (e *env) patchAnnotations(obj client.Object, annotations map[string]string) {
	e.t.Helper()
	values := map[string]any{}
	for k, v := range annotations {
		values[k] = v
		if v == "" {
			values[k] = nil
		}
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": values}})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.c.Patch(e.ctx, obj, client.RawPatch(types.MergePatchType, body)); err != nil {
		e.t.Fatalf("annotate %s: %v", obj.GetName(), err)
	}
}

// waitPrivateDrop waits for the private subnet's drop ACL, whose match
// lists every source let in; allowed are the CIDRs that must be among them.
func (e *env) waitPrivateDrop(subnet string, allowed ...string) {
	e.t.Helper()
	e.eventually("private drop on "+subnet, func() error {
		ls := e.view.Switch(e.t, subnet)
		if ls == nil {
			return fmt.Errorf("no switch %s", subnet)
		}
		acls := harness.List(e.t, e.view, func(a *nbdb.ACL) bool { return contains(ls.ACLs, a.UUID) })
		for _, a := range acls {
			if a.Action == nbdb.ACLActionDrop && a.Priority == netpol.PriorityPrivateDrop && containsAll(a.Match, allowed...) {
				return nil
			}
		}
		return fmt.Errorf("acls %+v", acls)
	})
}

// A pod waiting for an address taken by another is told once, not at
// every retry, and its retries back off.
func TestWaitingPodEventsBackOff(t *testing.T) {
	e := newEnv(t)
	e.addressed(e.pod("default", "holder", map[string]string{annotation.IPAddress: "10.16.0.200"}).Namespace, "holder")
	e.pod("default", "waiter", map[string]string{annotation.IPAddress: "10.16.0.200"})
	e.event("Pod", "default", "waiter", controller.ReasonAddressFailed, "default/holder")
	time.Sleep(25 * time.Second) // two retries at the old fixed 10 s
	if n := e.countEvents("Pod", "default", "waiter", controller.ReasonAddressFailed); n != 1 {
		t.Fatalf("the wait was reported %d times in 25 s, want once", n)
	}
	e.deletePod("default", "holder")
	if got := podIP(t, e.addressed("default", "waiter")); got.String() != "10.16.0.200" {
		t.Fatalf("waiter got %s", got)
	}
}
