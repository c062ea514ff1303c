package integration

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// Each bad input gets its Event and condition, leaves the pod unaddressed,
// and disturbs nobody: a bystander pod's address, port and subnet are the
// same afterwards, and new pods are still addressed.
func TestBadNamespaceAnnotations(t *testing.T) {
	e := newEnv(t)
	e.namespace("good", map[string]string{annotation.CIDR: "10.60.0.0/24"})
	e.condition("good", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	bystander := e.addressed(e.pod("good", "bystander", nil).Namespace, "bystander")

	tests := []struct {
		name        string
		annotations map[string]string
		reason      string
		mentions    string
	}{
		{"bad-cidr", map[string]string{annotation.CIDR: "10.61.0.0/33"}, ovnetv1.ReasonInvalidSpec, "10.61.0.0/33"},
		{"host-bits", map[string]string{annotation.CIDR: "10.61.0.5/24"}, ovnetv1.ReasonInvalidSpec, "10.61.0.0/24"},
		{"overlap", map[string]string{annotation.CIDR: "10.60.0.128/25"}, ovnetv1.ReasonOverlap, "good"},
		{"overlap-service", map[string]string{annotation.CIDR: "10.96.0.0/16"}, ovnetv1.ReasonOverlap, "service"},
		{"gateway-outside", map[string]string{annotation.CIDR: "10.62.0.0/24", annotation.Gateway: "10.63.0.1"}, ovnetv1.ReasonInvalidSpec, "10.63.0.1"},
		{"bad-exclude", map[string]string{annotation.CIDR: "10.64.0.0/24", annotation.ExcludeIPs: "10.64.0.9..10.64.0.3"}, ovnetv1.ReasonInvalidSpec, "10.64.0.9"},
		{"two-v4", map[string]string{annotation.CIDR: "10.71.0.0/24,10.72.0.0/24"}, ovnetv1.ReasonInvalidSpec, "two CIDRs of one family"},
		{"three-cidrs", map[string]string{annotation.CIDR: "10.71.0.0/24,fd00:10:71::/120,fd00:10:72::/120"}, ovnetv1.ReasonInvalidSpec, "want one CIDR"},
		{"v6-gateway", map[string]string{annotation.CIDR: "10.73.0.0/24", annotation.Gateway: "fd00::1"}, ovnetv1.ReasonInvalidSpec, "fd00::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.namespace(tt.name, tt.annotations)
			msg := e.condition(tt.name, ovnetv1.ConditionValidated, metav1.ConditionFalse, tt.reason)
			if !stringsContains(msg, tt.mentions) {
				t.Errorf("condition message %q does not mention %q", msg, tt.mentions)
			}
			e.condition(tt.name, ovnetv1.ConditionReady, metav1.ConditionFalse, tt.reason)
			e.event("Subnet", "", tt.name, tt.reason, tt.mentions)
			e.event("Namespace", "", tt.name, "InvalidSubnetAnnotation", tt.mentions)
			e.pod(tt.name, "victim", nil)
			e.event("Pod", tt.name, "victim", "AddressAllocationFailed", tt.name)
			if e.view.Switch(t, tt.name) != nil {
				t.Errorf("switch %s created for a refused subnet", tt.name)
			}
		})
	}
	e.checkUndisturbed(bystander)
}

