package ovs

import (
	"context"
	"fmt"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// Datapath types: the kernel module in production, the userspace datapath
// where no module is loaded.
const (
	DatapathSystem = "system"
	DatapathNetdev = "netdev"
)

// FailModeSecure makes a bridge drop traffic while no controller has
// programmed it, instead of acting as a learning switch.
const FailModeSecure vswitch.BridgeFailMode = "secure"

// Bridge is the desired state of a bridge. ExternalIDs and OtherConfig
// are merged into what the bridge holds: keys not named here are kept.
type Bridge struct {
	Name         string
	DatapathType string
	// FailMode is FailModeSecure, or empty for OVS's default (standalone).
	FailMode    vswitch.BridgeFailMode
	ExternalIDs map[string]string
	OtherConfig map[string]string
}

// EnsureBridge creates the bridge, with its local internal port, or
// brings an existing one to want; it writes nothing when the bridge is
// already as desired.
func (c *Client) EnsureBridge(ctx context.Context, want Bridge) error {
	if err := c.converge(ctx, func() ([]ovsdb.Operation, error) { return c.bridgeOps(want) }); err != nil {
		return fmt.Errorf("ensure bridge %s: %w", want.Name, err)
	}
	return nil
}

// bridgeOps returns the ops that make want's bridge exist, hung from the
// Open_vSwitch row (a bridge nothing references would vanish at commit),
// or bring an existing one to want.
func (c *Client) bridgeOps(want Bridge) ([]ovsdb.Operation, error) {
	root, err := c.root()
	if err != nil {
		return nil, err
	}
	have, err := c.bridge(want.Name)
	if err != nil {
		return nil, err
	}
	br := &vswitch.Bridge{Name: want.Name, DatapathType: want.DatapathType, FailMode: failMode(want.FailMode),
		ExternalIDs: want.ExternalIDs, OtherConfig: want.OtherConfig}
	var local []ovsdb.Operation
	if have == nil {
		// A new bridge comes with its local port, as ovs-vsctl add-br makes it.
		var portUUID string
		if local, portUUID, err = c.createPortOps(Port{Name: want.Name, Type: PortTypeInternal}); err != nil {
			return nil, err
		}
		br.Ports = []string{portUUID}
	}
	res, err := ovsdbtxn.EnsureOps(c.db, ovsdbtxn.Row[*vswitch.Bridge]{
		Model: br, Fields: []any{&br.DatapathType, &br.FailMode},
		MergedMaps: []*map[string]string{&br.ExternalIDs, &br.OtherConfig},
		Parent:     &ovsdbtxn.Parent{Model: root, Refs: &root.Bridges},
	})
	if err != nil {
		return nil, err
	}
	return append(local, res.Ops...), nil
}

func failMode(m vswitch.BridgeFailMode) *vswitch.BridgeFailMode {
	if m == "" {
		return nil
	}
	return &m
}

// SetOpenvSwitchExternalIDs merges ids into the Open_vSwitch row's
// external_ids (system-id, ovn-remote, ovn-encap-type, ovn-encap-ip,
// ovn-bridge-datapath-type, ...), writing only when a value differs.
func (c *Client) SetOpenvSwitchExternalIDs(ctx context.Context, ids map[string]string) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		root, err := c.root()
		if err != nil {
			return nil, err
		}
		muts := ovsdbtxn.MergeMap(&root.ExternalIDs, root.ExternalIDs, ids)
		if len(muts) == 0 {
			return nil, nil
		}
		return c.db.DB().Where(root).Mutate(root, muts...)
	})
	if err != nil {
		return fmt.Errorf("set Open_vSwitch external_ids: %w", err)
	}
	return nil
}
