package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
)

const (
	// subnetFinalizer holds a Subnet's deletion until no pod or node holds
	// an address in it, so no running pod loses its switch.
	subnetFinalizer = ovnetv1.SubnetFinalizer
	// inUseRetry is how often a held deletion is re-examined.
	inUseRetry = 5 * time.Second
	// usageWriteInterval bounds status writes caused by allocations: a
	// burst of pods updates a subnet's usage once per interval, not once a
	// pod; the first change after a quiet interval is written at once. A
	// status write costs the API server more than a pod's record (a custom
	// resource: JSON, schema coercion and validation, managedFields
	// through unstructured), about 8 % of its CPU under a burst at one a
	// second per subnet; counts a few seconds behind a burst are what
	// users of `kubectl get subnets` can live with.
	usageWriteInterval = 5 * time.Second
)

// SubnetReconciler converges a Subnet into the allocator and the
// northbound database and reports usage and conditions in its status.
type SubnetReconciler struct {
	// Client reads and writes Kubernetes objects.
	Client client.Client
	// Network is the shared allocator, northbound client and settings.
	Network *Network
	// Recorder emits Events for refused specs.
	Recorder events.EventRecorder
	// usageChanged receives a Subnet name whenever an allocation changes its usage.
	usageChanged chan event.GenericEvent
	// lastUsageWrite is when each subnet's usage was last written.
	lastUsageWrite sync.Map
	// acceptedEgress is each subnet's last accepted egressSpec.
	acceptedEgress sync.Map
	// acceptedUnderlay is each subnet's last accepted underlay.
	acceptedUnderlay sync.Map
}

// NewSubnetReconciler wires a reconciler; usage changes are signalled to it
// through NotifyUsage.
func NewSubnetReconciler(c client.Client, n *Network, rec events.EventRecorder) *SubnetReconciler {
	return &SubnetReconciler{Client: c, Network: n, Recorder: rec, usageChanged: make(chan event.GenericEvent, 4096)}
}

// NotifyUsage asks for a status refresh of the subnet; it never blocks, a
// full queue only delays the refresh to the next periodic sweep.
func (r *SubnetReconciler) NotifyUsage(subnet string) {
	s := &ovnetv1.Subnet{}
	s.Name = subnet
	select {
	case r.usageChanged <- event.GenericEvent{Object: s}:
	default:
	}
}

// SetupWithManager registers the reconciler.
func (r *SubnetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&ovnetv1.Subnet{}, builder.WithPredicates(subnetChanges)).
		WatchesRawSource(r.Network.resyncs.source(resyncSubnet)).
		WatchesRawSource(source.Channel(r.usageChanged, handler.Funcs{GenericFunc: r.enqueueUsage})).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.gatewaySubnetsOfNode)).
		Watches(&ovnetv1.ProviderNetwork{}, handler.EnqueueRequestsFromMapFunc(r.subnetsOfProvider)).
		Watches(&coordinationv1.Lease{}, handler.EnqueueRequestsFromMapFunc(r.gatewaySubnetsOfLease),
			builder.WithPredicates(reportChanged)).
		Named("subnet").
		Complete(r)
}

// subnetChanges passes every Subnet update but the controller's own status
// writes: each usage write would come back as a reconcile finding nothing
// to do, hundreds in a burst of pods. Only the controller writes the
// status, and a reconcile reads it from the cache as it is.
var subnetChanges = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld, e.ObjectNew
		return o.GetGeneration() != n.GetGeneration() || !maps.Equal(o.GetLabels(), n.GetLabels()) ||
			!maps.Equal(o.GetAnnotations(), n.GetAnnotations()) || !slices.Equal(o.GetFinalizers(), n.GetFinalizers()) ||
			!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp())
	},
}

