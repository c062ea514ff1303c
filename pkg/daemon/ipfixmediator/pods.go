package ipfixmediator

import (
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/daemon/podrecord"
)

// PodIndex names addresses by the controller's records on pods: a pod's
// ovn.kubernetes.io/ip_address once allocated, with its node. It is fed
// by a pod informer (Handler).
type PodIndex struct {
	mu sync.RWMutex
	// byAddr lists the pods holding each address, the latest last: a new
	// pod may hold an address its deleted predecessor still shows.
	byAddr map[netip.Addr][]types.NamespacedName
	// pods are what each pod was last seen as.
	pods map[types.NamespacedName]indexedPod
}

// indexedPod is a pod as the index holds it.
type indexedPod struct {
	Pod
	addrs []netip.Addr
}

// NewPodIndex returns an empty index.
func NewPodIndex() *PodIndex {
	return &PodIndex{byAddr: map[netip.Addr][]types.NamespacedName{}, pods: map[types.NamespacedName]indexedPod{}}
}

// Lookup names the pod holding addr.
func (x *PodIndex) Lookup(addr netip.Addr) (Pod, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	holders := x.byAddr[addr]
	if len(holders) == 0 {
		return Pod{}, false
	}
	return x.pods[holders[len(holders)-1]].Pod, true
}

// Set indexes pod by its record; a pod without one (not yet allocated,
// or host-network) holds no address.
func (x *PodIndex) Set(pod *corev1.Pod) {
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	entry := indexedPod{Pod: Pod{Namespace: pod.Namespace, Name: pod.Name, Node: pod.Spec.NodeName}}
	if h, ok, err := annotation.ParseHolding(pod.Annotations); ok && err == nil && !pod.Spec.HostNetwork {
		entry.addrs = h.IPs()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(key)
	x.pods[key] = entry
	for _, a := range entry.addrs {
		x.byAddr[a] = append(x.byAddr[a], key)
	}
}

// Delete forgets the pod.
func (x *PodIndex) Delete(key types.NamespacedName) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(key)
}

func (x *PodIndex) remove(key types.NamespacedName) {
	old, ok := x.pods[key]
	if !ok {
		return
	}
	delete(x.pods, key)
	for _, a := range old.addrs {
		holders := x.byAddr[a]
		for i, h := range holders {
			if h == key {
				holders = append(holders[:i:i], holders[i+1:]...)
				break
			}
		}
		if len(holders) == 0 {
			delete(x.byAddr, a)
		} else {
			x.byAddr[a] = holders
		}
	}
}

// Handler feeds the index from a pod informer.
func (x *PodIndex) Handler() toolscache.ResourceEventHandler {
	return podrecord.PodHandler(x.Set, func(pod *corev1.Pod) {
		x.Delete(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
	})
}

// SlimPod is a pod informer's transform for the index: only what Set
// reads, so that a node holding every pod of the cluster holds little.
func SlimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Pod{}
	slim.Name, slim.Namespace, slim.UID, slim.ResourceVersion = pod.Name, pod.Namespace, pod.UID, pod.ResourceVersion
	slim.Spec.NodeName, slim.Spec.HostNetwork = pod.Spec.NodeName, pod.Spec.HostNetwork
	for _, k := range []string{annotation.Allocated, annotation.IPAddress, annotation.MACAddress, annotation.LogicalSwitch} {
		if v, ok := pod.Annotations[k]; ok {
			if slim.Annotations == nil {
				slim.Annotations = map[string]string{}
			}
			slim.Annotations[k] = v
		}
	}
	return slim, nil
}
