package ovs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// IPFIX is a bridge's IPFIX exporter, the row Bridge.ipfix references:
// ovs-vswitchd samples packets entering the bridge and sends flow records
// to every target, from its own network namespace.
type IPFIX struct {
	// Targets are the collectors, "IP:port" (UDP).
	Targets []string
	// Sampling is one packet in Sampling sampled; 1 samples every packet.
	Sampling int
	// CacheActiveTimeout is how long, in seconds, a flow's record is
	// aggregated before it is sent; 0 sends one record per sampled packet.
	CacheActiveTimeout int
	// CacheMaxFlows bounds the flows aggregated at once; 0 for no bound.
	CacheMaxFlows int
	// ExternalIDs mark the row's writer.
	ExternalIDs map[string]string
}

// IPFIX returns the bridge's IPFIX exporter, nil when it has none.
func (c *Client) IPFIX(bridge string) (*IPFIX, error) {
	row, _, err := c.ipfixRow(bridge)
	if err != nil || row == nil {
		return nil, err
	}
	return &IPFIX{Targets: slices.Clone(row.Targets), Sampling: deref(row.Sampling),
		CacheActiveTimeout: deref(row.CacheActiveTimeout), CacheMaxFlows: deref(row.CacheMaxFlows),
		ExternalIDs: maps.Clone(row.ExternalIDs)}, nil
}

// ipfixRow returns the bridge and its IPFIX row, nil when it has none.
func (c *Client) ipfixRow(bridge string) (*vswitch.IPFIX, *vswitch.Bridge, error) {
	br, err := c.bridge(bridge)
	if err != nil {
		return nil, nil, err
	}
	if br == nil {
		return nil, nil, fmt.Errorf("%s: %w", bridge, ErrBridgeNotFound)
	}
	if br.IPFIX == nil {
		return nil, br, nil
	}
	return cachedRow[*vswitch.IPFIX](c, *br.IPFIX), br, nil
}

// SetIPFIX makes the bridge's IPFIX exporter want, writing only when a
// value differs.
func (c *Client) SetIPFIX(ctx context.Context, bridge string, want IPFIX) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		have, br, err := c.ipfixRow(bridge)
		if err != nil {
			return nil, err
		}
		row := ipfixRowOf(want)
		if have == nil {
			return c.insertReferencedOps(row, &row.UUID, br, &br.IPFIX)
		}
		row.UUID = have.UUID
		res, err := ovsdbtxn.EnsureOps(c.db, ovsdbtxn.Row[*vswitch.IPFIX]{Model: row,
			Fields: []any{&row.Targets, &row.Sampling, &row.CacheActiveTimeout, &row.CacheMaxFlows, &row.ExternalIDs}})
		if err != nil {
			return nil, err
		}
		return res.Ops, nil
	})
	if err != nil {
		return fmt.Errorf("set IPFIX of %s: %w", bridge, err)
	}
	return nil
}

// ipfixRowOf is want as a row; zero optional columns are left empty, as
// ovs-vsctl leaves them, so ovs-vswitchd applies its own defaults.
func ipfixRowOf(want IPFIX) *vswitch.IPFIX {
	optional := func(v int) *int {
		if v == 0 {
			return nil
		}
		return &v
	}
	targets := slices.Sorted(slices.Values(want.Targets))
	ids := want.ExternalIDs
	if ids == nil {
		ids = map[string]string{}
	}
	return &vswitch.IPFIX{Targets: targets, Sampling: optional(want.Sampling),
		CacheActiveTimeout: optional(want.CacheActiveTimeout), CacheMaxFlows: optional(want.CacheMaxFlows),
		ExternalIDs: ids}
}

// DeleteIPFIX clears the bridge's ipfix column, as `ovs-vsctl clear
// bridge br ipfix` does; the row, referenced from nowhere else, goes with it.
func (c *Client) DeleteIPFIX(ctx context.Context, bridge string) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		have, br, err := c.ipfixRow(bridge)
		if err != nil || have == nil {
			return nil, err
		}
		br.IPFIX = nil
		return c.db.DB().Where(br).Update(br, &br.IPFIX)
	})
	if err != nil {
		return fmt.Errorf("delete IPFIX of %s: %w", bridge, err)
	}
	return nil
}

// Bounds of the IPFIX columns in the Open_vSwitch schema.
const (
	maxIPFIXSampling      = 1<<32 - 1
	maxIPFIXActiveTimeout = 4200
	maxIPFIXMaxFlows      = 1<<32 - 1
)

// CheckIPFIX refuses an exporter ovs-vswitchd would not run: a target that
// is not an IP address and port (ovs-vswitchd resolves no names and logs
// a bad target without exporting), or a value outside the schema's range.
func CheckIPFIX(x IPFIX) error {
	var errs []error
	if len(x.Targets) == 0 {
		errs = append(errs, errors.New("no target"))
	}
	for _, target := range x.Targets {
		ap, err := netip.ParseAddrPort(target)
		if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
			errs = append(errs, fmt.Errorf("target %q: want IP:port, as 192.0.2.5:4739 or [2001:db8::5]:4739", target))
		}
	}
	if x.Sampling < 1 || x.Sampling > maxIPFIXSampling {
		errs = append(errs, fmt.Errorf("sampling %d: want 1 (every packet) to %d", x.Sampling, maxIPFIXSampling))
	}
	if x.CacheActiveTimeout < 0 || x.CacheActiveTimeout > maxIPFIXActiveTimeout {
		errs = append(errs, fmt.Errorf("cache active timeout %d s: want 0 (no cache) to %d", x.CacheActiveTimeout, maxIPFIXActiveTimeout))
	}
	if x.CacheMaxFlows < 0 || x.CacheMaxFlows > maxIPFIXMaxFlows {
		errs = append(errs, fmt.Errorf("cache max flows %d: want 0 (no bound) to %d", x.CacheMaxFlows, maxIPFIXMaxFlows))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("IPFIX: %w", err)
	}
	return nil
}