// enqueueUsage coalesces usage refreshes: within usageWriteInterval of
// the subnet's last usage write, the refresh waits for the interval to
// end, so a burst of pods costs one reconcile per subnet and interval
// rather than one per pod (each a full reconcile: spec, NB, status).
func (r *SubnetReconciler) enqueueUsage(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	req := reconcile.Request{NamespacedName: types.NamespacedName{Name: e.Object.GetName()}}
	if last, ok := r.lastUsageWrite.Load(req.Name); ok {
		if wait := usageWriteInterval - time.Since(last.(time.Time)); wait > 0 {
			q.AddAfter(req, wait)
			return
		}
	}
	q.Add(req)
}

// Subnets are created by bootstrap and per namespace, changed by merge
// patches (finalizer, status) and deleted by the namespace reconciler and
// the garbage collector; nothing updates them whole.
// +kubebuilder:rbac:groups=ovnet.io,resources=subnets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=ovnet.io,resources=subnets/status,verbs=patch
// +kubebuilder:rbac:groups=ovnet.io,resources=providernetworks,verbs=get;list;watch
// The gateway heartbeats, read through a cache limited to their namespace
// (kube-node-lease here stands for --gateway-lease-namespace: the chart
// puts this Role in network.gatewayLeaseNamespace).
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch,namespace=kube-node-lease

// Reconcile converges one Subnet.
func (r *SubnetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Network.waitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	subnet := &ovnetv1.Subnet{}
	if err := r.Client.Get(ctx, req.NamespacedName, subnet); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.forget(ctx, req.Name)
		}
		return ctrl.Result{}, fmt.Errorf("get subnet: %w", err)
	}
	if !subnet.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, subnet)
	}
	if !controllerutil.ContainsFinalizer(subnet, subnetFinalizer) {
		patch := client.MergeFrom(subnet.DeepCopy())
		controllerutil.AddFinalizer(subnet, subnetFinalizer)
		if err := r.Client.Patch(ctx, subnet, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer: %w", err)
		}
	}
	status := subnet.Status.DeepCopy()
	egress, applyErr := r.apply(ctx, subnet)
	r.setConditions(subnet, status, applyErr)
	r.setEgress(subnet, status, egress)
	result, err := r.writeStatus(ctx, subnet, status)
	if egress != nil && egress.recheck > 0 && (result.RequeueAfter == 0 || egress.recheck < result.RequeueAfter) {
		// A gateway's heartbeat that stops must be noticed without any
		// write to watch.
		result.RequeueAfter = egress.recheck
	}
	return result, err
}

// apply validates the spec, loads it into the allocator and programs the
// switch and the egress. A refused spec leaves the last accepted one in
// force; so does a refused gateway setting (the egress returned is nil).
func (r *SubnetReconciler) apply(ctx context.Context, subnet *ovnetv1.Subnet) (*egressState, error) {
	egress, egressErr := r.egress(ctx, subnet)
	var se *specError
	if egressErr != nil && !errors.As(egressErr, &se) {
		return nil, egressErr
	}
	u, accepted, underlayErr := r.underlayInForce(ctx, subnet)
	if underlayErr != nil && !errors.As(underlayErr, &se) {
		return nil, underlayErr
	}
	if !accepted {
		// Never accepted: its pods would take addresses of a network the
		// switch is not on, so nothing is programmed.
		return egress, errors.Join(underlayErr, egressErr)
	}
	egressErr = errors.Join(underlayErr, egressErr)
	cfg, err := r.Network.ipamConfig(subnet.Name, subnet.Spec)
	old, existed := r.Network.subnetConfig(subnet.Name)
	if err == nil {
		err = r.Network.setSubnet(cfg)
	}
	if err != nil {
		// A refused CIDR, gateway or exclude list keeps the one in force,
		// and does not hold back the rest of the spec (private, allow).
		if existed {
			if perr := r.program(ctx, old, subnet, egress, u); perr != nil {
				return nil, perr
			}
		}
		return egress, errors.Join(classifySubnetError(err), egressErr)
	}
	if err := r.program(ctx, cfg, subnet, egress, u); err != nil {
		return nil, err
	}
	r.Network.waiters.wakeAll(subnet.Name)
	for _, ns := range subnet.Spec.Namespaces {
		r.Network.waiters.wakeAll(namespaceWaitKey(ns))
	}
	if existed && !old.sameAddressing(cfg) {
		// Running pods keep their addresses but take the new prefix and
		// gateway: their records are rewritten and the daemons follow.
		r.Network.waiters.requeue(ctx, podHolders(r.Network.IPAM.Allocations(subnet.Name)))
	}
	return egress, egressErr
}

