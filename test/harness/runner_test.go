package harness

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/go-logr/logr/testr"
)

// A program that is not a test starts OVN central (two ovsdb-servers and
// ovn-northd) through the harness with a Runner, and Close stops every
// process and removes their directories.
func TestRunnerStartsAndStops(t *testing.T) {
	r := NewRunner(testr.New(t))
	var central *OVNCentral
	if err := r.Run(func() { central = StartOVNCentral(r) }); err != nil {
		t.Fatalf("StartOVNCentral through a Runner: %v", err)
	}
	processes := map[string]int{"northbound ovsdb-server": central.NB.PID,
		"southbound ovsdb-server": central.SB.PID, "ovn-northd": central.Northd.PID}
	for name, pid := range processes {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("%s (pid %d) not running after start: %v", name, pid, err)
		}
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	for name, pid := range processes {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after Close (kill -0: %v)", name, pid, err)
		}
	}
	for _, file := range []string{central.NB.LogFile, central.SB.LogFile, central.Northd.LogFile} {
		if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Close (%v)", file, err)
		}
	}
}

func TestRunnerFailures(t *testing.T) {
	tests := []struct {
		name string
		// step runs inside Run; it may append to ran through cleanups.
		step         func(r *Runner, ran *[]string)
		wantRunErr   string // "" means Run returns nil
		wantFailed   bool
		wantRan      []string // cleanups in the order Close ran them
		wantCloseErr []string // substrings of Close's error; none means nil
	}{
		{
			name: "cleanups run last registered first",
			step: func(r *Runner, ran *[]string) {
				r.Cleanup(func() { *ran = append(*ran, "first") })
				r.Cleanup(func() { *ran = append(*ran, "second") })
			},
			wantRan: []string{"second", "first"},
		},
		{
			name: "fatal ends the step and its cleanups still run",
			step: func(r *Runner, ran *[]string) {
				r.Cleanup(func() { *ran = append(*ran, "before") })
				r.Fatalf("boom %d", 1)
				r.Cleanup(func() { *ran = append(*ran, "after") })
			},
			wantRunErr: "boom 1", wantFailed: true, wantRan: []string{"before"},
			wantCloseErr: []string{"boom 1"},
		},
		{
			name: "a missing program fails through the harness",
			step: func(r *Runner, ran *[]string) {
				lookPath(r, "ovnet-no-such-program")
			},
			wantRunErr: "ovnet-no-such-program not found on PATH", wantFailed: true,
			wantCloseErr: []string{"ovnet-no-such-program"},
		},
		{
			name: "errorf carries on",
			step: func(r *Runner, ran *[]string) {
				r.Errorf("odd")
				r.Cleanup(func() { *ran = append(*ran, "registered after the error") })
			},
			wantFailed: true, wantRan: []string{"registered after the error"},
			wantCloseErr: []string{"odd"},
		},
		{
			name: "a failing cleanup does not stop the others",
			step: func(r *Runner, ran *[]string) {
				r.Cleanup(func() { *ran = append(*ran, "still runs") })
				r.Cleanup(func() { r.Fatalf("stop failed") })
				r.Cleanup(func() {
					r.Cleanup(func() { *ran = append(*ran, "registered by a cleanup") })
				})
			},
			wantRan:      []string{"registered by a cleanup", "still runs"},
			wantCloseErr: []string{"stop failed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRunner(testr.New(t))
			var ran []string
			err := r.Run(func() { tt.step(r, &ran) })
			if tt.wantRunErr == "" && err != nil || tt.wantRunErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantRunErr)) {
				t.Errorf("Run() = %v, want %q", err, tt.wantRunErr)
			}
			if r.Failed() != tt.wantFailed {
				t.Errorf("Failed() = %v before Close, want %v", r.Failed(), tt.wantFailed)
			}
			closeErr := r.Close()
			if !slices.Equal(ran, tt.wantRan) {
				t.Errorf("cleanups ran %q, want %q", ran, tt.wantRan)
			}
			if len(tt.wantCloseErr) == 0 && closeErr != nil {
				t.Errorf("Close() = %v, want nil", closeErr)
			}
			for _, want := range tt.wantCloseErr {
				if closeErr == nil || !strings.Contains(closeErr.Error(), want) {
					t.Errorf("Close() = %v, want it to contain %q", closeErr, want)
				}
			}
		})
	}
}

func TestRunnerTempDir(t *testing.T) {
	r := NewRunner(testr.New(t))
	a, b := r.TempDir(), r.TempDir()
	if a == b {
		t.Errorf("TempDir() returned %s twice", a)
	}
	for _, dir := range []string{a, b} {
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			t.Errorf("TempDir() = %s, not a directory: %v", dir, err)
		}
		if len(dir) > maxSocketDirLen {
			t.Errorf("TempDir() = %s, too long for sockets", dir)
		}
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	for _, dir := range []string{a, b} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Close (%v)", dir, err)
		}
	}
}

func TestRunnerInKeepsRoot(t *testing.T) {
	root := t.TempDir()
	// An earlier run's directory, kept: the next is made beside it.
	if err := os.Mkdir(filepath.Join(root, "001"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := NewRunnerIn(testr.New(t), root)
	dir := r.TempDir()
	if dir != filepath.Join(root, "002") {
		t.Errorf("TempDir() = %s, want %s beside the earlier run's 001", dir, filepath.Join(root, "002"))
	}
	if filepath.Dir(dir) != root {
		t.Errorf("TempDir() = %s, want it under %s", dir, root)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("%s removed by Close, want it kept for its owner: %v", dir, err)
	}
}

// *testing.T, *testing.B and *Runner are all harness callers.
var (
	_ T = (*testing.T)(nil)
	_ T = (*testing.B)(nil)
	_ T = (*Runner)(nil)
)
