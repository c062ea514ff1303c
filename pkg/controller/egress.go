package controller

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
)

// egressSpec is a Subnet's accepted gateway settings.
type egressSpec struct {
	centralized bool
	// nodes are the gateway nodes of a centralized subnet, in order of
	// preference.
	nodes []string
}

// parseEgress checks the gateway fields. NAT is the node's business and
// needs no check: every value of natOutgoing means something.
func parseEgress(spec ovnetv1.SubnetSpec) (egressSpec, error) {
	switch spec.GatewayType {
	case "", ovnetv1.GatewayDistributed:
		return egressSpec{}, nil
	case ovnetv1.GatewayCentralized:
	default:
		return egressSpec{}, invalidGateway("gatewayType %q: want %s or %s", spec.GatewayType,
			ovnetv1.GatewayDistributed, ovnetv1.GatewayCentralized)
	}
	if strings.TrimSpace(spec.GatewayNode) == "" {
		return egressSpec{}, invalidGateway("gatewayType centralized needs gatewayNode, one node name or several separated by commas")
	}
	var nodes []string
	for _, part := range strings.Split(spec.GatewayNode, ",") {
		name := strings.TrimSpace(part)
		switch {
		case name == "":
			return egressSpec{}, invalidGateway("gatewayNode %q has an empty entry", spec.GatewayNode)
		case strings.Contains(name, ":"):
			return egressSpec{}, invalidGateway("gatewayNode %q: the node:address form is not supported, name nodes only (egress leaves with the node's own address)", name)
		case len(validation.IsDNS1123Subdomain(name)) > 0:
			return egressSpec{}, invalidGateway("gatewayNode %q is not a node name", name)
		case slices.Contains(nodes, name):
			return egressSpec{}, invalidGateway("gatewayNode lists %s twice", name)
		}
		nodes = append(nodes, name)
	}
	return egressSpec{centralized: true, nodes: nodes}, nil
}

func invalidGateway(format string, args ...any) error {
	return &specError{Reason: ovnetv1.ReasonInvalidGateway, Err: fmt.Errorf(format, args...)}
}

// gatewayNode is one listed gateway node as the controller sees it now.
type gatewayNode struct {
	name string
	// join is the node's join address, the reroute's next hop; join6 its
	// IPv6 one when the join subnet is dual stack, the next hop of the
	// subnet's IPv6 half.
	join, join6 netip.Addr
	// ready says it forwards; why says why not.
	ready bool
	why   string
	// expires is when its heartbeat stops vouching for it.
	expires time.Time
}

// egressState is where a subnet's egress leaves.
type egressState struct {
	spec egressSpec
	// active is the gateway node in force, with its join address; unset
	// for a distributed subnet, or while no listed node was ever usable.
	active *gatewayNode
	// ready and message describe it for the GatewayReady condition.
	ready   bool
	reason  string
	message string
	// recheck is when a heartbeat in use expires: the state must be
	// decided again then, even if nothing is written meanwhile.
	recheck time.Duration
}

// gatewayNodes reads each listed node's readiness; an unknown node is a
// spec error, since a typo would otherwise look like a dead gateway.
func (r *SubnetReconciler) gatewayNodes(ctx context.Context, names []string, now time.Time) ([]gatewayNode, error) {
	out := make([]gatewayNode, 0, len(names))
	for _, name := range names {
		node := &corev1.Node{}
		if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, &specError{Reason: ovnetv1.ReasonUnknownGatewayNode, Err: fmt.Errorf("gatewayNode %s: no such node", name)}
			}
			return nil, fmt.Errorf("read gateway node %s: %w", name, err)
		}
		out = append(out, r.judge(ctx, node, now))
	}
	return out, nil
}

// judge decides whether a node can carry egress now: it must have a join
// address, not be NotReady, and its daemon must vouch for its data path.
func (r *SubnetReconciler) judge(ctx context.Context, node *corev1.Node, now time.Time) gatewayNode {
	g := gatewayNode{name: node.Name}
	addr, ok, err := annotation.ParseAddress(node.Annotations)
	if err != nil || !ok {
		g.why = "it has no join address yet"
		return g
	}
	g.join, g.join6 = addr.IP, addr.IPv6
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionFalse {
			g.why = "the node is NotReady: " + c.Message
			return g
		}
	}
	lease := &coordinationv1.Lease{}
	err = r.Client.Get(ctx, client.ObjectKey{Namespace: r.Network.Config.GatewayLeaseNamespace, Name: gatewayhealth.LeaseName(node.Name)}, lease)
	if err != nil {
		g.why = "its daemon has not reported"
		return g
	}
	report, expires := gatewayhealth.Read(lease, now)
	g.ready, g.why, g.expires = report.Ready, report.Reason, expires
	return g
}

// joinOf is the node's join address of a's family, if it has one.
func (g *gatewayNode) joinOf(a netip.Addr) (netip.Addr, bool) {
	for _, join := range []netip.Addr{g.join, g.join6} {
		if join.IsValid() && join.Is4() == a.Is4() {
			return join, true
		}
	}
	return netip.Addr{}, false
}