// egress decides where the subnet's egress leaves. A refused gateway
// setting is a spec error; the settings last accepted (since this
// controller started) keep deciding meanwhile, failover included, and
// without any the egress in force is kept as it is (nil).
func (r *SubnetReconciler) egress(ctx context.Context, subnet *ovnetv1.Subnet) (*egressState, error) {
	now := time.Now()
	spec, err := parseEgress(subnet.Spec)
	var nodes []gatewayNode
	if err == nil {
		nodes, err = r.gatewayNodes(ctx, spec.nodes, now)
	}
	var se *specError
	switch {
	case err == nil:
		r.acceptedEgress.Store(subnet.Name, spec)
	case !errors.As(err, &se):
		return nil, err
	default:
		last, ok := r.acceptedEgress.Load(subnet.Name)
		if !ok {
			return nil, err
		}
		spec = last.(egressSpec)
		if nodes, err2 := r.gatewayNodes(ctx, spec.nodes, now); err2 == nil {
			st := decideEgress(spec, nodes, subnet.Status.ActiveGateway, now)
			return &st, err
		}
		return nil, err
	}
	st := decideEgress(spec, nodes, subnet.Status.ActiveGateway, now)
	return &st, nil
}

// podHolders lists the pods among a subnet's allocations.
func podHolders(allocs []ipam.Allocation) []types.NamespacedName {
	var pods []types.NamespacedName
	for _, a := range allocs {
		if a.Owner.Kind == ipam.OwnerPod {
			pods = append(pods, types.NamespacedName{Namespace: a.Owner.Namespace, Name: a.Owner.Name})
		}
	}
	return pods
}

// underlayInForce is the subnet's underlay: the spec's if accepted, else
// the last accepted one with the refusal; accepted is false when none
// ever was.
func (r *SubnetReconciler) underlayInForce(ctx context.Context, subnet *ovnetv1.Subnet) (u underlay, accepted bool, err error) {
	u, err = parseUnderlay(ctx, r.Client, subnet.Spec, r.addressHolder(subnet.Name))
	if err == nil {
		r.acceptedUnderlay.Store(subnet.Name, u)
		return u, true, nil
	}
	if last, ok := r.acceptedUnderlay.Load(subnet.Name); ok {
		return last.(underlay), true, err
	}
	return underlay{}, false, err
}

// addressHolder reports who holds an address of the subnet in the
// allocator.
func (r *SubnetReconciler) addressHolder(subnet string) func(netip.Addr) (string, bool) {
	return func(a netip.Addr) (string, bool) {
		for _, half := range []string{subnet, ipv6Half(subnet)} {
			for _, alloc := range r.Network.IPAM.Allocations(half) {
				if alloc.IP == a {
					return alloc.Owner.String(), true
				}
			}
		}
		return "", false
	}
}

// program writes the subnet's switch, its attachment, ACLs and policies
// for cfg; a nil egress keeps the egress policy in force.
func (r *SubnetReconciler) program(ctx context.Context, cfg subnetConfig, subnet *ovnetv1.Subnet, egress *egressState, u underlay) error {
	if r.Network.northbound.down.Load() {
		// Said at once on the Subnet rather than after a transaction's
		// timeout; NorthboundMonitor reconciles every Subnet once it is back.
		return errNorthboundDown
	}
	ops, err := r.Network.subnetOps(cfg, subnet.Spec, u)
	if err == nil {
		var more []ovnOp
		more, err = r.Network.subnetPoliciesOps(cfg, egress, u)
		ops = append(ops, more...)
	}
	if err == nil {
		err = r.Network.transact(ctx, ops)
	}
	if err != nil {
		return fmt.Errorf("program subnet %s: %w", subnet.Name, err)
	}
	return nil
}

