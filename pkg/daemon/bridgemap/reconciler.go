package bridgemap

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// missingBridgeRetry is how often a ProviderNetwork whose bridge the node
// lacks is looked at again, besides each time the node's Open_vSwitch
// database gains or loses a bridge: a safety net, should that wake-up be
// missed (the database away when the bridge came).
const missingBridgeRetry = 30 * time.Second

// ReasonBridgeMissing is the Event reason on a ProviderNetwork whose
// bridge does not exist on a node.
const ReasonBridgeMissing = "BridgeMissing"

// Reconciler maps every ProviderNetwork to its bridge on this node.
type Reconciler struct {
	// NodeName names this node in Events.
	NodeName string
	// Cache reads the ProviderNetworks.
	Cache client.Reader
	// OVS is the node's Open_vSwitch database.
	OVS *ovs.Client
	// Recorder reports bridges the node lacks.
	Recorder events.EventRecorder
}

// bridgesChanged turns the OVS database's bridge changes into reconciles.
// One pending event is enough: every reconcile maps every network.
func (r *Reconciler) bridgesChanged() <-chan event.GenericEvent {
	ch := make(chan event.GenericEvent, 1)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: r.NodeName}}
	r.OVS.OnBridgesChanged(func() {
		select {
		case ch <- event.GenericEvent{Object: node}:
		default:
		}
	})
	return ch
}

// The daemon reads ProviderNetworks; it writes nothing of them.
// +kubebuilder:rbac:groups=ovnet.io,resources=providernetworks,verbs=get;list;watch

// Reconcile converges ovn-bridge-mappings; every request means "this node".
func (r *Reconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	list := &ovnetv1.ProviderNetworkList{}
	if err := r.Cache.List(ctx, list); err != nil {
		return ctrl.Result{}, fmt.Errorf("list provider networks: %w", err)
	}
	want := map[string]string{}
	var result ctrl.Result
	for i := range list.Items {
		pn := &list.Items[i]
		bridge := pn.BridgeName()
		if _, err := r.OVS.ListPorts(bridge); err != nil {
			if !errors.Is(err, ovs.ErrBridgeNotFound) {
				return ctrl.Result{}, err
			}
			// Mapped to a missing bridge, ovn-controller would log and
			// do nothing; the Event says where the fault is.
			r.Recorder.Eventf(pn, nil, corev1.EventTypeWarning, ReasonBridgeMissing, "MapBridge",
				"node %s has no OVS bridge %s: underlay pods on it cannot reach provider network %s", r.NodeName, bridge, pn.Name)
			result.RequeueAfter = missingBridgeRetry
			continue
		}
		want[pn.Name] = bridge
	}
	return result, Write(ctx, r.OVS, want)
}

// Write merges want into the node's mappings and records the daemon's
// own; Write(ctx, c, nil) removes every mapping the daemon wrote, as on
// uninstall.
func Write(ctx context.Context, c *ovs.Client, want map[string]string) error {
	ids, err := c.OpenvSwitchExternalIDs()
	if err != nil {
		return err
	}
	mappings, owned := Merge(ids[KeyMappings], ids[KeyOwned], want)
	set := map[string]string{}
	var remove []string
	for key, value := range map[string]string{KeyMappings: mappings, KeyOwned: owned} {
		if value == "" {
			remove = append(remove, key)
		} else {
			set[key] = value
		}
	}
	if len(set) > 0 {
		if err := c.SetOpenvSwitchExternalIDs(ctx, set); err != nil {
			return err
		}
	}
	if len(remove) > 0 {
		return c.RemoveOpenvSwitchExternalIDs(ctx, remove)
	}
	return nil
}

// SetupWithManager watches the ProviderNetworks, the node's OVS bridges
// (a network's bridge made after the network is mapped at once; until
// then ovn-controller would send the network's traffic through tunnels,
// where an underlay pod's MTU does not fit) and this node, whose first
// sight at start removes the daemon's mappings of networks deleted while
// it was away, even when none is left to watch.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	thisNode := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []ctrl.Request {
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Name: r.NodeName}}}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("bridgemap").
		Watches(&corev1.Node{}, thisNode, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetName() == r.NodeName
		}), predicate.GenerationChangedPredicate{})).
		Watches(&ovnetv1.ProviderNetwork{}, thisNode).
		WatchesRawSource(source.Channel(r.bridgesChanged(), thisNode)).
		Complete(r)
}