func TestBadPodAnnotations(t *testing.T) {
	e := newEnv(t)
	e.namespace("pods", map[string]string{annotation.CIDR: "10.65.0.0/24", annotation.ExcludeIPs: "10.65.0.100"})
	e.condition("pods", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	holder := e.addressed(e.pod("pods", "holder", map[string]string{annotation.IPAddress: "10.65.0.7"}).Namespace, "holder")

	tests := []struct {
		name        string
		annotations map[string]string
		mentions    string
	}{
		{"outside", map[string]string{annotation.IPAddress: "10.99.0.7"}, "10.99.0.7"},
		{"taken", map[string]string{annotation.IPAddress: "10.65.0.7"}, "holder"},
		{"gateway", map[string]string{annotation.IPAddress: "10.65.0.1"}, "10.65.0.1"},
		{"excluded", map[string]string{annotation.IPAddress: "10.65.0.100"}, "10.65.0.100"},
		{"not-an-ip", map[string]string{annotation.IPAddress: "10.65.0.300"}, "10.65.0.300"},
		{"bad-mac", map[string]string{annotation.MACAddress: "01:00:5e:00:00:01"}, "01:00:5e:00:00:01"},
		{"short-mac", map[string]string{annotation.MACAddress: "00:11:22"}, "00:11:22"},
		{"taken-mac", map[string]string{annotation.MACAddress: holder.Annotations[annotation.MACAddress]}, holder.Annotations[annotation.MACAddress]},
		{"bad-pool", map[string]string{annotation.IPPool: "10.65.0.20,banana"}, "banana"},
		{"dual-on-single", map[string]string{annotation.IPAddress: "10.65.0.20,fd00::20"}, "not dual stack"},
		{"empty-pool-entry", map[string]string{annotation.IPPool: "10.65.0.20,,10.65.0.21"}, "empty"},
		{"pool-taken", map[string]string{annotation.IPPool: "10.65.0.7"}, "10.65.0.7"},
		{"unknown-subnet", map[string]string{annotation.LogicalSwitch: "nowhere"}, "nowhere"},
		{"join-subnet", map[string]string{annotation.LogicalSwitch: "join"}, "join"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.pod("pods", tt.name, tt.annotations)
			e.event("Pod", "pods", tt.name, "AddressAllocationFailed", tt.mentions)
			p := newPod("pods", tt.name, nil)
			if err := e.c.Get(e.ctx, client.ObjectKeyFromObject(p), p); err != nil {
				t.Fatal(err)
			}
			if p.Annotations[annotation.Allocated] == annotation.True {
				t.Fatalf("pod addressed despite bad input: %v", p.Annotations)
			}
			if e.view.SwitchPort(t, tt.name+".pods") != nil {
				t.Fatalf("port created for pod with bad input")
			}
		})
	}
	// The subnet says who waits on it and why.
	msg := e.condition("pods", ovnetv1.ConditionAddressesPending, metav1.ConditionTrue, ovnetv1.ReasonPodsWaiting)
	if !stringsContains(msg, "pods wait for an address") || !stringsContains(msg, "pods/bad-mac") {
		t.Errorf("AddressesPending message %q does not name the waiting pods", msg)
	}
	for _, tt := range tests {
		e.deletePod("pods", tt.name)
	}
	e.condition("pods", ovnetv1.ConditionAddressesPending, metav1.ConditionFalse, ovnetv1.ReasonNoneWaiting)
	e.checkUndisturbed(holder)
	// The subnet's count holds only the good pods.
	e.eventually("usage", func() error {
		if s := e.subnet("pods"); s.Status.UsedIPs != 2 {
			return fmt.Errorf("used %d, want 2 (holder and the check pod)", s.Status.UsedIPs)
		}
		return nil
	})
}

// checkUndisturbed checks a pod kept its annotations and port, and that a
// new pod beside it is still addressed.
func (e *env) checkUndisturbed(before interface {
	GetNamespace() string
	GetName() string
	GetAnnotations() map[string]string
}) {
	e.t.Helper()
	after := e.addressed(before.GetNamespace(), before.GetName())
	for _, k := range []string{annotation.IPAddress, annotation.MACAddress, annotation.LogicalSwitch} {
		if after.Annotations[k] != before.GetAnnotations()[k] {
			e.t.Fatalf("pod %s: %s changed from %s to %s", after.Name, k, before.GetAnnotations()[k], after.Annotations[k])
		}
	}
	e.checkPort(after)
	e.pod(after.Namespace, "check", nil)
	e.checkPort(e.addressed(after.Namespace, "check"))
}
