package uninstall

import (
	"os"
	"path/filepath"
	"testing"
)

// removeSocket removes the socket and its directory when empty, keeps a
// directory holding other files, and succeeds when both are gone.
func TestRemoveSocket(t *testing.T) {
	tests := []struct {
		name     string
		other    bool
		dirStays bool
	}{
		{"socket alone", false, false},
		{"another file beside it", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ovnet")
			sock := filepath.Join(dir, "daemon.sock")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(sock, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.other {
				if err := os.WriteFile(filepath.Join(dir, "other"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			n := &Node{cfg: Config{Socket: sock}}
			for range 2 {
				if _, err := n.removeSocket(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(sock); !os.IsNotExist(err) {
				t.Errorf("socket still there: %v", err)
			}
			if _, err := os.Stat(dir); (err == nil) != tt.dirStays {
				t.Errorf("directory there = %v, want %v", err == nil, tt.dirStays)
			}
		})
	}
}
