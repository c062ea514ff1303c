package ovs

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// SSL is the row Open_vSwitch's ssl column references: the files
// ovn-controller (and ovs-vswitchd, for OpenFlow controllers) use for
// ssl: connections, as `ovs-vsctl set-ssl` writes them. The paths are
// read by those daemons, in their own file system.
type SSL struct {
	PrivateKey  string
	Certificate string
	CACert      string
	// ExternalIDs mark the row's writer.
	ExternalIDs map[string]string
}

// SSL returns the SSL settings in force, nil when there are none.
func (c *Client) SSL() (*SSL, error) {
	row, err := c.sslRow()
	if err != nil || row == nil {
		return nil, err
	}
	return &SSL{PrivateKey: row.PrivateKey, Certificate: row.Certificate, CACert: row.CaCert,
		ExternalIDs: maps.Clone(row.ExternalIDs)}, nil
}

// sslRow is the SSL row Open_vSwitch references, nil when none.
func (c *Client) sslRow() (*vswitch.SSL, error) {
	root, err := c.root()
	if err != nil {
		return nil, err
	}
	if root.SSL == nil {
		return nil, nil
	}
	return cachedRow[*vswitch.SSL](c, *root.SSL), nil
}

// SetSSL makes the SSL settings want, as `ovs-vsctl set-ssl` does, with
// no CA bootstrap (a CA taken from the first server met could be anyone's).
// It writes only when a value differs.
func (c *Client) SetSSL(ctx context.Context, want SSL) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		root, err := c.root()
		if err != nil {
			return nil, err
		}
		row := &vswitch.SSL{PrivateKey: want.PrivateKey, Certificate: want.Certificate, CaCert: want.CACert,
			ExternalIDs: want.ExternalIDs}
		if row.ExternalIDs == nil {
			row.ExternalIDs = map[string]string{}
		}
		have, err := c.sslRow()
		if err != nil {
			return nil, err
		}
		if have == nil {
			return c.createSSLOps(root, row)
		}
		if sameSSL(have, row) {
			return nil, nil
		}
		row.UUID = have.UUID
		return c.db.DB().Where(row).Update(row, &row.PrivateKey, &row.Certificate, &row.CaCert,
			&row.BootstrapCaCert, &row.ExternalIDs)
	})
	if err != nil {
		return fmt.Errorf("set Open_vSwitch SSL: %w", err)
	}
	return nil
}

// createSSLOps inserts the row and references it from Open_vSwitch.
func (c *Client) createSSLOps(root *vswitch.OpenvSwitch, row *vswitch.SSL) ([]ovsdb.Operation, error) {
	return c.insertReferencedOps(row, &row.UUID, root, &root.SSL)
}

// insertReferencedOps inserts row under a named UUID and points the
// parent's optional reference column ref (a field of parent) at it: a
// non-root row that nothing references vanishes at commit.
func (c *Client) insertReferencedOps(row model.Model, uuid *string, parent model.Model, ref **string) ([]ovsdb.Operation, error) {
	*uuid = ovsdbtxn.NamedUUID()
	create, err := c.db.DB().Create(row)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	*ref = uuid
	attach, err := c.db.DB().Where(parent).Update(parent, ref)
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	return slices.Concat(create, attach), nil
}

func sameSSL(have, want *vswitch.SSL) bool {
	return have.PrivateKey == want.PrivateKey && have.Certificate == want.Certificate &&
		have.CaCert == want.CaCert && !have.BootstrapCaCert && maps.Equal(have.ExternalIDs, want.ExternalIDs)
}

// DeleteSSL clears Open_vSwitch's ssl column, as `ovs-vsctl del-ssl`
// does; the row, referenced from nowhere else, goes with it.
func (c *Client) DeleteSSL(ctx context.Context) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		root, err := c.root()
		if err != nil || root.SSL == nil {
			return nil, err
		}
		root.SSL = nil
		return c.db.DB().Where(root).Update(root, &root.SSL)
	})
	if err != nil {
		return fmt.Errorf("delete Open_vSwitch SSL: %w", err)
	}
	return nil
}
