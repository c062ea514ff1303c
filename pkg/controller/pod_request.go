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

// podRequest turns a pod's annotations into an allocation request.
func (r *PodReconciler) podRequest(ctx context.Context, pod *corev1.Pod) (ipam.Request, error) {
	subnet, err := r.subnetFor(ctx, pod)
	if err != nil {
		// The subnet asked for, if known, lets the pod be woken when it
		// becomes usable.
		return ipam.Request{Subnet: subnet}, err
	}
	req := ipam.Request{Owner: ipam.PodOwner(pod.Namespace, pod.Name), Subnet: subnet}
	a := pod.Annotations
	if s := strings.TrimSpace(a[annotation.IPAddress]); s != "" {
		if req.IP, err = netip.ParseAddr(s); err != nil {
			return req, &badAnnotation{Key: annotation.IPAddress, Err: fmt.Errorf("%q is not an IP address", s)}
		}
	}
	if s := strings.TrimSpace(a[annotation.MACAddress]); s != "" {
		if req.MAC, err = ipam.ParseMAC(s); err != nil {
			return req, &badAnnotation{Key: annotation.MACAddress, Err: err}
		}
	}
	if s := a[annotation.IPPool]; s != "" && !req.IP.IsValid() {
		if err := poolRequest(&req, pod, s); err != nil {
			return req, err
		}
	}
	return req, nil
}

// poolRequest applies ip_pool: a StatefulSet pod takes the entry of its
// ordinal, so a recreated pod gets its address back; others take the first
// free entry.
func poolRequest(req *ipam.Request, pod *corev1.Pod, s string) error {
	pool, err := ipam.ParsePool(s)
	if err != nil {
		return &badAnnotation{Key: annotation.IPPool, Err: err}
	}
	_, ordinal, ok := statefulSetOf(pod)
	if !ok {
		req.Pool = pool
		return nil
	}
	if ordinal >= len(pool) {
		return &badAnnotation{Key: annotation.IPPool,
			Err: fmt.Errorf("StatefulSet ordinal %d has no entry in a pool of %d", ordinal, len(pool))}
	}
	req.IP = pool[ordinal]
	return nil
}

// subnetFor picks the pod's subnet: its own annotation, else its
// namespace's subnet, else the default subnet.
func (r *PodReconciler) subnetFor(ctx context.Context, pod *corev1.Pod) (string, error) {
	if s := strings.TrimSpace(pod.Annotations[annotation.LogicalSwitch]); s != "" {
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