// decideEgress chooses the active gateway: the first ready listed node;
// with none ready, the one in force stays (or the first listed), so the
// subnet's egress never leaves through a node nobody chose.
func decideEgress(spec egressSpec, nodes []gatewayNode, current string, now time.Time) egressState {
	st := egressState{spec: spec}
	if !spec.centralized {
		st.ready, st.reason, st.message = true, ovnetv1.ReasonDistributed, "egress leaves through the node each pod runs on"
		return st
	}
	var down []string
	for i := range nodes {
		g := &nodes[i]
		if g.ready && st.active == nil {
			st.active = g
		}
		if !g.ready {
			down = append(down, fmt.Sprintf("%s: %s", g.name, g.why))
		} else if d := g.expires.Sub(now); d > 0 && (st.recheck == 0 || d < st.recheck) {
			st.recheck = d
		}
	}
	if st.active != nil {
		st.ready, st.reason = true, ovnetv1.ReasonGatewayActive
		st.message = "egress leaves through " + st.active.name
		if len(down) > 0 {
			st.message += "; not ready: " + strings.Join(down, "; ")
		}
		return st
	}
	st.reason = ovnetv1.ReasonNoGatewayReady
	st.message = "no gateway node is ready, egress of this subnet stops until one is: " + strings.Join(down, "; ")
	for i := range nodes {
		if nodes[i].join.IsValid() && (st.active == nil || nodes[i].name == current) {
			st.active = &nodes[i]
		}
	}
	return st
}

// setEgress reports the egress decision in the status: the active gateway
// and GatewayReady, with an Event when the active gateway changes. A nil
// egress (a refused setting) leaves both as they were, or reports the
// default, distributed egress of a subnet whose settings were never
// accepted.
func (r *SubnetReconciler) setEgress(subnet *ovnetv1.Subnet, status *ovnetv1.SubnetStatus, egress *egressState) {
	if egress == nil {
		if meta.FindStatusCondition(status.Conditions, ovnetv1.ConditionGatewayReady) != nil {
			return
		}
		// Never accepted: the subnet's egress is the default one.
		st := decideEgress(egressSpec{}, nil, "", time.Time{})
		st.message = "the gateway settings are refused (see Validated); until they are accepted, " + st.message
		egress = &st
	}
	c := metav1.Condition{Type: ovnetv1.ConditionGatewayReady, Status: metav1.ConditionTrue, Reason: egress.reason,
		Message: egress.message, ObservedGeneration: subnet.Generation}
	if !egress.ready {
		c.Status = metav1.ConditionFalse
	}
	meta.SetStatusCondition(&status.Conditions, c)
	status.ActiveGateway = ""
	if egress.spec.centralized && egress.ready {
		status.ActiveGateway = egress.active.name
	}
	if was := subnet.Status.ActiveGateway; was != status.ActiveGateway {
		r.Recorder.Eventf(subnet, nil, corev1.EventTypeNormal, ovnetv1.ReasonGatewayChanged, "Reroute",
			"egress gateway %q -> %q: %s", was, status.ActiveGateway, egress.message)
	}
}

// gatewaySubnetsOfNode maps a node to the centralized subnets that list
// it: its readiness and join address decide their egress.
func (r *SubnetReconciler) gatewaySubnetsOfNode(ctx context.Context, obj client.Object) []ctrl.Request {
	return r.subnetsListing(ctx, obj.GetName())
}

// gatewaySubnetsOfLease maps a gateway heartbeat to the subnets that list
// its node.
func (r *SubnetReconciler) gatewaySubnetsOfLease(ctx context.Context, obj client.Object) []ctrl.Request {
	node, ok := gatewayhealth.NodeOf(obj.GetName())
	if !ok || obj.GetNamespace() != r.Network.Config.GatewayLeaseNamespace {
		return nil
	}
	return r.subnetsListing(ctx, node)
}

func (r *SubnetReconciler) subnetsListing(ctx context.Context, node string) []ctrl.Request {
	var list ovnetv1.SubnetList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []ctrl.Request
	for _, s := range list.Items {
		if s.Spec.ListsGatewayNode(node) || r.acceptedListing(s.Name, node) {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKey{Name: s.Name}})
		}
	}
	return out
}

// acceptedListing reports whether the subnet's last accepted settings,
// which decide while newer ones are refused, list node.
func (r *SubnetReconciler) acceptedListing(subnet, node string) bool {
	last, ok := r.acceptedEgress.Load(subnet)
	return ok && slices.Contains(last.(egressSpec).nodes, node)
}

// reportChanged passes a heartbeat Lease's creation, deletion and changes
// of what it reports (a revival after expiry included), not its plain
// renewals: a renewal changes no decision, and the expiry of a Lease in use
// is rechecked on its own (egressState.recheck).
var reportChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*coordinationv1.Lease)
		n, okNew := e.ObjectNew.(*coordinationv1.Lease)
		return !okOld || !okNew || gatewayhealth.ReportChanged(o, n)
	},
}