func classifySubnetError(err error) error {
	var se *specError
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, ipam.ErrOverlap):
		return &specError{Reason: ovnetv1.ReasonOverlap, Err: err}
	case errors.Is(err, ipam.ErrAllocationsOutside):
		return &specError{Reason: ovnetv1.ReasonAllocationsOutside, Err: err}
	default:
		return &specError{Reason: ovnetv1.ReasonInvalidSpec, Err: err}
	}
}

func (r *SubnetReconciler) setConditions(subnet *ovnetv1.Subnet, status *ovnetv1.SubnetStatus, applyErr error) {
	gen := subnet.Generation
	status.ObservedGeneration = gen
	var se *specError
	switch {
	case applyErr == nil:
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: ovnetv1.ConditionValidated,
			Status: metav1.ConditionTrue, Reason: "Accepted", Message: "spec accepted", ObservedGeneration: gen})
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: ovnetv1.ConditionReady,
			Status: metav1.ConditionTrue, Reason: ovnetv1.ReasonProgrammed, Message: "switch and router port programmed", ObservedGeneration: gen})
	case errors.As(applyErr, &se):
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: ovnetv1.ConditionValidated,
			Status: metav1.ConditionFalse, Reason: se.Reason, Message: se.Error(), ObservedGeneration: gen})
		if !meta.IsStatusConditionPresentAndEqual(subnet.Status.Conditions, ovnetv1.ConditionValidated, metav1.ConditionFalse) {
			r.reportRefusal(subnet, se)
		}
		// The last accepted spec stays in force and programmed; a subnet
		// never accepted is not ready.
		ready := metav1.Condition{Type: ovnetv1.ConditionReady, Status: metav1.ConditionTrue, Reason: ovnetv1.ReasonProgrammed,
			Message: "switch and router port programmed", ObservedGeneration: gen}
		if _, ok := r.Network.IPAM.Subnet(subnet.Name); !ok {
			ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, se.Reason, se.Error()
		}
		meta.SetStatusCondition(&status.Conditions, ready)
	default:
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: ovnetv1.ConditionReady,
			Status: metav1.ConditionFalse, Reason: ovnetv1.ReasonNorthboundError, Message: applyErr.Error(), ObservedGeneration: gen})
	}
	r.Network.setUsage(subnet.Name, status)
	if cfg, ok := r.Network.subnetConfig(subnet.Name); ok {
		var gateways []string
		for _, half := range cfg.halves() {
			gateways = append(gateways, half.Gateway.String())
		}
		status.Gateway = strings.Join(gateways, ",")
	}
	status.U2OInterconnectionIP = ""
	if last, ok := r.acceptedUnderlay.Load(subnet.Name); ok && last.(underlay).interconnected() {
		status.U2OInterconnectionIP = last.(underlay).interconnectAddrs()
	}
	pendingCondition(status, r.Network.pending, subnet)
	r.noticeConditions(subnet, status)
}

