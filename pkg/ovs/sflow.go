package ovs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
)

// SFlow is a bridge's sFlow agent, the row Bridge.sflow references:
// ovs-vswitchd samples packets entering the bridge and sends each sample's
// first bytes, and every port's counters at intervals, to every target.
type SFlow struct {
	// Targets are the collectors, "IP:port" (UDP).
	Targets []string
	// Sampling is one packet in Sampling sampled; 1 samples every packet.
	Sampling int
	// Polling is the interval, in seconds, at which every port's counters
	// are sent.
	Polling int
	// Header is how many bytes of a sampled packet are sent.
	Header int
	// Agent is the interface whose address, or the address, the samples
	// name as their agent; empty lets ovs-vswitchd take the address it
	// reaches the first target from.
	Agent string
	// ExternalIDs mark the row's writer.
	ExternalIDs map[string]string
}

// sflowTable is the sFlow table as a bridge's exporter.
var sflowTable = exporterTable[*vswitch.SFlow]{
	name:    "sFlow",
	ref:     func(br *vswitch.Bridge) **string { return &br.Sflow },
	uuid:    func(r *vswitch.SFlow) *string { return &r.UUID },
	targets: func(r *vswitch.SFlow) []string { return r.Targets },
	ids:     func(r *vswitch.SFlow) map[string]string { return r.ExternalIDs },
	columns: func(r *vswitch.SFlow) []any {
		return []any{&r.Targets, &r.Sampling, &r.Polling, &r.Header, &r.Agent, &r.ExternalIDs}
	},
}

// SFlow returns the bridge's sFlow agent, nil when it has none.
func (c *Client) SFlow(bridge string) (*SFlow, error) {
	row, found, _, err := exporterRow(c, sflowTable, bridge)
	if err != nil || !found {
		return nil, err
	}
	return &SFlow{Targets: slices.Clone(row.Targets), Sampling: deref(row.Sampling), Polling: deref(row.Polling),
		Header: deref(row.Header), Agent: deref(row.Agent), ExternalIDs: maps.Clone(row.ExternalIDs)}, nil
}

// SetSFlow makes the bridge's sFlow agent want, writing only when a value
// differs. Without targets it removes the agent if it carries want's
// ExternalIDs, and leaves anyone else's.
func (c *Client) SetSFlow(ctx context.Context, bridge string, want SFlow) error {
	row := &vswitch.SFlow{Targets: slices.Sorted(slices.Values(want.Targets)), Sampling: optional(want.Sampling),
		Polling: optional(want.Polling), Header: optional(want.Header), ExternalIDs: externalIDs(want.ExternalIDs)}
	if want.Agent != "" {
		row.Agent = &want.Agent
	}
	return setExporter(ctx, c, sflowTable, bridge, row)
}

// DeleteSFlow removes the bridge's sFlow agent, whoever set it.
func (c *Client) DeleteSFlow(ctx context.Context, bridge string) error {
	return deleteExporter(ctx, c, sflowTable, bridge)
}

// Bounds of the sFlow values. The schema has none; these are what
// ovs-vswitchd can do with them.
const (
	// maxSFlowSampling: sFlow carries the rate in 32 bits; 0 would divide
	// by zero in ovs-vswitchd's sampling probability.
	maxSFlowSampling = 1<<32 - 1
	// maxSFlowPolling is a day: counters rarer than that are of no use.
	// 0 would turn polling off, which ovnet cannot write (an empty column
	// means OVS's 30 s), so it is refused rather than silently changed.
	maxSFlowPolling = 86400
	// maxSFlowHeader keeps a sample inside ovs-vswitchd's 1400-byte
	// datagram beside the sample's other records.
	maxSFlowHeader = 1024
	// maxInterfaceName is Linux's IFNAMSIZ less the terminating zero.
	maxInterfaceName = 15
)

// sflowPort is IANA's port for sFlow, in messages.
const sflowPort = 6343

// CheckSFlow refuses an agent ovs-vswitchd would not run: a target that is
// not an IP address and port, an agent that is neither an address nor an
// interface name, or a value out of range.
func CheckSFlow(x SFlow) error {
	errs := checkTargets(x.Targets, sflowPort)
	errs = append(errs,
		checkRange("sampling", x.Sampling, "", 1, maxSFlowSampling, "every packet"),
		checkRange("polling", x.Polling, " s", 1, maxSFlowPolling, "every second"),
		checkRange("header", x.Header, " bytes", 1, maxSFlowHeader, "the first byte"))
	if x.Agent != "" && !validAgent(x.Agent) {
		errs = append(errs, fmt.Errorf("agent %q: want an interface name (at most %d characters, no '/', ':' or space) or an IP address",
			x.Agent, maxInterfaceName))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sFlow: %w", err)
	}
	return nil
}

// validAgent reports whether agent is an IP address or a name Linux
// accepts for an interface.
func validAgent(agent string) bool {
	if _, err := netip.ParseAddr(agent); err == nil {
		return true
	}
	return len(agent) <= maxInterfaceName && agent != "." && agent != ".." && !strings.ContainsAny(agent, "/: \t\n")
}
