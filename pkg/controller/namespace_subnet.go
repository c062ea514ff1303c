package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// Reasons a namespace's subnet annotations are refused; they name the
// namespace's SubnetAccepted condition and its Events.
const (
	// ReasonReservedSubnet: the annotations name the node subnet.
	ReasonReservedSubnet = "ReservedSubnet"
	// ReasonSubnetConflict: the annotations would make a Subnet that exists
	// and belongs to someone else.
	ReasonSubnetConflict = "SubnetConflict"
	// ReasonRejectedByAPI: the API server's validation refused the Subnet
	// the annotations describe.
	ReasonRejectedByAPI = "RejectedByAPIServer"
)

// ConditionSubnetAccepted is the namespace condition saying whether the
// namespace's subnet annotations were accepted, and why not.
const ConditionSubnetAccepted corev1.NamespaceConditionType = "ovnet.io/SubnetAccepted"

// errNamespaceRefused marks a pod whose namespace's subnet annotations are
// refused: it waits, unaddressed, until the namespace is fixed.
var errNamespaceRefused = errors.New("the namespace's subnet annotations are refused")

// refusal is a namespace's subnet annotations refused as a whole.
type refusal struct {
	Reason  string
	Message string
}

func (r *refusal) Error() string { return r.Message }

// acceptedCondition is the namespace's SubnetAccepted condition, if any.
func acceptedCondition(ns *corev1.Namespace) *corev1.NamespaceCondition {
	for i := range ns.Status.Conditions {
		if ns.Status.Conditions[i].Type == ConditionSubnetAccepted {
			return &ns.Status.Conditions[i]
		}
	}
	return nil
}

// namespaceSubnet decides, for the namespace reconciler and for placing
// pods alike, which Subnet a namespace's annotations ask for. It returns ""
// when they ask for none, and a *refusal when they cannot be honoured.
func (n *Network) namespaceSubnet(ctx context.Context, c client.Reader, ns *corev1.Namespace) (string, error) {
	name := strings.TrimSpace(ns.Annotations[annotation.LogicalSwitch])
	hasCIDR := strings.TrimSpace(ns.Annotations[annotation.CIDR]) != ""
	if hasCIDR && name == "" {
		name = ns.Name
	}
	if name == "" {
		return "", nil
	}
	if name == n.Config.JoinSubnet.Name {
		return "", &refusal{Reason: ReasonReservedSubnet,
			Message: fmt.Sprintf("subnet %s is reserved for nodes; pods of namespace %s cannot use it", name, ns.Name)}
	}
	if !hasCIDR {
		return name, nil
	}
	existing := &ovnetv1.Subnet{}
	err := c.Get(ctx, client.ObjectKey{Name: name}, existing, readOnlyGet)
	switch {
	case apierrors.IsNotFound(err):
		return name, nil
	case err != nil:
		return "", fmt.Errorf("get subnet %s: %w", name, err)
	case existing.Labels[LabelNamespace] != ns.Name:
		return "", &refusal{Reason: ReasonSubnetConflict, Message: fmt.Sprintf(
			"subnet %s already exists and does not belong to namespace %s; its cidr annotations are refused", name, ns.Name)}
	}
	return name, nil
}
