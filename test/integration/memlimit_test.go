package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ovnet/ovnet/pkg/memlimit"
	"github.com/ovnet/ovnet/test/harness"
)

// The controller started in a container-like memory cgroup gives the Go
// runtime a memory limit of nine tenths of the cgroup's, which a user sees
// as go_gc_gomemlimit_bytes; GOMEMLIMIT, when set, is left as it is.
func TestMemoryLimitFromCgroup(t *testing.T) {
	e := newParts(t)
	bin := harness.BuildController(t)
	const cgroupLimit = 256 << 20
	tests := []struct {
		name, env string
		want      int64
	}{
		{name: "nine tenths of the cgroup's limit", want: cgroupLimit * 9 / 10},
		{name: "GOMEMLIMIT wins", env: "GOMEMLIMIT=100MiB", want: 100 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			group := memoryCgroup(t, cgroupLimit)
			addr := harness.FreeAddr(t)
			p := harness.StartControllerProcess(t, inCgroup(t, group, tt.env, bin), e.api, e.nb, "--metrics-bind-address="+addr)
			got := harness.MetricValue(t, addr, "go_gc_gomemlimit_bytes")
			if int64(got) != tt.want {
				t.Errorf("go_gc_gomemlimit_bytes %.0f, want %d (%s)", got, tt.want, p)
			}
		})
	}
}

// cgroupsMade numbers the test cgroups of this process.
var cgroupsMade atomic.Int64

// memoryCgroup makes a memory cgroup limited to limit under the test
// process's own (v1's memory hierarchy, or the unified one), removed when
// the test ends; it returns its directory.
func memoryCgroup(t *testing.T, limit int64) string {
	t.Helper()
	v2, v1, err := memlimit.Host.Paths()
	if err != nil {
		t.Fatal(err)
	}
	var dir, file string
	switch _, unified := os.Stat(filepath.Join(memlimit.Host.Root, "cgroup.controllers")); {
	case v1 != "":
		dir, file = filepath.Join(memlimit.Host.Root, "memory", v1), "memory.limit_in_bytes"
	case v2 != "" && unified == nil:
		dir, file = filepath.Join(memlimit.Host.Root, v2), "memory.max"
	default:
		t.Fatalf("no memory cgroup to make a test group under (cgroup v2 %q, v1 memory %q)", v2, v1)
	}
	group := filepath.Join(dir, fmt.Sprintf("ovnet-memlimit-%d-%d", os.Getpid(), cgroupsMade.Add(1)))
	if err := os.Mkdir(group, 0o755); err != nil {
		t.Fatalf("make a memory cgroup (this test needs root): %v", err)
	}
	// Registered before the process starts, so it runs after the process
	// is killed: a group with a process in it cannot be removed.
	t.Cleanup(func() {
		if err := syscall.Rmdir(group); err != nil {
			t.Errorf("remove cgroup %s: %v", group, err)
		}
	})
	if err := os.WriteFile(filepath.Join(group, file), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		t.Fatalf("limit cgroup %s: %v", group, err)
	}
	return group
}

// inCgroup writes a script that moves itself into group, sets env (NAME=value,
// or nothing) and runs bin with its arguments, so the binary starts in the
// group; it returns the script's path.
func inCgroup(t *testing.T, group, env, bin string) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "in-cgroup")
	body := fmt.Sprintf("#!/bin/sh\necho $$ > %s/cgroup.procs || exit 1\n", group)
	if env != "" {
		body += "export " + env + "\n"
	}
	body += fmt.Sprintf("exec %s \"$@\"\n", bin)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}
