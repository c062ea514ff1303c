package uninstall

import (
	"slices"
	"strings"
	"testing"
)

func TestMountDirs(t *testing.T) {
	tests := []struct {
		name  string
		dirs  NodeDirs
		mount []string
	}{
		{"chart defaults", NodeDirs{
			Files: []string{"/var/lib/ovnet/ovn/ovnnb_db.db", "/var/lib/ovnet/ovn/ovnsb_db.db"},
			Empty: []string{"/var/lib/ovnet/ovn", "/var/lib/ovnet/openvswitch", "/var/lib/ovnet", "/run/ovnet", "/run/openvswitch", "/run/ovn"},
		}, []string{"/run", "/var/lib"}},
		// A removed directory is never the mount point: it could not be removed.
		{"parent removed too", NodeDirs{Empty: []string{"/a/b/c", "/a/b"}}, []string{"/a"}},
		{"nested parents collapse", NodeDirs{Files: []string{"/x/y/f"}, Empty: []string{"/x/z"}}, []string{"/x"}},
		{"at the root", NodeDirs{Empty: []string{"/data"}}, []string{"/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.dirs.mountDirs(); !slices.Equal(got, tt.mount) {
				t.Errorf("mounts %v, want %v", got, tt.mount)
			}
		})
	}
}

func TestScript(t *testing.T) {
	d := NodeDirs{Files: []string{"/var/lib/ovnet/ovn/ovnnb_db.db"},
		Empty: []string{"/var/lib/ovnet", "/run/ovn", "/var/lib/ovnet/ovn"}}
	s := d.script()
	// Files first, then directories deepest first, so a parent is empty
	// by the time its turn comes.
	order := []string{"rm -f -- '/host/var/lib/ovnet/ovn/ovnnb_db.db'", "rmdir -- '/host/var/lib/ovnet/ovn'", "rmdir -- '/host/var/lib/ovnet'"}
	last := -1
	for _, line := range order {
		i := strings.Index(s, line)
		if i <= last {
			t.Fatalf("%q missing or out of order in:\n%s", line, s)
		}
		last = i
	}
	if strings.Contains(s, "rm -rf") {
		t.Errorf("the script removes trees:\n%s", s)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"/var/lib/ovnet", true},
		{"var/lib/ovnet", false},
		{"/var/lib/../lib/ovnet", false},
		{"/", false},
		{"/var/lib/o'vnet", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			err := (&NodeDirs{Empty: []string{tt.path}}).validate()
			if (err == nil) != tt.ok {
				t.Errorf("validate(%q) = %v, want ok %v", tt.path, err, tt.ok)
			}
		})
	}
}
