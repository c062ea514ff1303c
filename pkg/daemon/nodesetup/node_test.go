package nodesetup

import (
	"maps"
	"slices"
	"testing"
)

// Uninstall removes OVNExternalIDKeys: they must be exactly the keys the
// daemon writes, besides its mark.
func TestOVNExternalIDKeysAreTheWrittenOnes(t *testing.T) {
	n := &Node{cfg: Config{NodeName: "n1", Bridge: "br-int", OVNRemote: "tcp:127.0.0.1:6642", EncapType: "geneve",
		EncapIP: "127.0.0.1", DatapathType: "netdev"}}
	ids := n.ovnExternalIDs()
	if ids[OwnerKey] != OwnerDaemon {
		t.Errorf("%s = %q, want %q", OwnerKey, ids[OwnerKey], OwnerDaemon)
	}
	delete(ids, OwnerKey)
	got, want := slices.Sorted(maps.Keys(ids)), slices.Sorted(slices.Values(OVNExternalIDKeys))
	if !slices.Equal(got, want) {
		t.Errorf("written keys %v, OVNExternalIDKeys %v", got, want)
	}
}
