package memlimit

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/go-logr/logr"
)

// fixture writes a cgroup tree: files maps paths under the root to their
// content; membership is the process's /proc/self/cgroup.
func fixture(t *testing.T, membership string, files map[string]string) Cgroup {
	t.Helper()
	dir := t.TempDir()
	c := Cgroup{Root: filepath.Join(dir, "cgroup"), Self: filepath.Join(dir, "self")}
	if err := os.WriteFile(c.Self, []byte(membership), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		file := filepath.Join(c.Root, name)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestLimit(t *testing.T) {
	const unlimited = "9223372036854771712" // v1's "no limit"
	tests := []struct {
		name       string
		membership string
		files      map[string]string
		want       int64
		found      bool
		wantErr    bool
	}{
		{name: "v2, the container's own group",
			membership: "0::/kubepods/pod1/c1\n",
			files:      map[string]string{"kubepods/pod1/c1/memory.max": "268435456", "kubepods/memory.max": "max"},
			want:       268435456, found: true},
		{name: "v2, an ancestor's limit is smaller",
			membership: "0::/kubepods/pod1/c1\n",
			files:      map[string]string{"kubepods/pod1/c1/memory.max": "max", "kubepods/pod1/memory.max": "104857600"},
			want:       104857600, found: true},
		{name: "v2, no limit anywhere",
			membership: "0::/user.slice/session-1\n",
			files:      map[string]string{"user.slice/session-1/memory.max": "max"}},
		{name: "v2, a container sees the host's path and its own group at the root",
			membership: "0::/kubepods/pod1/c1\n",
			files:      map[string]string{"memory.max": "536870912"},
			want:       536870912, found: true},
		{name: "v1, the limit on the parent",
			membership: "5:cpuset:/\n4:memory:/a/b\n0::/\n",
			files:      map[string]string{"memory/a/b/memory.limit_in_bytes": unlimited, "memory/a/memory.limit_in_bytes": "536870912"},
			want:       536870912, found: true},
		{name: "v1, comounted controllers",
			membership: "3:cpu,memory:/x\n",
			files:      map[string]string{"memory/x/memory.limit_in_bytes": "1073741824"},
			want:       1073741824, found: true},
		{name: "hybrid: the unified group has no memory.max, v1's counts",
			membership: "4:memory:/process_api/7\n0::/\n",
			files:      map[string]string{"unified/cgroup.procs": "", "memory/process_api/7/memory.limit_in_bytes": "2147483648"},
			want:       2147483648, found: true},
		{name: "v1 unlimited",
			membership: "4:memory:/\n",
			files:      map[string]string{"memory/memory.limit_in_bytes": unlimited}},
		{name: "a limit that is not a number",
			membership: "0::/a\n",
			files:      map[string]string{"a/memory.max": "lots"},
			wantErr:    true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := fixture(t, tt.membership, tt.files).Limit()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Limit() error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want || found != tt.found {
				t.Errorf("Limit() = %d, %v; want %d, %v", got, found, tt.want, tt.found)
			}
		})
	}
}

func TestApply(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	limited := fixture(t, "0::/c\n", map[string]string{"c/memory.max": "1000000000"})
	tests := []struct {
		name       string
		gomemlimit string
		cgroup     Cgroup
		want       int64
	}{
		{name: "nine tenths of the cgroup's limit", cgroup: limited, want: 900000000},
		{name: "GOMEMLIMIT wins", gomemlimit: "100MiB", cgroup: limited, want: math.MaxInt64},
		{name: "no limit, none set", cgroup: fixture(t, "0::/c\n", map[string]string{"c/memory.max": "max"}), want: math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tt.gomemlimit)
			debug.SetMemoryLimit(math.MaxInt64)
			Apply(logr.Discard(), tt.cgroup)
			if got := debug.SetMemoryLimit(-1); got != tt.want {
				t.Errorf("memory limit %d, want %d", got, tt.want)
			}
		})
	}
}
