package integration

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// A running pod keeps its address when its subnet's gateway moves or its
// CIDR widens, and its record follows: the node daemon reads the new
// prefix and gateway from it.
func TestRecordFollowsSubnetChanges(t *testing.T) {
	e := newEnv(t)
	e.namespace("moving", map[string]string{annotation.CIDR: "10.70.0.0/24"})
	e.condition("moving", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	ip := podIP(t, e.addressed(e.pod("moving", "p", nil).Namespace, "p"))

	steps := []struct {
		name          string
		key, value    string
		cidr, gateway string
	}{
		{"gateway moves", annotation.Gateway, "10.70.0.254", "10.70.0.0/24", "10.70.0.254"},
		{"cidr widens", annotation.CIDR, "10.70.0.0/23", "10.70.0.0/23", "10.70.0.254"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.annotate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "moving"}}, st.key, st.value)
			e.eventually("record of moving/p", func() error {
				p := &corev1.Pod{}
				if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: "moving", Name: "p"}, p); err != nil {
					return err
				}
				addr, ok, err := annotation.ParseAddress(p.Annotations)
				if !ok || err != nil {
					return fmt.Errorf("record %v: %v", p.Annotations, err)
				}
				if addr.IP != ip || addr.Subnet.String() != st.cidr || addr.Gateway.String() != st.gateway {
					return fmt.Errorf("record %s in %s via %s, want %s in %s via %s",
						addr.IP, addr.Subnet, addr.Gateway, ip, st.cidr, st.gateway)
				}
				return nil
			})
		})
	}
}

// A record that says which address a pod holds but lacks the subnet's
// prefix or gateway (written by hand or by another tool) is completed by
// the controller, so the node daemon, which needs both, can wire the pod.
func TestIncompleteRecordIsCompleted(t *testing.T) {
	e := newEnv(t)
	e.condition("ovn-default", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	e.pod("default", "partial", map[string]string{annotation.Allocated: annotation.True,
		annotation.IPAddress: "10.16.0.77", annotation.MACAddress: "0a:00:00:10:00:77", annotation.LogicalSwitch: "ovn-default"})
	e.eventually("record of default/partial completed", func() error {
		p := &corev1.Pod{}
		if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: "default", Name: "partial"}, p); err != nil {
			return err
		}
		addr, ok, err := annotation.ParseAddress(p.Annotations)
		if !ok || err != nil {
			return fmt.Errorf("the daemon cannot read the record %v: %v", p.Annotations, err)
		}
		if addr.IP.String() != "10.16.0.77" || addr.MAC.String() != "0a:00:00:10:00:77" ||
			addr.Subnet.String() != "10.16.0.0/16" || addr.Gateway.String() != "10.16.0.1" {
			return fmt.Errorf("record %+v", addr)
		}
		return nil
	})
	e.checkPort(e.addressed("default", "partial"))
}
