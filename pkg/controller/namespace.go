package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

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
	return ctrl.NewControllerManagedBy(mgr).For(&corev1.Namespace{}).
		WatchesRawSource(r.Network.resyncs.source(resyncNamespace)).
		Owns(&ovnetv1.Subnet{}, builder.WithPredicates(validatedChanges)).
		Named("namespace").Complete(r)
}

// validatedChanges passes the Subnet updates that change its Validated
// condition, which the owning namespace's condition repeats.
var validatedChanges = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		oldS, okOld := e.ObjectOld.(*ovnetv1.Subnet)
		newS, okNew := e.ObjectNew.(*ovnetv1.Subnet)
		if !okOld || !okNew {
			return true
		}
		o := meta.FindStatusCondition(oldS.Status.Conditions, ovnetv1.ConditionValidated)
		n := meta.FindStatusCondition(newS.Status.Conditions, ovnetv1.ConditionValidated)
		return (o == nil) != (n == nil) || (o != nil && (o.Status != n.Status || o.Message != n.Message))
	},
}

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces/status,verbs=patch
// A namespace's Subnet names the namespace as its controller owner with
// blockOwnerDeletion, which the OwnerReferencesPermissionEnforcement
// admission plugin allows only to who may update the owner's finalizers.
// +kubebuilder:rbac:groups="",resources=namespaces/finalizers,verbs=update
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
	// Its annotations may now name another subnet for the pods refused in
	// the one they named before.
	r.Network.waiters.wakeAll(namespaceWaitKey(ns.Name))
	_, err = r.Network.namespaceSubnet(ctx, r.Client, ns)
	var refused *refusal
	if errors.As(err, &refused) {
		return ctrl.Result{}, errors.Join(r.deleteOwned(ctx, ns.Name, ""), r.setAccepted(ctx, ns, refused, true))
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	want, ok := subnetFromNamespace(ns)
	if !ok {
		return ctrl.Result{}, errors.Join(r.deleteOwned(ctx, ns.Name, ""), r.setAccepted(ctx, ns, nil, false))
	}
	if err := r.deleteOwned(ctx, ns.Name, want.Name); err != nil {
		return ctrl.Result{}, err
	}
	err = r.ensure(ctx, ns, want)
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
		// Retrying cannot help: the namespace's next change reconciles again.
		refused = &refusal{Reason: ReasonRejectedByAPI, Message: fmt.Sprintf(
			"the API server refused subnet %s made from the annotations: %s", want.Name, statusMessage(err))}
		return ctrl.Result{}, r.setAccepted(ctx, ns, refused, true)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	// ovnet's own refusal of the spec already left an Event on the
	// namespace; the condition repeats it where the namespace is read.
	return ctrl.Result{}, r.setAccepted(ctx, ns, r.subnetRefusal(ctx, want.Name), false)
}

// statusMessage is the API server's own words for a refused request.
func statusMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}

// subnetRefusal reads ovnet's verdict on the namespace's Subnet: a refusal
// when its spec is not validated, nil otherwise.
func (r *NamespaceReconciler) subnetRefusal(ctx context.Context, name string) *refusal {
	s := &ovnetv1.Subnet{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, s); err != nil {
		return nil
	}
	c := meta.FindStatusCondition(s.Status.Conditions, ovnetv1.ConditionValidated)
	if c == nil || c.Status != metav1.ConditionFalse {
		return nil
	}
	return &refusal{Reason: c.Reason, Message: fmt.Sprintf("subnet %s: %s", name, c.Message)}
}

// setAccepted writes the namespace's SubnetAccepted condition when it
// changes: false with the refusal, or true again once fixed. A namespace
// that never had a refusal gets no condition, so a steady cluster's
// namespaces are never written. With event, a new refusal is also an Event.
func (r *NamespaceReconciler) setAccepted(ctx context.Context, ns *corev1.Namespace, refused *refusal, event bool) error {
	want := corev1.NamespaceCondition{Type: ConditionSubnetAccepted, Status: corev1.ConditionTrue,
		Reason: "Accepted", Message: "the subnet annotations are in force"}
	if refused != nil {
		want.Status, want.Reason, want.Message = corev1.ConditionFalse, refused.Reason, refused.Message
	}
	conditions := slices.Clone(ns.Status.Conditions)
	i := slices.IndexFunc(conditions, func(c corev1.NamespaceCondition) bool { return c.Type == ConditionSubnetAccepted })
	switch {
	case i < 0 && refused == nil:
		return nil
	case i >= 0 && conditions[i].Status == want.Status && conditions[i].Reason == want.Reason && conditions[i].Message == want.Message:
		return nil
	}
	if refused != nil && event {
		r.Recorder.Eventf(ns, nil, corev1.EventTypeWarning, ReasonInvalidNamespaceSubnet, "Validate", "%s", refused.Message)
	}
	want.LastTransitionTime = metav1.Now()
	if i < 0 {
		conditions = append(conditions, want)
	} else {
		conditions[i] = want
	}
	patch := client.MergeFromWithOptions(ns.DeepCopy(), client.MergeFromWithOptimisticLock{})
	ns.Status.Conditions = conditions
	if err := r.Client.Status().Patch(ctx, ns, patch); err != nil {
		return fmt.Errorf("write condition of namespace %s: %w", ns.Name, err)
	}
	return nil
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
		ExcludeIPs:  annotation.SplitList(a[annotation.ExcludeIPs]),
		Namespaces:  []string{ns.Name},
		Private:     a[annotation.Private] == annotation.True,
		Allow:       annotation.SplitList(a[annotation.Allow]),
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
		// Created by someone else since namespaceSubnet looked: the next
		// reconcile reports the conflict.
		return fmt.Errorf("subnet %s already exists and does not belong to namespace %s", want.Name, ns.Name)
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