// noticeConditions reports, while there is anything to say, what of the
// spec is not acted on and which holders keep addresses an exclude
// covers. A new notice is also an Event, on the Subnet and its namespace.
func (r *SubnetReconciler) noticeConditions(subnet *ovnetv1.Subnet, status *ovnetv1.SubnetStatus) {
	gen := subnet.Generation
	if notes := append(specNotices(subnet.Spec), r.Network.egressNotices(subnet.Spec)...); len(notes) == 0 {
		meta.RemoveStatusCondition(&status.Conditions, ovnetv1.ConditionIgnoredFields)
	} else {
		c := metav1.Condition{Type: ovnetv1.ConditionIgnoredFields, Status: metav1.ConditionTrue,
			Reason: ovnetv1.ReasonNotActedOn, Message: strings.Join(notes, "; "), ObservedGeneration: gen}
		if old := meta.FindStatusCondition(subnet.Status.Conditions, c.Type); old == nil || old.Message != c.Message {
			r.report(subnet, ovnetv1.ConditionIgnoredFields, c.Message)
		}
		meta.SetStatusCondition(&status.Conditions, c)
	}
	held := r.Network.IPAM.HeldExcluded(subnet.Name)
	if len(held) == 0 {
		meta.RemoveStatusCondition(&status.Conditions, ovnetv1.ConditionExcludedInUse)
		return
	}
	names := make([]string, 0, pendingShown+1)
	for _, a := range held[:min(len(held), pendingShown)] {
		names = append(names, fmt.Sprintf("%s (%s)", a.IP, a.Owner))
	}
	if len(held) > pendingShown {
		names = append(names, fmt.Sprintf("and %d more", len(held)-pendingShown))
	}
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: ovnetv1.ConditionExcludedInUse,
		Status: metav1.ConditionTrue, Reason: ovnetv1.ReasonHeldBeforeExclude, ObservedGeneration: gen,
		Message: fmt.Sprintf("%d addresses excluded after they were handed out stay with their holders until released: %s",
			len(held), strings.Join(names, ", "))})
}

// pendingCondition reports the pods waiting for an address in the subnet.
func pendingCondition(status *ovnetv1.SubnetStatus, p *pending, subnet *ovnetv1.Subnet) {
	c := metav1.Condition{Type: ovnetv1.ConditionAddressesPending, Status: metav1.ConditionFalse,
		Reason: ovnetv1.ReasonNoneWaiting, Message: "no pod waits for an address", ObservedGeneration: subnet.Generation}
	if n, msg := p.summary(subnet.Name); n > 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, ovnetv1.ReasonPodsWaiting, msg
	}
	meta.SetStatusCondition(&status.Conditions, c)
}

// ReasonInvalidNamespaceSubnet is the Event reason on a namespace whose
// annotations describe a subnet the controller refused.
const ReasonInvalidNamespaceSubnet = "InvalidSubnetAnnotation"

// reportRefusal leaves an Event on the Subnet and, for a Subnet made from a
// namespace's annotations, on that namespace, where its author looks.
func (r *SubnetReconciler) reportRefusal(subnet *ovnetv1.Subnet, se *specError) {
	r.report(subnet, se.Reason, se.Error())
}

// report leaves a Warning Event on the Subnet and on its namespace, if a
// namespace's annotations made it.
func (r *SubnetReconciler) report(subnet *ovnetv1.Subnet, reason, note string) {
	r.Recorder.Eventf(subnet, nil, corev1.EventTypeWarning, reason, "Validate", "%s", note)
	nsName := subnet.Labels[LabelNamespace]
	if nsName == "" {
		return
	}
	ns := &corev1.Namespace{}
	if err := r.Client.Get(context.Background(), client.ObjectKey{Name: nsName}, ns); err != nil {
		return
	}
	r.Recorder.Eventf(ns, subnet, corev1.EventTypeWarning, ReasonInvalidNamespaceSubnet, "Validate",
		"subnet %s from annotations: %s", subnet.Name, note)
}

