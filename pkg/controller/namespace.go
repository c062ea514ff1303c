package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// LabelNamespace marks a Subnet made from a namespace's annotations with
// that namespace's name; the namespace reconciler only touches such Subnets.
const LabelNamespace = "ovnet.io/namespace"

// NamespaceReconciler keeps the Subnet described by a namespace's
// annotations in step with them.
//
// What happens to running pods: a pod keeps the address and switch it was
// given for as long as it lives. A changed CIDR that still contains every
// address in use is applied at once; one that does not is refused (the
// Subnet's Validated condition says which pods are in the way) and the old
// CIDR stays in force. When the annotations are removed the Subnet is
// deleted, but its deletion waits until the last pod in it is gone; new pods
// of the namespace go to the default subnet meanwhile.
type NamespaceReconciler struct {
	// Client reads namespaces and writes Subnets.
	Client client.Client
	// Network supplies the validation shared with the Subnet reconciler.
	Network *Network
	// Recorder emits Events on namespaces with invalid annotations.
	Recorder events.EventRecorder
}

// SetupWithManager registers the reconciler.
func (r *NamespaceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&corev1.Namespace{}).Named("namespace").Complete(r)
}

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile converges the Subnet of one namespace.
func (r *NamespaceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Network.waitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	ns := &corev1.Namespace{}
	err := r.Client.Get(ctx, req.NamespacedName, ns)
	if apierrors.IsNotFound(err) || (err == nil && !ns.DeletionTimestamp.IsZero()) {
		return ctrl.Result{}, r.deleteOwned(ctx, req.Name, "")
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("get namespace: %w", err)
	}
	want, ok := subnetFromNamespace(ns)
	if !ok {
		return ctrl.Result{}, r.deleteOwned(ctx, ns.Name, "")
	}
	if err := r.deleteOwned(ctx, ns.Name, want.Name); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.ensure(ctx, ns, want)
}

// subnetFromNamespace builds the Subnet a namespace's annotations describe;
// ok is false when they describe none (no cidr).
func subnetFromNamespace(ns *corev1.Namespace) (*ovnetv1.Subnet, bool) {
	a := ns.Annotations
	if strings.TrimSpace(a[annotation.CIDR]) == "" {
		return nil, false
	}
	name := strings.TrimSpace(a[annotation.LogicalSwitch])
	if name == "" {
		name = ns.Name
	}
	spec := ovnetv1.SubnetSpec{
		CIDR:        strings.TrimSpace(a[annotation.CIDR]),
		Gateway:     strings.TrimSpace(a[annotation.Gateway]),
		ExcludeIPs:  splitList(a[annotation.ExcludeIPs]),
		Namespaces:  []string{ns.Name},
		Private:     a[annotation.Private] == annotation.True,
		Allow:       splitList(a[annotation.Allow]),
		GatewayType: ovnetv1.GatewayType(strings.TrimSpace(a[annotation.GatewayType])),
		GatewayNode: strings.TrimSpace(a[annotation.GatewayNode]),
	}
	if spec.GatewayType == "" {
		spec.GatewayType = ovnetv1.GatewayDistributed
	}
	nat := a[annotation.GatewayNAT] != "false"
	spec.NATOutgoing = &nat
	s := &ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelNamespace: ns.Name}}, Spec: spec}
	return s, true
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (r *NamespaceReconciler) ensure(ctx context.Context, ns *corev1.Namespace, want *ovnetv1.Subnet) error {
	have := &ovnetv1.Subnet{}
	err := r.Client.Get(ctx, client.ObjectKey{Name: want.Name}, have)
	if apierrors.IsNotFound(err) {
		want.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(ns, corev1.SchemeGroupVersion.WithKind("Namespace"))}
		if err := r.Client.Create(ctx, want); err != nil {
			return fmt.Errorf("create subnet %s: %w", want.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("get subnet %s: %w", want.Name, err)
	}
	if have.Labels[LabelNamespace] != ns.Name {
		r.Recorder.Eventf(ns, nil, corev1.EventTypeWarning, "SubnetConflict", "Validate",
			"subnet %s already exists and does not belong to namespace %s; its annotations are ignored", want.Name, ns.Name)
		return nil
	}
	if equality.Semantic.DeepEqual(have.Spec, want.Spec) {
		return nil
	}
	patch := client.MergeFrom(have.DeepCopy())
	have.Spec = want.Spec
	if err := r.Client.Patch(ctx, have, patch); err != nil {
		return fmt.Errorf("update subnet %s: %w", want.Name, err)
	}
	return nil
}

// deleteOwned deletes the namespace's Subnets other than keep.
func (r *NamespaceReconciler) deleteOwned(ctx context.Context, namespace, keep string) error {
	var list ovnetv1.SubnetList
	if err := r.Client.List(ctx, &list, client.MatchingLabels{LabelNamespace: namespace}); err != nil {
		return fmt.Errorf("list subnets of namespace %s: %w", namespace, err)
	}
	for i := range list.Items {
		s := &list.Items[i]
		if s.Name == keep || !s.DeletionTimestamp.IsZero() {
			continue
		}
		if err := r.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete subnet %s: %w", s.Name, err)
		}
	}
	return nil
}

// subnetNamespacesField indexes Subnets by the namespaces they list, so
// placing a pod looks up its namespace's subnet instead of scanning them all.
const subnetNamespacesField = "spec.namespaces"

func indexSubnetNamespaces(obj client.Object) []string {
	return obj.(*ovnetv1.Subnet).Spec.Namespaces
}
