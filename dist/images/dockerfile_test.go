package images

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseDockerfile(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Dockerfile
	}{
		{
			name: "only the last stage counts",
			text: `FROM golang AS builder
RUN apt-get install -y gcc
COPY go.mod /src/
FROM debian
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      openvswitch-switch kmod \
 && mkdir -p /var/lib/ovn /run/ovn
`,
			want: Dockerfile{Packages: []string{"openvswitch-switch", "kmod"}, Dirs: []string{"/var/lib/ovn", "/run/ovn"}},
		},
		{
			name: "copy to a file and to a directory",
			text: `FROM debian
# a comment \
COPY --from=builder /out/a /usr/local/bin/a
COPY --from=builder --chmod=0755 /out/b /out/c /usr/bin/
ADD x.tar /opt/x.tar
WORKDIR /src
WORKDIR sub
COPY go.mod go.sum ./
COPY y z
`,
			want: Dockerfile{Files: []string{"/usr/local/bin/a", "/usr/bin/b", "/usr/bin/c", "/opt/x.tar",
				"/src/sub/go.mod", "/src/sub/go.sum", "/src/sub/z"}},
		},
		{
			name: "labels quoted and not, over continued lines",
			text: `FROM debian
LABEL a="one two" \
      b=three c=""
`,
			want: Dockerfile{Labels: map[string]string{"a": "one two", "b": "three", "c": ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDockerfile(strings.NewReader(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseDockerfileErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{"several sources to a file", "FROM d\nCOPY a b /c\n"},
		{"no destination", "FROM d\nCOPY a\n"},
		{"unterminated label", "FROM d\nLABEL a=\"b\n"},
		{"label without value", "FROM d\nLABEL a\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := ParseDockerfile(strings.NewReader(tt.text)); err == nil {
				t.Errorf("parsed %+v, want an error", got)
			}
		})
	}
}

// TestOurDockerfile pins what the image check relies on finding in our own
// Dockerfile, so a reworded Dockerfile cannot make the check vacuous.
func TestOurDockerfile(t *testing.T) {
	d := ourDockerfile(t)
	for _, want := range []struct {
		what string
		got  []string
		item string
	}{
		{"packages", d.Packages, "openvswitch-switch"},
		{"packages", d.Packages, "ovn-central"},
		{"packages", d.Packages, "ovn-host"},
		{"files", d.Files, "/usr/local/bin/ovnet-controller"},
		{"files", d.Files, "/usr/bin/ovnet-daemon"},
		{"files", d.Files, "/usr/bin/ovnet"},
		{"files", d.Files, "/usr/bin/ovnet-speaker"},
		{"dirs", d.Dirs, "/var/lib/ovn"},
	} {
		if !contains(want.got, want.item) {
			t.Errorf("Dockerfile %s %v lack %s", want.what, want.got, want.item)
		}
	}
	if len(d.Labels) == 0 {
		t.Error("Dockerfile has no LABEL")
	}
}

func ourDockerfile(t *testing.T) Dockerfile {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ParseDockerfile(f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func contains(list []string, item string) bool {
	for _, x := range list {
		if x == item {
			return true
		}
	}
	return false
}
