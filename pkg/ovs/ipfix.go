package ovs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
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

// ipfixTable is the IPFIX table as a bridge's exporter.
var ipfixTable = exporterTable[*vswitch.IPFIX]{
	name:    "IPFIX",
	ref:     func(br *vswitch.Bridge) **string { return &br.IPFIX },
	uuid:    func(r *vswitch.IPFIX) *string { return &r.UUID },
	targets: func(r *vswitch.IPFIX) []string { return r.Targets },
	ids:     func(r *vswitch.IPFIX) map[string]string { return r.ExternalIDs },
	columns: func(r *vswitch.IPFIX) []any {
		return []any{&r.Targets, &r.Sampling, &r.CacheActiveTimeout, &r.CacheMaxFlows, &r.ExternalIDs}
	},
}

// IPFIX returns the bridge's IPFIX exporter, nil when it has none.
func (c *Client) IPFIX(bridge string) (*IPFIX, error) {
	row, found, _, err := exporterRow(c, ipfixTable, bridge)
	if err != nil || !found {
		return nil, err
	}
	return &IPFIX{Targets: slices.Clone(row.Targets), Sampling: deref(row.Sampling),
		CacheActiveTimeout: deref(row.CacheActiveTimeout), CacheMaxFlows: deref(row.CacheMaxFlows),
		ExternalIDs: maps.Clone(row.ExternalIDs)}, nil
}

// SetIPFIX makes the bridge's IPFIX exporter want, writing only when a
// value differs. Without targets it removes the exporter if it carries
// want's ExternalIDs, and leaves anyone else's.
func (c *Client) SetIPFIX(ctx context.Context, bridge string, want IPFIX) error {
	row := &vswitch.IPFIX{Targets: slices.Sorted(slices.Values(want.Targets)), Sampling: optional(want.Sampling),
		CacheActiveTimeout: optional(want.CacheActiveTimeout), CacheMaxFlows: optional(want.CacheMaxFlows),
		ExternalIDs: externalIDs(want.ExternalIDs)}
	return setExporter(ctx, c, ipfixTable, bridge, row)
}

// DeleteIPFIX removes the bridge's IPFIX exporter, whoever set it.
func (c *Client) DeleteIPFIX(ctx context.Context, bridge string) error {
	return deleteExporter(ctx, c, ipfixTable, bridge)
}

// Bounds of the IPFIX columns in the Open_vSwitch schema.
const (
	maxIPFIXSampling      = 1<<32 - 1
	maxIPFIXActiveTimeout = 4200
	maxIPFIXMaxFlows      = 1<<32 - 1
)

// ipfixPort is IANA's port for IPFIX, in messages.
const ipfixPort = 4739

// CheckIPFIX refuses an exporter ovs-vswitchd would not run: a target that
// is not an IP address and port, or a value outside the schema's range.
func CheckIPFIX(x IPFIX) error {
	errs := checkTargets(x.Targets, ipfixPort)
	errs = append(errs,
		checkRange("sampling", x.Sampling, "", 1, maxIPFIXSampling, "every packet"),
		checkRange("cache active timeout", x.CacheActiveTimeout, " s", 0, maxIPFIXActiveTimeout, "no cache"),
		checkRange("cache max flows", x.CacheMaxFlows, "", 0, maxIPFIXMaxFlows, "no bound"))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("IPFIX: %w", err)
	}
	return nil
}
