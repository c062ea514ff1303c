package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRemoveDir(t *testing.T) {
	tests := []struct {
		name     string
		keepLogs bool
		want     []string
	}{
		{"everything", false, nil},
		{"logs kept", true, []string{"log/supervisor.log", "run/001/kubelet.log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sbx")
			for _, f := range []string{"state.json", "log/supervisor.log", "run/001/kubelet.log", "run/001/conf.db", "run/002/x"} {
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := removeDir(dir, tt.keepLogs); err != nil {
				t.Fatal(err)
			}
			var got []string
			_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					got = append(got, rel)
				}
				return nil
			})
			if !slices.Equal(got, tt.want) {
				t.Errorf("left %q, want %q", got, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "run/002")); !os.IsNotExist(err) {
				t.Errorf("empty directory run/002 left (%v)", err)
			}
		})
	}
}
