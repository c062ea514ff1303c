package uninstall

import (
	"os"
	"path/filepath"
	"syscall"
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

// The handshake's files: a stale stopping mark goes at start; Stopping
// writes it, Done removes it and leaves the uninstalled mark only after a
// clean-up; an exclusive lock is refused while the handshake is open.
func TestHandshake(t *testing.T) {
	dir := t.TempDir()
	stopping, uninstalled := filepath.Join(dir, StoppingFile), filepath.Join(dir, UninstalledFile)
	if err := os.WriteFile(stopping, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := OpenHandshake(dir)
	if err != nil {
		t.Fatal(err)
	}
	if exists(stopping) {
		t.Error("a stale stopping mark survived the start")
	}
	if exclusiveLockFree(t, dir) {
		t.Error("an exclusive lock was granted while the daemon runs")
	}
	steps := []struct {
		name                  string
		do                    func() error
		stopping, uninstalled bool
	}{
		{"stopping", h.Stopping, true, false},
		{"done, restart", func() error { return h.Done(false) }, false, false},
		{"stopping again", h.Stopping, true, false},
		{"done, cleaned", func() error { return h.Done(true) }, false, true},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if exists(stopping) != s.stopping || exists(uninstalled) != s.uninstalled {
			t.Errorf("%s: stopping %v, uninstalled %v; want %v, %v", s.name, exists(stopping), exists(uninstalled),
				s.stopping, s.uninstalled)
		}
	}
	h.Close()
	if !exclusiveLockFree(t, dir) {
		t.Error("the lock outlived Close")
	}
}

func exclusiveLockFree(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
