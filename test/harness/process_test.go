package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSocketDir(t *testing.T) {
	tests := []struct {
		name string
		// tmpdir, if set, is appended to a fresh directory to form $TMPDIR.
		tmpdir    string
		wantShort bool // the fallback under /tmp must be used
	}{
		{name: "default TMPDIR"},
		{name: "deep TMPDIR", tmpdir: strings.Repeat("deep/", 20), wantShort: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.tmpdir != "" {
				// Not t.TempDir: it fixes its root on first use, and TMPDIR
				// must change before socketDir's first call.
				base, err := os.MkdirTemp("", "deep-")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(base) })
				deep := filepath.Join(base, tt.tmpdir)
				if err := os.MkdirAll(deep, 0o755); err != nil {
					t.Fatal(err)
				}
				t.Setenv("TMPDIR", deep)
			}
			dir := socketDir(t)
			if len(dir) > maxSocketDirLen {
				t.Fatalf("socketDir() = %q (%d bytes), want at most %d", dir, len(dir), maxSocketDirLen)
			}
			if short := strings.HasPrefix(dir, "/tmp/ovnet-"); short != tt.wantShort {
				t.Errorf("socketDir() = %q, want fallback %v", dir, tt.wantShort)
			}
			// A server must come up there, proving the socket path is usable.
			nb := StartNorthbound(t)
			t.Logf("northbound at %s", nb.Endpoint)
		})
	}
}
