package podrecord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/cni"
)

var (
	// ErrNotAddressed: the pod had no usable record when the wait ended.
	ErrNotAddressed = errors.New("timed out waiting for the pod's address")
	// ErrBadRecord: the pod's address annotations do not parse.
	ErrBadRecord = errors.New("the pod's address annotations are invalid")
)

// Record is a pod with the controller's parsed address record.
type Record struct {
	Pod     *corev1.Pod
	Address annotation.Address
}

// fetchInterval is how often a wait asks the API server itself for a pod
// its informer has not delivered: the runtime only asks for pods that
// exist, so the informer lags, as after an outage of the API server, when
// client-go retries its watch with a backoff of up to 30 s.
const fetchInterval = 2 * time.Second

// Fetch reads one pod from the API server, bypassing the informer.
type Fetch func(ctx context.Context, namespace, name string) (*corev1.Pod, error)

// Book holds this node's pods as the informer last delivered them, and
// wakes those waiting for a pod on each of its events: no polling, and a
// pod addressed before ADD arrives costs nothing.
type Book struct {
	mu sync.Mutex
	// pods are the informer's objects, shared with its cache: read only.
	pods map[types.NamespacedName]*corev1.Pod
	// events wakes the waiters of a pod on each of its events.
	events wakeups[types.NamespacedName]
	// fetch, when set, reads a pod the informer has not delivered.
	fetch Fetch
}

// NewBook returns an empty book; Handler fills it. fetch may be nil.
func NewBook(fetch Fetch) *Book {
	return &Book{pods: map[types.NamespacedName]*corev1.Pod{}, fetch: fetch}
}

// Handler is registered on the pod informer of this node's pods.
func (b *Book) Handler() toolscache.ResourceEventHandler {
	return PodHandler(b.Put, func(pod *corev1.Pod) { b.Delete(keyOf(pod)) })
}

// PodHandler is a pod informer's handler calling set with each pod added
// or updated and remove with each deleted, a tombstone's last state
// included.
func PodHandler(set, remove func(*corev1.Pod)) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { setPod(obj, set) },
		UpdateFunc: func(_, obj any) { setPod(obj, set) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			setPod(obj, remove)
		},
	}
}

func setPod(obj any, fn func(*corev1.Pod)) {
	if pod, ok := obj.(*corev1.Pod); ok {
		fn(pod)
	}
}

func keyOf(pod *corev1.Pod) types.NamespacedName {
	return types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
}

// Put records the pod's latest state and wakes its waiters.
func (b *Book) Put(pod *corev1.Pod) {
	b.mu.Lock()
	b.pods[keyOf(pod)] = pod
	b.mu.Unlock()
	b.events.wake(keyOf(pod))
}

// Delete forgets a pod and wakes its waiters.
func (b *Book) Delete(key types.NamespacedName) {
	b.mu.Lock()
	delete(b.pods, key)
	b.mu.Unlock()
	b.events.wake(key)
}

// Wait returns the pod's record once the controller marked it allocated,
// or an error wrapping ErrNotAddressed saying what was last seen when ctx
// ends first.
// While the informer has not delivered the pod, the API server is asked
// every fetchInterval.
func (b *Book) Wait(ctx context.Context, ref cni.PodRef) (Record, error) {
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	ticker := time.NewTicker(fetchInterval)
	defer ticker.Stop()
	for {
		changed, withdraw := b.events.next(key)
		got, state, err := b.Lookup(ref)
		if err == nil && got.Pod == nil && state == stateUnknown && b.fetch != nil {
			got, state, err = b.fetched(ctx, ref)
		}
		if err != nil || got.Pod != nil {
			withdraw()
			return got, err
		}
		select {
		case <-ctx.Done():
			withdraw()
			return Record{}, fmt.Errorf("%w: pod %s %s", ErrNotAddressed, key, state)
		case <-changed:
		case <-ticker.C:
			withdraw()
		}
	}
}

// fetched reads the pod from the API server, for a pod the informer has
// not delivered; the book is left to the informer, whose later events
// must not be overwritten by an older read.
func (b *Book) fetched(ctx context.Context, ref cni.PodRef) (Record, string, error) {
	// Bounded so that a hung API server does not hold the informer's
	// wake-ups back for longer than a tick.
	ctx, cancel := context.WithTimeout(ctx, fetchInterval)
	defer cancel()
	pod, err := b.fetch(ctx, ref.Namespace, ref.Name)
	if err != nil || pod == nil {
		return Record{}, stateUnknown, nil
	}
	return recordOf(pod, ref)
}

// Lookup reads the pod's record once: the record when addressed,
// otherwise a phrase saying why not yet; an error only for a record that
// can never work.
func (b *Book) Lookup(ref cni.PodRef) (Record, string, error) {
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	b.mu.Lock()
	pod := b.pods[key]
	b.mu.Unlock()
	if pod == nil {
		return Record{}, stateUnknown, nil
	}
	return recordOf(pod, ref)
}

// stateUnknown says the pod was not seen at all.
const stateUnknown = "is not (yet) known on this node"

// recordOf is the pod's record when addressed, otherwise a phrase saying
// why not yet; an error only for a record that can never work.
func recordOf(pod *corev1.Pod, ref cni.PodRef) (Record, string, error) {
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	if ref.UID != "" && string(pod.UID) != ref.UID {
		return Record{}, fmt.Sprintf("has uid %s, the runtime asked for %s", pod.UID, ref.UID), nil
	}
	addr, ok, err := annotation.ParseAddress(pod.Annotations)
	if err != nil {
		return Record{}, "", fmt.Errorf("%w: pod %s: %v", ErrBadRecord, key, err)
	}
	if !ok {
		return Record{}, "has no address from ovnet-controller yet (see the pod's events)", nil
	}
	return Record{Pod: pod, Address: addr}, "", nil
}
