package gatewayhealth

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// DefaultNamespace holds the Leases, beside the kubelets' own node
	// Leases; every cluster has it.
	DefaultNamespace = "kube-node-lease"
	// leasePrefix starts every gateway Lease's name.
	leasePrefix = "ovnet-gateway-"
	// AnnotationReady is "true" while the node forwards egress traffic.
	AnnotationReady = "ovnet.io/gateway-ready"
	// AnnotationReason says why it does not.
	AnnotationReason = "ovnet.io/gateway-reason"
	// RenewInterval is how often a gateway node's daemon checks its data
	// path and renews. Failover takes at most LeaseDuration after a
	// daemon dies, and about one RenewInterval after it sees a fault.
	RenewInterval = 500 * time.Millisecond
	// LeaseDuration is how long a renewal vouches for the node: four
	// renewals, so one slow write does not move the egress.
	LeaseDuration = 2 * time.Second
)

// LeaseName is the Lease of the node's gateway heartbeat.
func LeaseName(node string) string { return leasePrefix + node }

// NodeOf returns the node a Lease name belongs to; ok is false for any
// other Lease.
func NodeOf(leaseName string) (node string, ok bool) {
	if len(leaseName) <= len(leasePrefix) || leaseName[:len(leasePrefix)] != leasePrefix {
		return "", false
	}
	return leaseName[len(leasePrefix):], true
}

// Report is what a daemon says of its node's data path.
type Report struct {
	Ready bool
	// Reason says what is wrong when not Ready.
	Reason string
}

// Read returns what the Lease says at now, and until when: a Lease not
// renewed in time says the daemon stopped reporting.
func Read(lease *coordinationv1.Lease, now time.Time) (Report, time.Time) {
	if lease.Spec.RenewTime == nil || lease.Spec.LeaseDurationSeconds == nil {
		return Report{Reason: "its daemon has not reported"}, time.Time{}
	}
	// The duration is whole seconds; the daemon writes the precise one.
	d := time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
	expires := lease.Spec.RenewTime.Add(d)
	if !now.Before(expires) {
		return Report{Reason: fmt.Sprintf("its daemon stopped reporting (last at %s)",
			lease.Spec.RenewTime.UTC().Format(time.RFC3339Nano))}, expires
	}
	if lease.Annotations[AnnotationReady] != "true" {
		return Report{Reason: lease.Annotations[AnnotationReason]}, expires
	}
	return Report{Ready: true}, expires
}

// ReportChanged reports whether a Lease's update says something new: a
// different report, or a renewal after the Lease had expired (its daemon
// is back). A renewal within the Lease's time says nothing new.
func ReportChanged(old, updated *coordinationv1.Lease) bool {
	o, n := old.Annotations, updated.Annotations
	if o[AnnotationReady] != n[AnnotationReady] || o[AnnotationReason] != n[AnnotationReason] {
		return true
	}
	if old.Spec.RenewTime == nil || updated.Spec.RenewTime == nil || old.Spec.LeaseDurationSeconds == nil {
		return true
	}
	lapse := time.Duration(*old.Spec.LeaseDurationSeconds) * time.Second
	return updated.Spec.RenewTime.Sub(old.Spec.RenewTime.Time) >= lapse
}

// Writer writes gateway Leases.
type Writer struct {
	Client client.Client
	// API reads a Lease back when a write finds it changed or gone.
	API       client.Reader
	Namespace string
}

// Renew writes the report into the node's Lease and returns the Lease as
// written. last is the Lease as last written, or nil: a renewal is then
// one write, and only a conflict or a missing Lease costs a read.
func Renew(ctx context.Context, w Writer, last *coordinationv1.Lease, node string, r Report, now time.Time) (*coordinationv1.Lease, error) {
	if last != nil {
		lease := last.DeepCopy()
		fill(lease, node, r, now)
		if err := w.Client.Update(ctx, lease); err == nil {
			return lease, nil
		}
	}
	lease := &coordinationv1.Lease{}
	key := client.ObjectKey{Namespace: w.Namespace, Name: LeaseName(node)}
	err := w.API.Get(ctx, key, lease)
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: key.Name}}
		fill(lease, node, r, now)
		err = w.Client.Create(ctx, lease)
	} else if err == nil {
		fill(lease, node, r, now)
		err = w.Client.Update(ctx, lease)
	}
	if err != nil {
		return nil, fmt.Errorf("renew gateway lease of %s: %w", node, err)
	}
	return lease, nil
}

func fill(lease *coordinationv1.Lease, node string, r Report, now time.Time) {
	seconds := int32(LeaseDuration / time.Second)
	renew := metav1.NewMicroTime(now)
	lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds, lease.Spec.RenewTime = &node, &seconds, &renew
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	lease.Annotations[AnnotationReady] = fmt.Sprint(r.Ready)
	if r.Ready {
		delete(lease.Annotations, AnnotationReason)
	} else {
		lease.Annotations[AnnotationReason] = r.Reason
	}
}
