package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ipam"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

const (
	// DefaultPodWorkers is how many pods are reconciled at once unless
	// configured. A pod's reconcile mostly waits: in a burst, nearly all of
	// its blocked time is the round trip of its record's patch to the API
	// server. With 16 workers, a busy API server's answers paced the
	// controller below the pods' creation rate, and 300 to 700 pods of
	// 5000 were left to address when their creation ended; with 32 it
	// kept up (test/perf/README.md).
	DefaultPodWorkers = 32
	// retryWaiting is when a pod whose request may become satisfiable (its
	// address taken, its subnet not ready yet, the subnet full) is retried.
	retryWaiting = 10 * time.Second
	// ExternalIDStatefulSet records on a pod's port the StatefulSet that owns
	// the pod, so its address can be kept while the pod is recreated.
	ExternalIDStatefulSet = "ovnet.io/statefulset"
)

// Event reasons on pods.
const (
	ReasonAddressFailed   = "AddressAllocationFailed"
	ReasonAddressConflict = "AddressConflict"
)

// PodReconciler gives each pod an address and a logical switch port, records
// them in the pod's annotations, and releases them exactly once when the pod
// is gone or has finished.
type PodReconciler struct {
	// Client reads pods, namespaces and StatefulSets.
	Client client.Client
	// Annotator writes the pods' records.
	Annotator *annotator
	// Network is the shared allocator, northbound client and settings.
	Network *Network
	// Recorder emits Events on pods whose request cannot be met.
	Recorder events.EventRecorder
	// Subnets is told when an allocation changes a subnet's usage.
	Subnets *SubnetReconciler
	// Metrics observes the time from pod creation to its address.
	Metrics *Metrics
}

// SetupWithManager registers the reconciler.
func (r *PodReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Pod{}, builder.WithPredicates(podChanges)).
		WatchesRawSource(source.Channel(r.Network.waiters.wake, &handler.EnqueueRequestForObject{})).
		WatchesRawSource(r.Network.resyncs.source(resyncPod)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Network.Config.PodWorkers)}).
		Named("pod").
		Complete(r)
}

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch

// Reconcile converges one pod's address and port.
func (r *PodReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.Network.waitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	// The cache's own pod, not a copy: nothing below writes to it (the
	// record's patch leaves the API server's answer undecoded).
	pod := &corev1.Pod{}
	if err := r.Client.Get(ctx, req.NamespacedName, pod, readOnlyGet); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.gone(ctx, req.Namespace, req.Name)
		}
		return ctrl.Result{}, fmt.Errorf("get pod: %w", err)
	}
	if pod.Spec.HostNetwork {
		return ctrl.Result{}, nil
	}
	if finished(pod) {
		return ctrl.Result{}, r.release(ctx, pod.Namespace, pod.Name)
	}
	if allocs, ok := heldAllocations(ipam.PodOwner(pod.Namespace, pod.Name), pod.Annotations); ok {
		return r.keep(ctx, pod, allocs)
	}
	if !pod.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // deleted before it was addressed: it will never run
	}
	return r.allocate(ctx, pod)
}

func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// keep makes sure an addressed pod's record is in IPAM and its port in NB;
// in a steady cluster both already are and nothing is written.
func (r *PodReconciler) keep(ctx context.Context, pod *corev1.Pod, allocs []ipam.Allocation) (ctrl.Result, error) {
	// A pod reconciled again (a resync, a rebuild of NB) holds what it
	// held: its subnet's usage is unchanged and needs no status refresh.
	usageChanged := !sameAllocations(r.Network.IPAM.Holdings(allocs[0].Owner), allocs)
	err := r.Network.reserve(allocs)
	switch {
	case errors.Is(err, ipam.ErrUnknownSubnet):
		return ctrl.Result{RequeueAfter: retryWaiting}, nil
	case err != nil:
		r.Recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonAddressConflict, "Allocate",
			"recorded address %s cannot be kept: %s", strings.Join(ipsOf(allocs), ","), err.Error())
		return ctrl.Result{}, nil
	}
	if err := r.Network.programPort(ctx, r.endpoint(pod, nil), allocs); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.record(ctx, pod, allocs, usageChanged)
}

// sameAllocations compares the subnets and addresses of two holdings.
func sameAllocations(a, b []ipam.Allocation) bool {
	return slices.EqualFunc(a, b, func(x, y ipam.Allocation) bool { return x.IP == y.IP && x.Subnet == y.Subnet })
}

