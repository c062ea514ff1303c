package ovs

import (
	"context"
	"fmt"
	"slices"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// Interface types ovnet uses.
const (
	// PortTypeSystem is a network device that already exists, such as the
	// host end of a pod's veth pair.
	PortTypeSystem = ""
	// PortTypeInternal is a device OVS creates itself (a tap in the
	// userspace datapath), such as mirror0 or the node port.
	PortTypeInternal = "internal"
)

// Port is the desired state of a single-interface port; the interface
// shares its name. ExternalIDs go on the interface, where ovn-controller
// looks for iface-id; they are merged, so keys others add stay.
type Port struct {
	Bridge      string
	Name        string
	Type        string
	ExternalIDs map[string]string
	// MTURequest asks OVS to set the device's MTU; nil leaves it alone.
	MTURequest *int
}

// EnsurePort creates the port and its interface on the bridge in one
// transaction, or brings an existing one to want (moving it from another
// bridge if need be); it writes nothing when the port is already as desired.
func (c *Client) EnsurePort(ctx context.Context, want Port) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		ops, _, err := c.portOps(want)
		return ops, err
	})
	if err != nil {
		return fmt.Errorf("ensure port %s on %s: %w", want.Name, want.Bridge, err)
	}
	return nil
}

// portOps returns the ops that make want exist, and the port's UUID: a
// named UUID when the port is created in these ops.
func (c *Client) portOps(want Port) ([]ovsdb.Operation, string, error) {
	br, err := c.bridge(want.Bridge)
	if err != nil {
		return nil, "", err
	}
	if br == nil {
		return nil, "", fmt.Errorf("%w: %s", ErrBridgeNotFound, want.Bridge)
	}
	have, err := c.port(want.Name)
	if err != nil {
		return nil, "", err
	}
	if have == nil {
		create, portUUID, err := c.createPortOps(want)
		if err != nil {
			return nil, "", err
		}
		// Attached in the same transaction: an unreferenced port vanishes.
		attach, err := c.db.DB().Where(br).Mutate(br, ovsdbtxn.InsertRefs(&br.Ports, portUUID))
		if err != nil {
			return nil, "", fmt.Errorf("attach: %w", err)
		}
		return append(create, attach...), portUUID, nil
	}
	ops, err := c.moveOps(have, br)
	if err != nil {
		return nil, "", err
	}
	update, err := c.interfaceOps(have, want)
	if err != nil {
		return nil, "", err
	}
	return append(ops, update...), have.UUID, nil
}

// createPortOps inserts a port and its interface, not yet attached to
// any bridge.
func (c *Client) createPortOps(want Port) ([]ovsdb.Operation, string, error) {
	iface := &vswitch.Interface{
		UUID: ovsdbtxn.NamedUUID(), Name: want.Name, Type: want.Type, ExternalIDs: want.ExternalIDs,
		MTURequest: want.MTURequest,
	}
	port := &vswitch.Port{UUID: ovsdbtxn.NamedUUID(), Name: want.Name, Interfaces: []string{iface.UUID}}
	ops, err := c.db.DB().Create(iface, port)
	if err != nil {
		return nil, "", fmt.Errorf("create port %s: %w", want.Name, err)
	}
	return ops, port.UUID, nil
}

// moveOps detaches a port from whichever other bridge holds it and
// attaches it to br, in one transaction so the row is never unreferenced.
func (c *Client) moveOps(p *vswitch.Port, br *vswitch.Bridge) ([]ovsdb.Operation, error) {
	if slices.Contains(br.Ports, p.UUID) {
		return nil, nil
	}
	other := &vswitch.Bridge{}
	detach, err := ovsdbtxn.DetachOps(c.db, other, &other.Ports, p.UUID)
	if err != nil {
		return nil, err
	}
	attach, err := c.db.DB().Where(br).Mutate(br, ovsdbtxn.InsertRefs(&br.Ports, p.UUID))
	if err != nil {
		return nil, fmt.Errorf("attach to %s: %w", br.Name, err)
	}
	return append(detach, attach...), nil
}

// interfaceOps brings the port's interface of the same name to want.
func (c *Client) interfaceOps(p *vswitch.Port, want Port) ([]ovsdb.Operation, error) {
	have := c.interfaceOf(p)
	if have == nil {
		return nil, fmt.Errorf("port %s: %w", p.Name, ErrInterfaceNotFound)
	}
	iface := &vswitch.Interface{UUID: have.UUID, Name: have.Name, Type: want.Type, MTURequest: want.MTURequest,
		ExternalIDs: want.ExternalIDs}
	fields := []any{&iface.Type}
	if want.MTURequest != nil {
		fields = append(fields, &iface.MTURequest)
	}
	res, err := ovsdbtxn.EnsureOps(c.db, ovsdbtxn.Row[*vswitch.Interface]{
		Model: iface, Fields: fields, MergedMaps: []*map[string]string{&iface.ExternalIDs},
	})
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", have.Name, err)
	}
	return res.Ops, nil
}

// interfaceOf returns the port's interface named like the port (the only
// one for the ports ovnet makes), or its first.
func (c *Client) interfaceOf(p *vswitch.Port) *vswitch.Interface {
	var first *vswitch.Interface
	for _, uuid := range p.Interfaces {
		iface := cachedRow[*vswitch.Interface](c, uuid)
		if iface == nil {
			continue
		}
		if iface.Name == p.Name {
			return iface
		}
		if first == nil {
			first = iface
		}
	}
	return first
}

// DeletePort removes the port and its interface from the bridge and
// destroys its QoS unless another port shares it.
// Nothing happens when the port is not on that bridge.
func (c *Client) DeletePort(ctx context.Context, bridge, name string) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		br, err := c.bridge(bridge)
		if err != nil || br == nil {
			return nil, err
		}
		p, err := c.port(name)
		if err != nil || p == nil || !slices.Contains(br.Ports, p.UUID) {
			return nil, err
		}
		detach, err := c.db.DB().Where(br).Mutate(br, ovsdbtxn.DeleteRefs(&br.Ports, p.UUID))
		if err != nil {
			return nil, fmt.Errorf("detach: %w", err)
		}
		// Deleted outright, not left to garbage collection: OVSDB checks
		// that a destroyed QoS is unreferenced before it collects the
		// detached port that references it.
		del, err := c.db.DB().Where(p).Delete()
		if err != nil {
			return nil, fmt.Errorf("delete: %w", err)
		}
		drop, err := c.dropQoSOps(p)
		return slices.Concat(detach, del, drop), err
	})
	if err != nil {
		return fmt.Errorf("delete port %s from %s: %w", name, bridge, err)
	}
	return nil
}
