package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMadeBy(t *testing.T) {
	mine := os.Getpid()
	tests := []struct {
		name string
		pid  int
		want bool
	}{
		{UniqueName("kn"), mine, true},
		{UniqueName("ovkc"), mine, true},
		{UniqueName("ext"), mine + 1, false},
		{"kn" + strings.Repeat("0", pidDigits), mine, false},
		{"eth0", mine, false},
		{"", mine, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MadeBy(tt.pid, tt.name); got != tt.want {
				t.Errorf("MadeBy(%d, %q) = %v, want %v", tt.pid, tt.name, got, tt.want)
			}
		})
	}
}

func TestHashTree(t *testing.T) {
	root := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum := func() string {
		t.Helper()
		s, err := hashTree(root, []string{"cmd", "go.mod"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	write("cmd/a.go", "a")
	write("go.mod", "m")
	write("docs/x.md", "x")
	base := sum()
	tests := []struct {
		name        string
		change      func()
		wantChanged bool
	}{
		{"nothing", func() {}, false},
		{"a file outside the paths", func() { write("docs/x.md", "y") }, false},
		{"a test", func() { write("cmd/a_test.go", "t") }, false},
		{"a source's content", func() { write("cmd/a.go", "b") }, true},
		{"a new source", func() { write("cmd/b.go", "") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			got := sum()
			if (got != base) != tt.wantChanged {
				t.Errorf("sum changed = %v, want %v", got != base, tt.wantChanged)
			}
			base = got
		})
	}
}
