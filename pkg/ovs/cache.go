package ovs

import (
	"errors"

	"github.com/ovn-org/libovsdb/model"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// Errors for rows a call needs but the database lacks.
var (
	ErrNoOpenvSwitchRow  = errors.New("the Open_vSwitch table has no row (run ovs-vsctl init, or start ovs-vswitchd)")
	ErrBridgeNotFound    = errors.New("bridge not found")
	ErrPortNotFound      = errors.New("port not found")
	ErrInterfaceNotFound = errors.New("interface not found")
)

// byName returns a copy of the cached row matching probe's schema index
// (the name, for bridges, ports and interfaces), or nil.
func byName[T model.Model](c *Client, probe T) (T, error) {
	row, _, err := ovsdbtxn.Get(c.db, probe)
	return row, err
}

func (c *Client) bridge(name string) (*vswitch.Bridge, error) {
	return byName(c, &vswitch.Bridge{Name: name})
}

func (c *Client) port(name string) (*vswitch.Port, error) {
	return byName(c, &vswitch.Port{Name: name})
}

func (c *Client) iface(name string) (*vswitch.Interface, error) {
	return byName(c, &vswitch.Interface{Name: name})
}

// cachedRow returns a copy of the row with the given UUID, or nil.
func cachedRow[T model.Model](c *Client, uuid string) T {
	row, _ := ovsdbtxn.ByUUID[T](c.db, uuid)
	return row
}

// root returns the single Open_vSwitch row that every bridge hangs from.
func (c *Client) root() (*vswitch.OpenvSwitch, error) {
	rows, err := ovsdbtxn.List[vswitch.OpenvSwitch](c.db, nil)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, ErrNoOpenvSwitchRow
	}
	return &rows[0], nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
