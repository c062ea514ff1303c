package controller

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// underlay is where a subnet's switch meets the physical network: the
// zero value for an overlay subnet, attached to the cluster router.
type underlay struct {
	// provider is the ProviderNetwork's name, the localnet port's
	// network_name and the key of ovn-bridge-mappings on every node.
	provider string
	// vlan is the 802.1Q tag on the provider network; 0 is untagged.
	vlan int
}

// isUnderlay says whether the switch is bridged rather than routed.
func (u underlay) isUnderlay() bool { return u.provider != "" }

// parseUnderlay checks the spec's provider and VLAN: a VLAN needs a
// provider, lies in 0..4094 (the schema says so too, but a client may
// bypass it with an older CRD) and the ProviderNetwork must exist.
func parseUnderlay(ctx context.Context, c client.Reader, spec ovnetv1.SubnetSpec) (underlay, error) {
	u := underlay{provider: spec.Provider, vlan: spec.Vlan}
	if u.vlan < 0 || u.vlan > ovnetv1.MaxVlan {
		return underlay{}, invalidSpec("vlan %d is outside 0..%d", u.vlan, ovnetv1.MaxVlan)
	}
	if !u.isUnderlay() {
		if u.vlan != 0 {
			return underlay{}, invalidSpec("vlan %d needs a provider: a VLAN tag means something on a physical network only", u.vlan)
		}
		return u, nil
	}
	pn := &ovnetv1.ProviderNetwork{}
	if err := c.Get(ctx, types.NamespacedName{Name: u.provider}, pn); err != nil {
		if apierrors.IsNotFound(err) {
			return underlay{}, &specError{Reason: ovnetv1.ReasonUnknownProvider,
				Err: fmt.Errorf("provider %q: no ProviderNetwork of that name", u.provider)}
		}
		return underlay{}, fmt.Errorf("provider %q: %w", u.provider, err)
	}
	return u, nil
}

// underlayNotices lists what of an underlay subnet's spec does not apply:
// its pods' traffic never reaches the cluster router, so no node NATs or
// forwards it.
func underlayNotices(spec ovnetv1.SubnetSpec) []string {
	if !spec.Underlay() {
		return nil
	}
	var notes []string
	if spec.NATOutgoing == nil || *spec.NATOutgoing {
		notes = append(notes, "natOutgoing does not apply to an underlay subnet: its pods' traffic leaves by the provider network with their own addresses (set natOutgoing: false)")
	}
	if spec.GatewayType == ovnetv1.GatewayCentralized || spec.GatewayNode != "" {
		notes = append(notes, "gatewayType and gatewayNode do not apply to an underlay subnet: its gateway is the router on the provider network")
	}
	return notes
}

// attachmentOps bridges the switch to its provider network with a
// localnet port, or attaches it to the cluster router, and removes the
// other attachment, so that a subnet changing sides is left with one.
func (n *Network) attachmentOps(cfg subnetConfig, u underlay) ([]ovnOp, error) {
	router := n.Config.ClusterRouter
	owner := ovn.Owner{Kind: ovn.KindSubnet, Name: cfg.Name}
	lrpName := ovnname.RouterPort(router, cfg.Name)
	if !u.isUnderlay() {
		ops, err := n.NB.DeleteSwitchPortOps(ovnname.LocalnetPort(cfg.Name))
		if err != nil {
			return nil, err
		}
		more, err := n.routerAttachmentOps(cfg, owner, lrpName)
		return append(ops, more...), err
	}
	var tag *int
	if u.vlan != 0 {
		tag = &u.vlan
	}
	ops, err := n.NB.SwitchPortOps(ovn.SwitchPort{Switch: cfg.Name, Name: ovnname.LocalnetPort(cfg.Name),
		Type: ovn.PortTypeLocalnet, Addresses: []string{"unknown"}, Options: map[string]string{"network_name": u.provider},
		Tag: tag, Owner: owner, SwitchInTransaction: true})
	if err != nil {
		return nil, err
	}
	more, err := n.NB.DeleteSwitchPortOps(ovnname.SwitchRouterPort(router, cfg.Name))
	if err != nil {
		return nil, err
	}
	ops = append(ops, more...)
	more, err = n.NB.DeleteRouterPortOps(router, lrpName)
	return append(ops, more...), err
}

// routerAttachmentOps attaches an overlay subnet's switch to the cluster
// router: a router port with the gateway address and its peer.
func (n *Network) routerAttachmentOps(cfg subnetConfig, owner ovn.Owner, lrpName string) ([]ovnOp, error) {
	router := n.Config.ClusterRouter
	ops, err := n.NB.RouterPortOps(ovn.RouterPort{Router: router, Name: lrpName, MAC: routerPortMAC(lrpName),
		Networks: routerPortNetworks(cfg), Owner: owner})
	if err != nil {
		return nil, err
	}
	more, err := n.NB.SwitchPortOps(ovn.SwitchPort{Switch: cfg.Name, Name: ovnname.SwitchRouterPort(router, cfg.Name),
		Type: ovn.PortTypeRouter, Addresses: []string{"router"},
		Options: map[string]string{"router-port": lrpName}, Owner: owner, SwitchInTransaction: true})
	return append(ops, more...), err
}

// subnetsOfProvider requeues the Subnets that name a ProviderNetwork
// that came or went.
func (r *SubnetReconciler) subnetsOfProvider(ctx context.Context, obj client.Object) []ctrl.Request {
	list := &ovnetv1.SubnetList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	var out []ctrl.Request
	for _, s := range list.Items {
		if s.Spec.Provider == obj.GetName() {
			out = append(out, ctrl.Request{NamespacedName: types.NamespacedName{Name: s.Name}})
		}
	}
	return out
}
