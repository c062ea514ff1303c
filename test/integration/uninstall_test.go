package integration

import (
	"fmt"
	"testing"

	"github.com/go-logr/logr/testr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
	"github.com/ovnet/ovnet/pkg/uninstall"
)

// TestUninstallHookCleansAPI runs the chart's post-delete clean-up
// (pkg/uninstall, as `ovnet-controller uninstall`) with nothing but its
// generated grants, after the controller is gone: the leader Lease it
// left and the gateway heartbeat Leases are deleted, a kubelet's Lease in
// the same namespace stays, and the Subnets lose ovnet's finalizer, so that
// deleting one (as `kubectl delete crd` does) completes. A second run
// finds nothing to do.
func TestUninstallHookCleansAPI(t *testing.T) {
	e := newEnv(t)
	grantGeneratedRoles(t, e, "uninstall")
	e.namespace("team-a", map[string]string{annotation.CIDR: "10.60.0.0/24"})
	e.condition("team-a", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	e.ctrl.Stop(t)

	leader := types.NamespacedName{Namespace: "kube-system", Name: "ovnet-controller"}
	kubelet := types.NamespacedName{Namespace: gatewayhealth.DefaultNamespace, Name: "n1"}
	gateway := types.NamespacedName{Namespace: gatewayhealth.DefaultNamespace, Name: gatewayhealth.LeaseName("n1")}
	for _, name := range []types.NamespacedName{leader, kubelet, gateway} {
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("gone")}}
		if err := e.c.Create(e.ctx, lease); err != nil {
			t.Fatal(err)
		}
	}
	subnets := e.subnetNames()
	if len(subnets) < 2 {
		t.Fatalf("subnets %v, want the default and team-a's", subnets)
	}

	hook, err := client.New(impersonating(e.api, "ovnet-uninstall"), client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	cluster := uninstall.Cluster{LeaderLease: leader, GatewayLeaseNamespace: gatewayhealth.DefaultNamespace}
	steps, err := uninstall.Clean(e.ctx, hook, cluster, testr.New(t))
	if err != nil {
		t.Fatalf("clean: %v (steps %+v)", err, steps)
	}
	for name, wantGone := range map[types.NamespacedName]bool{leader: true, gateway: true, kubelet: false} {
		err := e.c.Get(e.ctx, name, &coordinationv1.Lease{})
		if gone := apierrors.IsNotFound(err); gone != wantGone {
			t.Errorf("Lease %s: gone %v (%v), want gone %v", name, gone, err, wantGone)
		}
	}
	for _, name := range subnets {
		var s ovnetv1.Subnet
		if err := e.c.Get(e.ctx, types.NamespacedName{Name: name}, &s); err != nil {
			t.Fatal(err)
		}
		if controllerutil.ContainsFinalizer(&s, ovnetv1.SubnetFinalizer) {
			t.Errorf("subnet %s keeps %s: %v", name, ovnetv1.SubnetFinalizer, s.Finalizers)
		}
		if err := e.c.Delete(e.ctx, &s); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually("subnets deleted with no controller", func() error {
		if left := e.subnetNames(); len(left) > 0 {
			return fmt.Errorf("left: %v", left)
		}
		return nil
	})

	again, err := uninstall.Clean(e.ctx, hook, cluster, testr.New(t))
	if err != nil {
		t.Fatalf("clean again: %v", err)
	}
	want := []string{"none", "0 deleted", "removed from 0", "not asked"}
	if len(again) != len(want) {
		t.Fatalf("again: %d steps %+v, want %d", len(again), again, len(want))
	}
	for i, s := range again {
		if s.Done != want[i] {
			t.Errorf("again, %s: %q, want %q", s.Name, s.Done, want[i])
		}
	}
}

// subnetNames lists every Subnet's name.
func (e *env) subnetNames() []string {
	e.t.Helper()
	var list ovnetv1.SubnetList
	if err := e.c.List(e.ctx, &list); err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Name)
	}
	return names
}
