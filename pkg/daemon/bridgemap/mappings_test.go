package bridgemap

import "testing"

func TestMerge(t *testing.T) {
	tests := []struct {
		name             string
		current, owned   string
		want             map[string]string
		mappings, ownedS string
	}{
		{name: "first provider", want: map[string]string{"physnet": "br-phy"},
			mappings: "physnet:br-phy", ownedS: "physnet"},
		{name: "an operator's mapping stays", current: "ops:br-ops", want: map[string]string{"physnet": "br-phy"},
			mappings: "ops:br-ops,physnet:br-phy", ownedS: "physnet"},
		{name: "bridge changed in place", current: "ops:br-ops,physnet:br-old", owned: "physnet",
			want: map[string]string{"physnet": "br-phy"}, mappings: "ops:br-ops,physnet:br-phy", ownedS: "physnet"},
		{name: "provider deleted", current: "physnet:br-phy,ops:br-ops", owned: "physnet",
			mappings: "ops:br-ops", ownedS: ""},
		{name: "operator's mapping of a provider's name is taken over", current: "physnet:br-x",
			want: map[string]string{"physnet": "br-phy"}, mappings: "physnet:br-phy", ownedS: "physnet"},
		{name: "duplicates collapse", current: "physnet:br-a,physnet:br-b", owned: "physnet",
			want: map[string]string{"physnet": "br-phy"}, mappings: "physnet:br-phy", ownedS: "physnet"},
		{name: "new ones sorted", want: map[string]string{"b": "br-b", "a": "br-a"},
			mappings: "a:br-a,b:br-b", ownedS: "a,b"},
		{name: "nothing wanted, nothing owned", current: "ops:br-ops, odd", mappings: "ops:br-ops,odd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, o := Merge(tt.current, tt.owned, tt.want)
			if m != tt.mappings || o != tt.ownedS {
				t.Errorf("Merge(%q, %q, %v) = %q, %q; want %q, %q", tt.current, tt.owned, tt.want, m, o, tt.mappings, tt.ownedS)
			}
		})
	}
}
