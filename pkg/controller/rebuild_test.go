package controller

import (
	"testing"

	"github.com/ovnet/ovnet/pkg/ovn"
)

// The identity a controller adopted decides whether the database is the
// one ovnet's rows were written to.
func TestRebuilderReason(t *testing.T) {
	tests := []struct {
		name    string
		adopted string
		// unfinished: the last rebuild failed half way.
		unfinished bool
		state      ovn.DatabaseState
		intact     bool
		reason     string
	}{
		{"start, database ovnet wrote to", "", false, ovn.DatabaseState{ID: "a", Router: true}, false, ""},
		{"start, new or lost while stopped", "", false, ovn.DatabaseState{Router: true}, false, "identity missing"},
		{"start, router deleted", "", false, ovn.DatabaseState{ID: "a"}, false, "cluster router missing"},
		{"running, same database", "a", false, ovn.DatabaseState{ID: "a", Router: true}, true, ""},
		{"running, recreated empty", "a", false, ovn.DatabaseState{}, false, "identity missing"},
		{"running, replaced by another", "a", false, ovn.DatabaseState{ID: "b", Router: true}, false, "identity changed"},
		{"running, router deleted", "a", false, ovn.DatabaseState{ID: "a"}, false, "cluster router missing"},
		{"start, the rebuild failed after writing its identity", "", true, ovn.DatabaseState{ID: "b", Router: true}, false, "rebuild unfinished"},
		{"running, the rebuild failed half way", "a", true, ovn.DatabaseState{ID: "b", Router: true}, false, "rebuild unfinished"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Rebuilder{id: tt.adopted, unfinished: tt.unfinished}
			if got := r.intact(tt.state); got != tt.intact {
				t.Errorf("intact = %v, want %v", got, tt.intact)
			}
			if got := r.reason(tt.state); got != tt.reason {
				t.Errorf("reason = %q, want %q", got, tt.reason)
			}
		})
	}
}

// A wave forgets the rows it has seen and counts the others.
func TestAwaitedRowsMissing(t *testing.T) {
	present := map[string]bool{}
	a := &awaitedRows{names: map[string]bool{"a": true, "b": true, "c": true},
		exists: func(name string) (bool, error) { return present[name], nil }}
	steps := []struct {
		appear  string
		missing int
	}{
		{"", 3},
		{"a", 2},
		{"c", 1},
		{"b", 0},
	}
	for _, s := range steps {
		present[s.appear] = true
		if n, err := a.missing(); err != nil || n != s.missing {
			t.Fatalf("after %q appeared: missing = %d, %v; want %d", s.appear, n, err, s.missing)
		}
	}
	delete(present, "a") // seen once is enough: a wave does not go back
	if n, _ := a.missing(); n != 0 {
		t.Errorf("missing = %d after a seen row went, want 0", n)
	}
}