func (r *PodReconciler) endpoint(pod *corev1.Pod, reqs []ipam.Request) endpoint {
	ep := endpoint{
		requests: reqs,
		port:     ovnname.PodPort(pod.Namespace, pod.Name),
		owner:    ovn.Owner{Kind: ovn.KindPod, Namespace: pod.Namespace, Name: pod.Name},
	}
	if sts, _, ok := statefulSetOf(pod); ok {
		ep.externalIDs = map[string]string{ExternalIDStatefulSet: sts}
	}
	return ep
}

func (r *PodReconciler) allocate(ctx context.Context, pod *corev1.Pod) (ctrl.Result, error) {
	key := client.ObjectKeyFromObject(pod)
	// Each wake-up count is read before what it could have changed.
	seenNB, seenNS := r.Network.waiters.seen(northboundWaitKey), r.Network.waiters.seen(namespaceWaitKey(pod.Namespace))
	subnet, err := r.subnetFor(ctx, pod)
	seen := r.Network.waiters.seen(subnet)
	reqs := []ipam.Request{{Subnet: subnet}}
	if err == nil {
		reqs, err = r.podRequest(pod, subnet)
	}
	if err == nil && r.Network.northbound.down.Load() {
		// Nothing is allocated that could not be written: the pod waits,
		// said so on it and on its subnet, instead of holding a worker.
		err = errNorthboundDown
	}
	if err == nil {
		var allocs []ipam.Allocation
		if allocs, err = r.Network.address(ctx, r.endpoint(pod, reqs)); err == nil {
			return ctrl.Result{}, r.record(ctx, pod, allocs, true)
		}
	}
	r.markPending(pod, subnet, err)
	var bad *badAnnotation
	if !errors.As(err, &bad) && !isPermanent(err) && !isWaiting(err) {
		return ctrl.Result{}, err
	}
	delay, report := r.Network.retries.failed(key, err.Error(), time.Now())
	if report && !errors.Is(err, ovn.ErrSwitchMissing) {
		r.Recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonAddressFailed, "Allocate", "%s", err.Error())
	}
	switch {
	case !isWaiting(err) && ownSubnet(pod) == "":
		// Refused in the subnet its namespace gave it; a Subnet that takes
		// the namespace may be still on its way (applied with the pod).
		r.Network.waiters.add(namespaceWaitKey(pod.Namespace), key, seenNS)
		return ctrl.Result{}, nil
	case !isWaiting(err):
		return ctrl.Result{}, nil // only a change of the pod's annotations can help
	case errors.Is(err, errNorthboundDown):
		r.Network.waiters.add(northboundWaitKey, key, seenNB)
	default:
		r.Network.waiters.add(subnet, key, seen)
	}
	return ctrl.Result{RequeueAfter: delay}, nil
}

// ownSubnet is the subnet the pod names itself; "" leaves the choice to
// its namespace.
func ownSubnet(pod *corev1.Pod) string {
	return strings.TrimSpace(pod.Annotations[annotation.LogicalSwitch])
}

// isPermanent: the request contradicts the subnet and only a change of the
// pod's annotations can fix it.
func isPermanent(err error) bool {
	return errors.Is(err, ipam.ErrOutOfRange) || errors.Is(err, ipam.ErrReserved) || errors.Is(err, ipam.ErrFamilyMismatch)
}

// isWaiting: the request may succeed later without any change to the pod.
func isWaiting(err error) bool {
	return errors.Is(err, ipam.ErrAddressTaken) || errors.Is(err, ipam.ErrMACTaken) ||
		errors.Is(err, ipam.ErrSubnetFull) || errors.Is(err, ipam.ErrPoolExhausted) || errors.Is(err, ipam.ErrUnknownSubnet) ||
		errors.Is(err, ovn.ErrSwitchMissing) || errors.Is(err, errNamespaceRefused) || errors.Is(err, errNorthboundDown)
}

// markPending lists a pod whose request failed on its subnet's condition,
// when the subnet is one the allocator knows.
func (r *PodReconciler) markPending(pod *corev1.Pod, subnet string, err error) {
	if _, known := r.Network.IPAM.Subnet(subnet); !known || errors.Is(err, ovn.ErrSwitchMissing) || errors.Is(err, errNamespaceRefused) {
		return
	}
	if r.Network.pending.set(subnet, client.ObjectKeyFromObject(pod), err.Error()) {
		r.Subnets.NotifyUsage(subnet)
	}
}

