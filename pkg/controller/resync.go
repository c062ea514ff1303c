package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// The reconcilers a resync reaches, by the name each registers under.
const (
	resyncSubnet        = "subnet"
	resyncNamespace     = "namespace"
	resyncPod           = "pod"
	resyncNode          = "node"
	resyncService       = "service"
	resyncNetworkPolicy = "networkpolicy"
	resyncIsolation     = "isolation"
)

// resyncBuffer is each channel's capacity; a resync of more objects waits
// while controller-runtime moves them into the reconciler's queue.
const resyncBuffer = 1024

// resyncKinds says what each reconciler is asked to reconcile: every
// object of the kind it is for.
var resyncKinds = map[string]func() client.ObjectList{
	resyncSubnet:        func() client.ObjectList { return &ovnetv1.SubnetList{} },
	resyncNamespace:     func() client.ObjectList { return &corev1.NamespaceList{} },
	resyncPod:           func() client.ObjectList { return &corev1.PodList{} },
	resyncNode:          func() client.ObjectList { return &corev1.NodeList{} },
	resyncService:       func() client.ObjectList { return &corev1.ServiceList{} },
	resyncNetworkPolicy: func() client.ObjectList { return &networkingv1.NetworkPolicyList{} },
	resyncIsolation:     func() client.ObjectList { return &corev1.NamespaceList{} },
}

// resyncs are channels into the reconcilers' queues through which a
// rebuild of the northbound database has each reconcile every object of
// its kind, as if it had just started. Reconcilers are level-based, so
// being asked again is all a rebuild needs of them.
type resyncs struct {
	// channels hold each reconciler's channel; filled while the
	// reconcilers are set up, read-only once the manager runs.
	channels map[string]chan event.GenericEvent
}

func newResyncs() *resyncs {
	return &resyncs{channels: map[string]chan event.GenericEvent{}}
}

// source is what the named reconciler watches to be resynced.
func (r *resyncs) source(name string) source.Source {
	ch := make(chan event.GenericEvent, resyncBuffer)
	r.channels[name] = ch
	return source.Channel(ch, &handler.EnqueueRequestForObject{})
}

// requeue hands every object of the named reconcilers' kinds, read from
// c (the manager's cache), to their queues and returns how many.
func (r *resyncs) requeue(ctx context.Context, c client.Reader, names ...string) (int, error) {
	n := 0
	for _, name := range names {
		ch, ok := r.channels[name]
		if !ok {
			continue // not wired: a test's manager without that reconciler
		}
		list := resyncKinds[name]()
		if err := c.List(ctx, list, readOnly); err != nil {
			return n, fmt.Errorf("list for %s resync: %w", name, err)
		}
		err := meta.EachListItem(list, func(obj runtime.Object) error {
			m, err := meta.Accessor(obj)
			if err != nil {
				return err
			}
			// A stub: the handler needs only the key, and the cached
			// object must not be shared with the queue.
			stub := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: m.GetNamespace(), Name: m.GetName()}}
			select {
			case ch <- event.GenericEvent{Object: stub}:
				n++
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil {
			return n, fmt.Errorf("%s resync: %w", name, err)
		}
	}
	return n, nil
}
