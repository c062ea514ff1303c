package bridgemap

import (
	"slices"
	"strings"
)

// External_ids keys of the Open_vSwitch row.
const (
	// KeyMappings is ovn-controller's list of network:bridge pairs.
	KeyMappings = "ovn-bridge-mappings"
	// KeyOwned lists, comma separated, the networks of KeyMappings the
	// daemon wrote: only those does it change or remove, so an
	// operator's own mappings survive ProviderNetworks coming and going.
	KeyOwned = "ovnet.io/bridge-mappings"
)

// mapping is one network:bridge pair.
type mapping struct{ network, bridge string }

// parse reads "net1:br1,net2:br2"; an entry without a colon is kept as
// it is, with no bridge, so that it is written back unchanged.
func parse(s string) []mapping {
	var out []mapping
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		network, bridge, _ := strings.Cut(entry, ":")
		out = append(out, mapping{network: network, bridge: bridge})
	}
	return out
}

func format(ms []mapping) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.network + ":" + m.bridge
		if m.bridge == "" {
			parts[i] = m.network
		}
	}
	return strings.Join(parts, ",")
}

// Merge computes the new ovn-bridge-mappings and owned list from the
// current ones and the daemon's wanted network -> bridge pairs: the
// daemon's mappings that are no longer wanted go, wanted ones are set
// (taking over a pair of the same network someone else wrote, since the
// ProviderNetwork says where it lies), others stay in their order.
func Merge(current, owned string, want map[string]string) (mappings, ownedOut string) {
	was := map[string]bool{}
	for _, n := range strings.Split(owned, ",") {
		if n != "" {
			was[n] = true
		}
	}
	var out []mapping
	seen := map[string]bool{}
	for _, m := range parse(current) {
		bridge, wanted := want[m.network]
		switch {
		case wanted && !seen[m.network]:
			out = append(out, mapping{network: m.network, bridge: bridge})
			seen[m.network] = true
		case wanted, was[m.network]:
			// A duplicate, or the daemon's and no longer wanted.
		default:
			out = append(out, m)
		}
	}
	networks := make([]string, 0, len(want))
	for n := range want {
		networks = append(networks, n)
	}
	slices.Sort(networks)
	for _, n := range networks {
		if !seen[n] {
			out = append(out, mapping{network: n, bridge: want[n]})
		}
	}
	return format(out), strings.Join(networks, ",")
}
