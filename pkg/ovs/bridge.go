package ovs

import (
	"context"
	"fmt"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
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

func (c *Client) bridgeOps(want Bridge) ([]ovsdb.Operation, error) {
	have, err := c.bridge(want.Name)
	if err != nil {
		return nil, err
	}
	if have == nil {
		return c.createBridgeOps(want)
	}
	var ops []ovsdb.Operation
	if have.DatapathType != want.DatapathType || deref(have.FailMode) != want.FailMode {
		have.DatapathType, have.FailMode = want.DatapathType, failMode(want.FailMode)
		update, err := c.db.Where(have).Update(have, &have.DatapathType, &have.FailMode)
		if err != nil {
			return nil, fmt.Errorf("update: %w", err)
		}
		ops = append(ops, update...)
	}
	muts := append(mergeMap(&have.ExternalIDs, have.ExternalIDs, want.ExternalIDs),
		mergeMap(&have.OtherConfig, have.OtherConfig, want.OtherConfig)...)
	if len(muts) > 0 {
		mutate, err := c.db.Where(have).Mutate(have, muts...)
		if err != nil {
			return nil, fmt.Errorf("merge maps: %w", err)
		}
		ops = append(ops, mutate...)
	}
	return ops, nil
}

// createBridgeOps inserts the bridge with its local port, as
// ovs-vsctl add-br does, and hangs it from the Open_vSwitch row: a bridge
// nothing references would vanish at commit.
func (c *Client) createBridgeOps(want Bridge) ([]ovsdb.Operation, error) {
	root, err := c.root()
	if err != nil {
		return nil, err
	}
	local, portUUID, err := c.createPortOps(Port{Name: want.Name, Type: PortTypeInternal})
	if err != nil {
		return nil, err
	}
	br := &vswitch.Bridge{
		UUID: newNamedUUID(), Name: want.Name, DatapathType: want.DatapathType, FailMode: failMode(want.FailMode),
		ExternalIDs: want.ExternalIDs, OtherConfig: want.OtherConfig, Ports: []string{portUUID},
	}
	create, err := c.db.Create(br)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	attach, err := c.db.Where(root).Mutate(root, insertRef(&root.Bridges, br.UUID))
	if err != nil {
		return nil, fmt.Errorf("attach to Open_vSwitch: %w", err)
	}
	return append(append(local, create...), attach...), nil
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
		muts := mergeMap(&root.ExternalIDs, root.ExternalIDs, ids)
		if len(muts) == 0 {
			return nil, nil
		}
		return c.db.Where(root).Mutate(root, muts...)
	})
	if err != nil {
		return fmt.Errorf("set Open_vSwitch external_ids: %w", err)
	}
	return nil
}
