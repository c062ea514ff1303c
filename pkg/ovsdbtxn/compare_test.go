package ovsdbtxn

import "testing"

func TestEquivalent(t *testing.T) {
	one, other := "a", "b"
	tests := []struct {
		name string
		a, b any
		want bool
	}{
		{"sets in another order", []string{"x", "y"}, []string{"y", "x"}, true},
		{"sets of other members", []string{"x", "y"}, []string{"x", "z"}, false},
		{"empty set and none", []string{}, []string(nil), true},
		{"maps alike", map[string]string{"k": "v"}, map[string]string{"k": "v"}, true},
		{"map with another value", map[string]string{"k": "v"}, map[string]string{"k": "w"}, false},
		{"empty map and none", map[string]string{}, map[string]string(nil), true},
		{"optional values alike", &one, &one, true},
		{"optional values differ", &one, &other, false},
		{"optional value and none", &one, (*string)(nil), false},
		{"no optional values", (*string)(nil), (*string)(nil), true},
		{"integers", 3, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Equivalent(tt.a, tt.b); got != tt.want {
				t.Errorf("Equivalent(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestSetDiff(t *testing.T) {
	var field []string
	tests := []struct {
		name              string
		have, want        []string
		inserted, deleted []string
	}{
		{"same set", []string{"a", "b"}, []string{"b", "a"}, nil, nil},
		{"grown and shrunk", []string{"a", "b"}, []string{"b", "c", "c"}, []string{"c"}, []string{"a"}},
		{"from nothing", nil, []string{"a"}, []string{"a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inserted, deleted []string
			for _, m := range SetDiff(&field, tt.have, tt.want) {
				if m.Mutator == "insert" {
					inserted = m.Value.([]string)
				} else {
					deleted = m.Value.([]string)
				}
			}
			if !Equivalent(inserted, tt.inserted) || !Equivalent(deleted, tt.deleted) {
				t.Errorf("inserted %v, deleted %v; want %v, %v", inserted, deleted, tt.inserted, tt.deleted)
			}
		})
	}
}