// writeStatus patches the status when it changed; a change of usage alone
// is written at most once per usageWriteInterval.
func (r *SubnetReconciler) writeStatus(ctx context.Context, subnet *ovnetv1.Subnet, status *ovnetv1.SubnetStatus) (ctrl.Result, error) {
	result := ctrl.Result{}
	if statusEqual(&subnet.Status, status) {
		return result, nil
	}
	if onlyUsageChanged(&subnet.Status, status) {
		if last, ok := r.lastUsageWrite.Load(subnet.Name); ok {
			if wait := usageWriteInterval - time.Since(last.(time.Time)); wait > 0 {
				return ctrl.Result{RequeueAfter: wait}, nil
			}
		}
	}
	// The whole status is sent, not a diff: a diff would leave out counts
	// that are zero in both and never show them.
	body, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return result, fmt.Errorf("encode subnet status: %w", err)
	}
	if err := r.Client.Status().Patch(ctx, subnet, client.RawPatch(types.MergePatchType, body)); err != nil {
		return result, fmt.Errorf("write subnet status: %w", err)
	}
	r.lastUsageWrite.Store(subnet.Name, time.Now())
	return result, nil
}

func (r *SubnetReconciler) finalize(ctx context.Context, subnet *ovnetv1.Subnet) (ctrl.Result, error) {
	if usage, ok := r.Network.IPAM.Usage(subnet.Name); ok && usage.Used > 0 {
		status := subnet.Status.DeepCopy()
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: ovnetv1.ConditionReady,
			Status: metav1.ConditionFalse, Reason: ovnetv1.ReasonInUse, ObservedGeneration: subnet.Generation,
			Message: fmt.Sprintf("deletion waits for %d addresses still allocated", usage.Used)})
		status.UsedIPs = saturate(usage.Used)
		if _, err := r.writeStatus(ctx, subnet, status); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: inUseRetry}, nil
	}
	if err := r.forget(ctx, subnet.Name); err != nil {
		return ctrl.Result{}, err
	}
	patch := client.MergeFrom(subnet.DeepCopy())
	controllerutil.RemoveFinalizer(subnet, subnetFinalizer)
	if err := r.Client.Patch(ctx, subnet, patch); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("remove finalizer: %w", err)
	}
	return ctrl.Result{}, nil
}

// forget removes a subnet that has no addresses left from NB and IPAM.
func (r *SubnetReconciler) forget(ctx context.Context, name string) error {
	ops, err := r.Network.deleteSubnetOps(name)
	if err == nil {
		err = r.Network.transact(ctx, ops)
	}
	if err != nil {
		return fmt.Errorf("remove subnet %s from northbound: %w", name, err)
	}
	for _, half := range []string{ipv6Half(name), name} {
		if err := r.Network.IPAM.RemoveSubnet(half); err != nil {
			return fmt.Errorf("remove subnet %s from IPAM: %w", half, err)
		}
	}
	r.lastUsageWrite.Delete(name)
	r.acceptedEgress.Delete(name)
	r.acceptedUnderlay.Delete(name)
	return nil
}

func statusEqual(a, b *ovnetv1.SubnetStatus) bool {
	return a.Gateway == b.Gateway && a.ActiveGateway == b.ActiveGateway && a.UsedIPs == b.UsedIPs && a.AvailableIPs == b.AvailableIPs &&
		a.V4UsedIPs == b.V4UsedIPs && a.V4AvailableIPs == b.V4AvailableIPs && a.V6UsedIPs == b.V6UsedIPs && a.V6AvailableIPs == b.V6AvailableIPs &&
		!conditionsDiffer(a, b) &&
		a.ObservedGeneration == b.ObservedGeneration
}

func onlyUsageChanged(a, b *ovnetv1.SubnetStatus) bool {
	return a.Gateway == b.Gateway && a.ActiveGateway == b.ActiveGateway && !conditionsDiffer(a, b) && a.ObservedGeneration == b.ObservedGeneration
}

func conditionsDiffer(a, b *ovnetv1.SubnetStatus) bool {
	if len(a.Conditions) != len(b.Conditions) {
		return true
	}
	for _, c := range b.Conditions {
		old := meta.FindStatusCondition(a.Conditions, c.Type)
		if old == nil || old.Status != c.Status || old.Reason != c.Reason || old.Message != c.Message ||
			old.ObservedGeneration != c.ObservedGeneration {
			return true
		}
	}
	return false
}
