package images

import (
	"archive/tar"
	"testing"
)

// usrMerged is a tiny image laid out as Debian 12's: /bin and /sbin are
// symlinks into /usr.
func usrMerged() *Image {
	img := &Image{Files: map[string]Entry{
		"/usr":                {Type: tar.TypeDir, Mode: 0o755},
		"/usr/bin":            {Type: tar.TypeDir, Mode: 0o755},
		"/usr/sbin":           {Type: tar.TypeDir, Mode: 0o755},
		"/bin":                {Type: tar.TypeSymlink, Linkname: "usr/bin"},
		"/sbin":               {Type: tar.TypeSymlink, Linkname: "/usr/sbin"},
		"/usr/bin/ip":         {Type: tar.TypeReg, Mode: 0o755},
		"/usr/sbin/ip":        {Type: tar.TypeSymlink, Linkname: "../bin/ip"},
		"/usr/bin/readme":     {Type: tar.TypeReg, Mode: 0o644},
		"/usr/bin/loop":       {Type: tar.TypeSymlink, Linkname: "loop"},
		"/usr/sbin/dangling":  {Type: tar.TypeSymlink, Linkname: "/nowhere"},
		"/usr/sbin/ovsdb-ctl": {Type: tar.TypeReg, Mode: 0o700},
	}}
	img.Config.Config.Env = []string{"HOME=/root", "PATH=/usr/local/bin:/sbin:/bin"}
	return img
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr bool
	}{
		{name: "plain file", path: "/usr/bin/ip", want: "/usr/bin/ip"},
		{name: "relative symlinked directory", path: "/bin/ip", want: "/usr/bin/ip"},
		{name: "absolute symlinked directory then relative link", path: "/sbin/ip", want: "/usr/bin/ip"},
		{name: "root", path: "/", want: "/"},
		{name: "missing", path: "/bin/nothing", wantErr: true},
		{name: "dangling", path: "/sbin/dangling", wantErr: true},
		{name: "loop", path: "/bin/loop", wantErr: true},
	}
	img := usrMerged()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := img.Resolve(tt.path)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Resolve(%s) = %q, %v; want %q, error %v", tt.path, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	tests := []struct {
		program string
		want    string
	}{
		{"ip", "/usr/bin/ip"},
		{"ovsdb-ctl", "/usr/sbin/ovsdb-ctl"},
		{"readme", ""}, // not executable
		{"dangling", ""},
		{"nothing", ""},
	}
	img := usrMerged()
	for _, tt := range tests {
		t.Run(tt.program, func(t *testing.T) {
			got, err := img.LookPath(tt.program)
			if got != tt.want || (err != nil) != (tt.want == "") {
				t.Errorf("LookPath(%s) = %q, %v; want %q", tt.program, got, err, tt.want)
			}
		})
	}
}
