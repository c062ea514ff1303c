package ovsdbserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// recorder is an Env whose cleanups run when the test says, so the test
// can check what they leave behind; failures go to the real test.
type recorder struct {
	*testing.T
	cleanups []func()
	fatal    string
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// Fatalf records the message and ends the goroutine, as testing.T's does.
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}

// startIn runs Start on its own goroutine, so a Fatalf ends only that.
func startIn(r *recorder, opts Options) *Server {
	var s *Server
	done := make(chan struct{})
	go func() {
		defer close(done)
		s = Start(r, opts)
	}()
	<-done
	return s
}

func TestStartServesTheSchemaAndCleansUp(t *testing.T) {
	tests := []struct {
		schema string
		db     string
	}{
		{NorthboundSchema, "OVN_Northbound"},
		{SouthboundSchema, "OVN_Southbound"},
		{OpenvSwitchSchema, "Open_vSwitch"},
	}
	for _, tt := range tests {
		t.Run(tt.db, func(t *testing.T) {
			r := &recorder{T: t}
			s := startIn(r, Options{Schema: tt.schema})
			if s == nil {
				r.runCleanups()
				t.Fatalf("Start failed: %s", r.fatal)
			}
			out, err := exec.Command("ovsdb-client", "list-dbs", s.Endpoint).CombinedOutput()
			if err != nil || !strings.Contains(string(out), tt.db) {
				t.Errorf("ovsdb-client list-dbs %s = %q (%v), want %s", s.Endpoint, out, err, tt.db)
			}
			r.runCleanups()
			if err := syscall.Kill(s.PID, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("ovsdb-server (pid %d) still there after cleanup: %v", s.PID, err)
			}
			if _, err := os.Stat(filepath.Dir(s.Socket)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("directory %s left after cleanup: %v", filepath.Dir(s.Socket), err)
			}
		})
	}
}

// A missing schema or program fails the caller: the suites that start a
// server exist to run against one and must never pass without it.
func TestStartFailsWithoutServerOrSchema(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		schema  string
		mention string
	}{
		{"missing schema", os.Getenv("PATH"), "/nonexistent/x.ovsschema", "/nonexistent/x.ovsschema"},
		{"no ovsdb-server on PATH", t.TempDir(), OpenvSwitchSchema, "not found on PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.path)
			r := &recorder{T: t}
			s := startIn(r, Options{Schema: tt.schema})
			r.runCleanups()
			if s != nil || !strings.Contains(r.fatal, tt.mention) {
				t.Fatalf("Start = %v, failure %q; want a failure mentioning %q", s, r.fatal, tt.mention)
			}
		})
	}
}

// RestartEmpty serves a new, empty database on the same socket: a row
// written before is gone; Stop and Restart serve the same database again,
// refusing clients in between: the row is kept. Either way the old
// process is gone, and cleanup stops the new one.
func TestRestartServesTheDatabaseOrAnEmptyOne(t *testing.T) {
	tests := []struct {
		name    string
		restart func(s *Server, r *recorder)
		wantRow bool
	}{
		{"RestartEmpty", func(s *Server, r *recorder) { s.RestartEmpty(r) }, false},
		{"Stop and Restart", func(s *Server, r *recorder) {
			s.Stop(r)
			if err := dial("unix", s.Socket); err == nil {
				t.Error("the stopped server accepted a connection")
			}
			s.Restart(r)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{T: t}
			s := startIn(r, Options{Schema: NorthboundSchema, Name: "ovnnb_db"})
			if s == nil {
				r.runCleanups()
				t.Fatalf("Start failed: %s", r.fatal)
			}
			defer r.runCleanups()
			insert := `["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"before"}}]`
			if out, err := exec.Command("ovsdb-client", "transact", s.Endpoint, insert).CombinedOutput(); err != nil {
				t.Fatalf("insert: %v: %s", err, out)
			}
			oldPID := s.PID
			tt.restart(s, r)
			if err := syscall.Kill(oldPID, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("old ovsdb-server (pid %d) still there after the restart: %v", oldPID, err)
			}
			out, err := exec.Command("ovsdb-client", "dump", s.Endpoint, "OVN_Northbound", "Logical_Switch").CombinedOutput()
			if err != nil || strings.Contains(string(out), "before") != tt.wantRow {
				t.Errorf("after the restart, Logical_Switch = %q (%v), want the row: %v", out, err, tt.wantRow)
			}
			r.runCleanups()
			if err := syscall.Kill(s.PID, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("restarted ovsdb-server (pid %d) still there after cleanup: %v", s.PID, err)
			}
		})
	}
}
