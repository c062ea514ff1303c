package ovs

import (
	"context"
	"fmt"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
)

// PortInfo is what the database holds for one port, for garbage
// collection and recovery after a restart.
type PortInfo struct {
	Name        string
	Type        string
	ExternalIDs map[string]string
	// OFPort is the OpenFlow port number; 0 while ovs-vswitchd has not
	// added the port yet, -1 when it failed to.
	OFPort int
	// Error is ovs-vswitchd's reason for failing to add the port.
	Error string
}

// InterfaceState is what ovs-vswitchd reports about an interface.
type InterfaceState struct {
	OFPort    int
	LinkState string
	Error     string
}

// ListPorts returns every port on the bridge, its local port included,
// as the cache holds them.
func (c *Client) ListPorts(bridge string) ([]PortInfo, error) {
	br, err := c.bridge(bridge)
	if err != nil {
		return nil, err
	}
	if br == nil {
		return nil, fmt.Errorf("%w: %s", ErrBridgeNotFound, bridge)
	}
	ports := make([]PortInfo, 0, len(br.Ports))
	for _, uuid := range br.Ports {
		p := cachedRow[*vswitch.Port](c, uuid)
		if p == nil {
			continue
		}
		info := PortInfo{Name: p.Name}
		if iface := c.interfaceOf(p); iface != nil {
			info.Type, info.ExternalIDs = iface.Type, iface.ExternalIDs
			info.OFPort, info.Error = deref(iface.Ofport), deref(iface.Error)
		}
		ports = append(ports, info)
	}
	return ports, nil
}

// InterfaceState reads what ovs-vswitchd last reported about an interface.
func (c *Client) InterfaceState(name string) (InterfaceState, error) {
	iface, err := c.iface(name)
	if err != nil {
		return InterfaceState{}, err
	}
	if iface == nil {
		return InterfaceState{}, fmt.Errorf("%w: %s", ErrInterfaceNotFound, name)
	}
	return InterfaceState{
		OFPort:    deref(iface.Ofport),
		LinkState: string(deref(iface.LinkState)),
		Error:     deref(iface.Error),
	}, nil
}

// WaitInterfaceReady waits until ovs-vswitchd has given the interface an
// OpenFlow port number, or reports why it could not; it watches the cache,
// so it costs the server nothing. An interface not yet in the database is
// waited for too: ctx bounds the wait.
func (c *Client) WaitInterfaceReady(ctx context.Context, name string) error {
	var last InterfaceState
	err := c.db.Wait(ctx, func() (bool, error) {
		st, err := c.InterfaceState(name)
		if err != nil {
			return false, nil
		}
		last = st
		if st.Error != "" {
			return false, fmt.Errorf("interface %s: %s", name, st.Error)
		}
		return st.OFPort > 0, nil
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interface %s not ready (ofport %d): %w", name, last.OFPort, err)
	}
	return err
}

// keyOVNInstalled is the Interface external_ids key ovn-controller sets to
// "true" once it has installed the flows of the logical port bound there.
const keyOVNInstalled = "ovn-installed"

// WaitOVNInstalled waits until ovn-controller reports the interface's
// logical port installed, watching the cache; ctx bounds the wait.
func (c *Client) WaitOVNInstalled(ctx context.Context, name string) error {
	err := c.db.Wait(ctx, func() (bool, error) {
		iface, err := c.iface(name)
		if err != nil || iface == nil {
			return false, nil
		}
		if msg := deref(iface.Error); msg != "" {
			return false, fmt.Errorf("interface %s: %s", name, msg)
		}
		return iface.ExternalIDs[keyOVNInstalled] == "true", nil
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("OVN has not installed interface %s: %w", name, err)
	}
	return err
}
