package ovs

import (
	"context"
	"fmt"
	"slices"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// Mirror is the desired state of a port mirror: copies of the selected
// traffic leave through OutputPort, an internal port (a device on the node
// that tcpdump can read, mirror0 by convention).
type Mirror struct {
	Name       string
	OutputPort string
	// SelectAll mirrors every packet on the bridge; otherwise only the
	// traffic entering or leaving Ports.
	SelectAll bool
	// Ports names the mirrored ports when SelectAll is false; names not
	// (or no longer) on the bridge are skipped.
	Ports []string
}

// EnsureMirror creates the mirror and its output port on the bridge, or
// brings them to want; it writes nothing when they are already as desired.
func (c *Client) EnsureMirror(ctx context.Context, bridge string, want Mirror) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) { return c.mirrorOps(bridge, want) })
	if err != nil {
		return fmt.Errorf("ensure mirror %s on %s: %w", want.Name, bridge, err)
	}
	return nil
}

func (c *Client) mirrorOps(bridge string, want Mirror) ([]ovsdb.Operation, error) {
	ops, outUUID, err := c.portOps(Port{Bridge: bridge, Name: want.OutputPort, Type: PortTypeInternal})
	if err != nil {
		return nil, err
	}
	br, err := c.bridge(bridge)
	if err != nil {
		return nil, err
	}
	selected := c.selectedPorts(br, want)
	m := &vswitch.Mirror{Name: want.Name, OutputPort: &outUUID, SelectAll: want.SelectAll,
		SelectSrcPort: selected, SelectDstPort: selected}
	have := c.mirrorOf(br, want.Name)
	if have == nil {
		return c.createMirrorOps(ops, br, m)
	}
	m.UUID = have.UUID
	res, err := ovsdbtxn.EnsureOps(c.db, ovsdbtxn.Row[*vswitch.Mirror]{
		Model: m, Fields: []any{&m.OutputPort, &m.SelectAll, &m.SelectSrcPort, &m.SelectDstPort},
	})
	if err != nil {
		return nil, err
	}
	return append(ops, res.Ops...), nil
}

// createMirrorOps inserts the mirror and hangs it from the bridge (an
// unreferenced mirror vanishes at commit). Mirror names are not indexed,
// so the transaction first checks the bridge's mirror list is still the
// one read from the cache: two racing callers cannot make two mirrors.
func (c *Client) createMirrorOps(ops []ovsdb.Operation, br *vswitch.Bridge, m *vswitch.Mirror) ([]ovsdb.Operation, error) {
	timeout := 0
	unchanged, err := c.db.DB().Where(br).Wait(ovsdb.WaitConditionEqual, &timeout, br, &br.Mirrors)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	m.UUID = ovsdbtxn.NamedUUID()
	create, err := c.db.DB().Create(m)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	attach, err := c.db.DB().Where(br).Mutate(br, ovsdbtxn.InsertRefs(&br.Mirrors, m.UUID))
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	return slices.Concat(unchanged, ops, create, attach), nil
}

// mirrorOf returns the bridge's mirror of that name, or nil.
func (c *Client) mirrorOf(br *vswitch.Bridge, name string) *vswitch.Mirror {
	for _, uuid := range br.Mirrors {
		if m := cachedRow[*vswitch.Mirror](c, uuid); m != nil && m.Name == name {
			return m
		}
	}
	return nil
}

// selectedPorts returns the sorted UUIDs of want's ports on the bridge.
func (c *Client) selectedPorts(br *vswitch.Bridge, want Mirror) []string {
	if want.SelectAll {
		return nil
	}
	var uuids []string
	for _, name := range want.Ports {
		if p, err := c.port(name); err == nil && p != nil && slices.Contains(br.Ports, p.UUID) {
			uuids = append(uuids, p.UUID)
		}
	}
	slices.Sort(uuids)
	return uuids
}