// unmarkPending takes a pod off its subnet's condition.
func (r *PodReconciler) unmarkPending(key types.NamespacedName) {
	if subnet, had := r.Network.pending.clear(key); had {
		r.Subnets.NotifyUsage(subnet)
	}
}

// record writes the allocation's record on the pod; usageChanged asks
// for a refresh of the subnet's usage status.
func (r *PodReconciler) record(ctx context.Context, pod *corev1.Pod, allocs []ipam.Allocation, usageChanged bool) error {
	r.unmarkPending(client.ObjectKeyFromObject(pod))
	r.Network.retries.forget(client.ObjectKeyFromObject(pod))
	alloc := allocs[0]
	if usageChanged {
		r.Subnets.NotifyUsage(alloc.Subnet)
	}
	record := r.Network.recordFor(allocs)
	if record.Recorded(pod.Annotations) {
		return nil
	}
	_, wasAddressed := heldAllocations(alloc.Owner, pod.Annotations)
	if err := r.Annotator.patch(ctx, resourcePods, pod.Namespace, pod.Name, record.Annotations()); err != nil {
		return err
	}
	if wasAddressed {
		// The subnet's gateway or CIDR changed, or the record lacked them:
		// the node daemon reconfigures the running pod from the new record.
		log.FromContext(ctx).Info("pod record updated", "ips", ipsOf(allocs), "cidr", record.Subnet, "gateway", record.Gateway)
		return nil
	}
	r.Metrics.observeAddressed(pod)
	log.FromContext(ctx).V(1).Info("pod addressed", "ips", ipsOf(allocs), "mac", alloc.MAC, "subnet", alloc.Subnet)
	return nil
}

// gone handles a pod that no longer exists. A StatefulSet pod's address and
// port are kept while its StatefulSet still wants that ordinal: the pod is
// being recreated and gets them back.
func (r *PodReconciler) gone(ctx context.Context, namespace, name string) error {
	if kept, err := r.keptForStatefulSet(ctx, namespace, name); err != nil || kept {
		return err
	}
	return r.release(ctx, namespace, name)
}

func (r *PodReconciler) release(ctx context.Context, namespace, name string) error {
	r.unmarkPending(types.NamespacedName{Namespace: namespace, Name: name})
	r.Metrics.forgetPod(types.NamespacedName{Namespace: namespace, Name: name})
	r.Network.retries.forget(types.NamespacedName{Namespace: namespace, Name: name})
	released, err := r.Network.unaddress(ctx, ipam.PodOwner(namespace, name), ovnname.PodPort(namespace, name))
	if err != nil {
		return err
	}
	if len(released) > 0 {
		subnet := nameOfHalf(released[0].Subnet)
		r.Subnets.NotifyUsage(subnet)
		r.Network.waiters.wakeAll(subnet)
		log.FromContext(ctx).V(1).Info("pod address released", "ips", ipsOf(released), "subnet", subnet)
	}
	return nil
}

// keptForStatefulSet reports whether a gone pod's port belongs to a
// StatefulSet that still has the pod's ordinal.
func (r *PodReconciler) keptForStatefulSet(ctx context.Context, namespace, name string) (bool, error) {
	row, found, err := r.Network.NB.SwitchPort(ovnname.PodPort(namespace, name))
	if err != nil || !found {
		return false, err
	}
	stsName := row.ExternalIDs[ExternalIDStatefulSet]
	if stsName == "" {
		return false, nil
	}
	return statefulSetWants(ctx, r.Client, namespace, stsName, name)
}

// statefulSetWants reports whether the StatefulSet exists and its replicas
// cover the ordinal in pod's name.
func statefulSetWants(ctx context.Context, c client.Client, namespace, stsName, pod string) (bool, error) {
	sts := &appsv1.StatefulSet{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: stsName}, sts); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("get statefulset %s: %w", stsName, err)
	}
	var ordinal int
	if !strings.HasPrefix(pod, stsName+"-") {
		return false, nil
	}
	if _, err := fmt.Sscanf(pod[len(stsName):], "-%d", &ordinal); err != nil {
		return false, nil
	}
	replicas := int32(1)
	if sts.Spec.Replicas != nil {
		replicas = *sts.Spec.Replicas
	}
	return sts.DeletionTimestamp.IsZero() && int32(ordinal) < replicas, nil
}
