package controller

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
)

// badAnnotation is a pod annotation that can never be satisfied as written;
// the pod waits, unaddressed, until a user changes it.
type badAnnotation struct {
	Key string
	Err error
}

func (e *badAnnotation) Error() string { return fmt.Sprintf("annotation %s: %v", e.Key, e.Err) }
func (e *badAnnotation) Unwrap() error { return e.Err }

// statefulSetOf returns the StatefulSet controlling the pod and the pod's
// ordinal; ok is false for other pods.
func statefulSetOf(pod *corev1.Pod) (name string, ordinal int, ok bool) {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "StatefulSet" {
		return "", 0, false
	}
	i := strings.LastIndexByte(pod.Name, '-')
	if i < 0 || pod.Name[:i] != ref.Name {
		return "", 0, false
	}
	ordinal, err := strconv.Atoi(pod.Name[i+1:])
	if err != nil || ordinal < 0 {
		return "", 0, false
	}
	return ref.Name, ordinal, true
}

// podRequest turns a pod's annotations into allocation requests in its
// subnet, one per family of the subnet, the first family's first. The fixed
// address and the pool of a dual-stack pod list both families, comma
// separated as Kube-OVN writes them (a pool's entries may also be "v4,v6"
// pairs separated by ";").
func (r *PodReconciler) podRequest(pod *corev1.Pod, subnet string) ([]ipam.Request, error) {
	req := ipam.Request{Owner: ipam.PodOwner(pod.Namespace, pod.Name), Subnet: subnet}
	if _, known := r.Network.IPAM.Subnet(subnet); !known {
		// Its families are unknown until it loads: read now, a dual-stack
		// pod's two fixed addresses would be refused as two of one family.
		return []ipam.Request{req}, fmt.Errorf("%w: %q requested by %s", ipam.ErrUnknownSubnet, subnet, req.Owner)
	}
	reqs := r.Network.requestsFor(req, netip.Addr{})
	a := pod.Annotations
	if s := strings.TrimSpace(a[annotation.MACAddress]); s != "" {
		mac, err := ipam.ParseMAC(s)
		if err != nil {
			return reqs, &badAnnotation{Key: annotation.MACAddress, Err: err}
		}
		for i := range reqs {
			reqs[i].MAC = mac
		}
	}
	if s := strings.TrimSpace(a[annotation.IPAddress]); s != "" {
		return reqs, fixedRequest(reqs, s)
	}
	if s := a[annotation.IPPool]; s != "" {
		return reqs, poolRequest(reqs, pod, s)
	}
	return reqs, nil
}

// byFamily sorts addresses into the requests of their family; a single
// request takes them all, so that the allocator says what is wrong with an
// address of the other family.
func byFamily(reqs []ipam.Request, addrs []netip.Addr) [][]netip.Addr {
	out := make([][]netip.Addr, len(reqs))
	for _, addr := range addrs {
		i := 0
		if len(reqs) == 2 && addr.Is6() {
			i = 1
		}
		out[i] = append(out[i], addr)
	}
	return out
}

// fixedRequest applies ip_address: one address, or one of each family of
// a dual-stack subnet.
func fixedRequest(reqs []ipam.Request, s string) error {
	var addrs []netip.Addr
	for _, part := range annotation.SplitList(s) {
		addr, err := netip.ParseAddr(part)
		if err != nil {
			return &badAnnotation{Key: annotation.IPAddress, Err: fmt.Errorf("%q is not an IP address", part)}
		}
		addrs = append(addrs, addr)
	}
	for i, fixed := range byFamily(reqs, addrs) {
		switch {
		case len(fixed) > 1 && len(reqs) == 1:
			return &badAnnotation{Key: annotation.IPAddress, Err: fmt.Errorf("%q: subnet %s is not dual stack: one address only", s, reqs[0].Subnet)}
		case len(fixed) > 1:
			return &badAnnotation{Key: annotation.IPAddress, Err: fmt.Errorf("%q: two addresses of one family", s)}
		case len(fixed) == 1:
			reqs[i].IP = fixed[0]
		}
	}
	return nil
}

// poolRequest applies ip_pool: a StatefulSet pod takes the entry of its
// ordinal (of each family), so a recreated pod gets its address back;
// others take the first free entry.
func poolRequest(reqs []ipam.Request, pod *corev1.Pod, s string) error {
	pool, err := ipam.ParsePool(strings.ReplaceAll(s, ";", ","))
	if err == nil && len(pool) == 0 {
		err = fmt.Errorf("no address in %q", s)
	}
	if err != nil {
		return &badAnnotation{Key: annotation.IPPool, Err: err}
	}
	_, ordinal, ok := statefulSetOf(pod)
	for i, family := range byFamily(reqs, pool) {
		switch {
		case len(family) == 0:
			// A family the pool lacks is allocated dynamically.
		case !ok:
			reqs[i].Pool = family
		case ordinal >= len(family):
			return &badAnnotation{Key: annotation.IPPool,
				Err: fmt.Errorf("StatefulSet ordinal %d has no entry in a pool of %d", ordinal, len(family))}
		default:
			reqs[i].IP = family[ordinal]
		}
	}
	return nil
}

// subnetFor picks the pod's subnet: its own annotation, else its
// namespace's subnet, else the default subnet.
func (r *PodReconciler) subnetFor(ctx context.Context, pod *corev1.Pod) (string, error) {
	if s := ownSubnet(pod); s != "" {
		if s == r.Network.Config.JoinSubnet.Name {
			return "", &badAnnotation{Key: annotation.LogicalSwitch, Err: fmt.Errorf("subnet %s is reserved for nodes", s)}
		}
		return s, nil
	}
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: pod.Namespace}, ns, readOnlyGet); err != nil {
		return "", fmt.Errorf("get namespace %s: %w", pod.Namespace, err)
	}
	name, err := r.Network.namespaceSubnet(ctx, r.Client, ns)
	var refused *refusal
	if errors.As(err, &refused) {
		return "", fmt.Errorf("%w: namespace %s: %s", errNamespaceRefused, ns.Name, refused.Message)
	}
	if err != nil {
		return "", err
	}
	if c := acceptedCondition(ns); name != "" && c != nil && c.Status == corev1.ConditionFalse && c.Reason == ReasonRejectedByAPI {
		if _, known := r.Network.IPAM.Subnet(name); !known {
			return name, fmt.Errorf("%w: namespace %s: %s", errNamespaceRefused, ns.Name, c.Message)
		}
	}
	if name != "" {
		return name, nil
	}
	var subnets ovnetv1.SubnetList
	if err := r.Client.List(ctx, &subnets, client.MatchingFields{subnetNamespacesField: pod.Namespace}); err != nil {
		return "", fmt.Errorf("list subnets of namespace %s: %w", pod.Namespace, err)
	}
	for i := range subnets.Items {
		if s := &subnets.Items[i]; s.DeletionTimestamp.IsZero() {
			return s.Name, nil
		}
	}
	return r.Network.Config.DefaultSubnet.Name, nil
}
