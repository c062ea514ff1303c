package ovs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// exporterTable is what IPFIX and sFlow share as a bridge's flow
// exporter: a row of its own table that one optional Bridge column
// references, and whose targets are the collectors.
type exporterTable[R model.Model] struct {
	// name is the table's, in errors.
	name string
	// ref is the Bridge column that references the row.
	ref func(*vswitch.Bridge) **string
	// uuid is the row's UUID field.
	uuid func(R) *string
	// targets are the row's collectors; ids its external_ids.
	targets func(R) []string
	ids     func(R) map[string]string
	// columns are the row's columns ovnet writes.
	columns func(R) []any
}

// exporterRow returns the bridge and its exporter row; found is false
// when the bridge references none (or one not yet in the cache).
func exporterRow[R model.Model](c *Client, t exporterTable[R], bridge string) (row R, found bool, br *vswitch.Bridge, err error) {
	br, err = c.bridge(bridge)
	if err != nil {
		return row, false, nil, err
	}
	if br == nil {
		return row, false, nil, fmt.Errorf("%s: %w", bridge, ErrBridgeNotFound)
	}
	if ref := *t.ref(br); ref != nil {
		row, found = ovsdbtxn.ByUUID[R](c.db, *ref)
	}
	return row, found, br, nil
}

// setExporter makes the bridge's exporter want, writing only when a
// column differs. A want without targets means no exporter of want's
// writer: the row goes when its external_ids carry all of want's (the
// writer's mark), and any other row stays, as one someone else set.
func setExporter[R model.Model](ctx context.Context, c *Client, t exporterTable[R], bridge string, want R) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		have, found, br, err := exporterRow(c, t, bridge)
		if err != nil {
			return nil, err
		}
		if len(t.targets(want)) == 0 {
			if !found || !carries(t.ids(have), t.ids(want)) {
				return nil, nil
			}
			return clearReferenceOps(c, br, t.ref(br))
		}
		if !found {
			return c.insertReferencedOps(want, t.uuid(want), br, t.ref(br))
		}
		*t.uuid(want) = *t.uuid(have)
		res, err := ovsdbtxn.EnsureOps(c.db, ovsdbtxn.Row[R]{Model: want, Fields: t.columns(want)})
		if err != nil {
			return nil, err
		}
		return res.Ops, nil
	})
	if err != nil {
		return fmt.Errorf("set %s of %s: %w", t.name, bridge, err)
	}
	return nil
}

// deleteExporter clears the bridge's reference, as `ovs-vsctl clear
// bridge br ipfix` does; the row, referenced from nowhere else, goes
// with it.
func deleteExporter[R model.Model](ctx context.Context, c *Client, t exporterTable[R], bridge string) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		_, _, br, err := exporterRow(c, t, bridge)
		if err != nil || *t.ref(br) == nil {
			return nil, err
		}
		return clearReferenceOps(c, br, t.ref(br))
	})
	if err != nil {
		return fmt.Errorf("delete %s of %s: %w", t.name, bridge, err)
	}
	return nil
}

// clearReferenceOps empties the bridge's optional reference column ref
// (a field of br).
func clearReferenceOps(c *Client, br *vswitch.Bridge, ref **string) ([]ovsdb.Operation, error) {
	*ref = nil
	return c.db.DB().Where(br).Update(br, ref)
}

// carries reports whether ids holds every key of mark with its value.
func carries(ids, mark map[string]string) bool {
	for k, v := range mark {
		if got, ok := ids[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// externalIDs is ids as a column: an empty map, never nil.
func externalIDs(ids map[string]string) map[string]string {
	if ids == nil {
		return map[string]string{}
	}
	return ids
}

// optional is v as an optional column: 0 leaves it empty, as ovs-vsctl
// does, so that ovs-vswitchd applies its own default.
func optional(v int) *int {
	if v == 0 {
		return nil
	}
	return &v
}

// checkTargets refuses collectors ovs-vswitchd would not export to: it
// resolves no names and logs a bad target without exporting. example is
// port is the protocol's usual one, for the example.
func checkTargets(targets []string, port uint16) []error {
	if len(targets) == 0 {
		return []error{errors.New("no target")}
	}
	var errs []error
	for _, target := range targets {
		ap, err := netip.ParseAddrPort(target)
		if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
			errs = append(errs, fmt.Errorf("target %q: want IP:port, as 192.0.2.5:%d or [2001:db8::5]:%d", target, port, port))
		}
	}
	return errs
}

// checkRange refuses v outside [low, high]; unit follows v in the
// message (" s" for seconds), lowMeans says what low does.
func checkRange(what string, v int, unit string, low, high int, lowMeans string) error {
	if v < low || v > high {
		return fmt.Errorf("%s %d%s: want %d (%s) to %d", what, v, unit, low, lowMeans, high)
	}
	return nil
}
