package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestProcessAlive(t *testing.T) {
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("true")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    Process
		want bool
	}{
		{"self", self, true},
		{"same PID, other start time (a reused PID)", Process{PID: self.PID, StartTime: self.StartTime + 1}, false},
		{"exited child", Process{PID: child.Process.Pid}, false},
		{"no PID", Process{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Alive(); got != tt.want {
				t.Errorf("Alive() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStatFields(t *testing.T) {
	tests := []struct {
		name, stat string
		wantState  string
	}{
		{"plain", "12 (sleep) S 1 12", "S"},
		{"command with spaces and parens", "12 (a (b) c) Z 1 12", "Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statFields(tt.stat); len(got) == 0 || got[0] != tt.wantState {
				t.Errorf("statFields(%q) = %q, want state %s first", tt.stat, got, tt.wantState)
			}
		})
	}
}

func TestStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	want := State{Phase: PhaseUp, NetNS: []string{"a", "b"}, Nodes: []NodeState{{Name: "node-1", NetNS: "a"}}}
	if err := want.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Phase != want.Phase || len(got.NetNS) != 2 || got.Nodes[0].Name != "node-1" {
		t.Errorf("LoadState = %+v, want %+v", got, want)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
}
