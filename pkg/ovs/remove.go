package ovs

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// DeleteBridge removes the bridge with every port and interface on it, its
// mirrors, and the QoS and Queue rows its ports use that no port of
// another bridge shares, in one transaction. QoS and Queue are root
// tables: left to garbage collection they would stay forever. Nothing
// happens when the bridge does not exist.
func (c *Client) DeleteBridge(ctx context.Context, name string) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		br, err := c.bridge(name)
		if err != nil || br == nil {
			return nil, err
		}
		root, err := c.root()
		if err != nil {
			return nil, err
		}
		detach, err := c.db.DB().Where(root).Mutate(root, ovsdbtxn.DeleteRefs(&root.Bridges, br.UUID))
		if err != nil {
			return nil, fmt.Errorf("detach: %w", err)
		}
		del, err := c.db.DB().Where(br).Delete()
		if err != nil {
			return nil, fmt.Errorf("delete: %w", err)
		}
		ports, err := c.deletePortsOps(br)
		if err != nil {
			return nil, err
		}
		return slices.Concat(detach, del, ports), nil
	})
	if err != nil {
		return fmt.Errorf("delete bridge %s: %w", name, err)
	}
	return nil
}

// deletePortsOps deletes the bridge's ports outright (OVSDB checks that a
// destroyed QoS is unreferenced before it collects the ports that
// reference it) and the QoS rows only they use, with those rows' queues.
func (c *Client) deletePortsOps(br *vswitch.Bridge) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	qos := map[string]bool{}
	for _, uuid := range br.Ports {
		p := cachedRow[*vswitch.Port](c, uuid)
		if p == nil {
			continue
		}
		del, err := c.db.DB().Where(p).Delete()
		if err != nil {
			return nil, fmt.Errorf("delete port %s: %w", p.Name, err)
		}
		ops = append(ops, del...)
		if p.QOS != nil {
			qos[*p.QOS] = true
		}
	}
	for uuid := range qos {
		drop, err := c.dropSharedQoSOps(uuid, br.Ports)
		if err != nil {
			return nil, err
		}
		ops = append(ops, drop...)
	}
	return ops, nil
}

// dropSharedQoSOps destroys a QoS row and its queues unless a port outside
// going (the ports deleted with it) still uses it.
func (c *Client) dropSharedQoSOps(qosUUID string, going []string) ([]ovsdb.Operation, error) {
	others, err := ovsdbtxn.List(c.db, func(p *vswitch.Port) bool {
		return !slices.Contains(going, p.UUID) && p.QOS != nil && *p.QOS == qosUUID
	})
	if err != nil || len(others) > 0 {
		return nil, err
	}
	qos := cachedRow[*vswitch.QoS](c, qosUUID)
	if qos == nil {
		return nil, nil
	}
	return c.deleteQoSOps(qos)
}

// RemoveOpenvSwitchExternalIDs deletes keys from the Open_vSwitch row's
// external_ids, writing only when one of them is there.
func (c *Client) RemoveOpenvSwitchExternalIDs(ctx context.Context, keys []string) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		root, err := c.root()
		if err != nil {
			return nil, err
		}
		var present []string
		for _, k := range keys {
			if _, ok := root.ExternalIDs[k]; ok {
				present = append(present, k)
			}
		}
		if len(present) == 0 {
			return nil, nil
		}
		slices.Sort(present)
		return c.db.DB().Where(root).Mutate(root, ovsdbtxn.DeleteKeys(&root.ExternalIDs, present...))
	})
	if err != nil {
		return fmt.Errorf("remove Open_vSwitch external_ids %v: %w", keys, err)
	}
	return nil
}

// OpenvSwitchExternalIDs returns the Open_vSwitch row's external_ids.
func (c *Client) OpenvSwitchExternalIDs() (map[string]string, error) {
	root, err := c.root()
	if err != nil {
		return nil, err
	}
	return maps.Clone(root.ExternalIDs), nil
}
