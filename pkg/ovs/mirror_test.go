package ovs_test

import (
	"testing"

	"github.com/ovnet/ovnet/pkg/ovs"
)

func TestEnsureMirror(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	newBridge(t, f)
	if err := f.client.EnsurePort(ctx, podPort("c1")); err != nil {
		t.Fatal(err)
	}
	pod := f.vsctl(t, "get", "port", "abc_h", "_uuid")

	tests := []struct {
		name      string
		mirror    ovs.Mirror
		txns      uint64
		selectAll string
		selected  string
	}{
		{"select all", ovs.Mirror{Name: "m0", OutputPort: "mirror0", SelectAll: true}, 1, "true", "[]"},
		{"again", ovs.Mirror{Name: "m0", OutputPort: "mirror0", SelectAll: true}, 0, "true", "[]"},
		{"per pod", ovs.Mirror{Name: "m0", OutputPort: "mirror0", Ports: []string{"abc_h", "gone_h"}}, 1, "false", "[" + pod + "]"},
		{"per pod again", ovs.Mirror{Name: "m0", OutputPort: "mirror0", Ports: []string{"abc_h"}}, 0, "false", "[" + pod + "]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.step(t, tt.txns, func() error { return f.client.EnsureMirror(ctx, "br-int", tt.mirror) })
			checks := []struct {
				args []string
				want string
			}{
				{[]string{"get", "interface", "mirror0", "type"}, "internal"},
				{[]string{"get", "mirror", "m0", "output_port"}, f.vsctl(t, "get", "port", "mirror0", "_uuid")},
				{[]string{"get", "bridge", "br-int", "mirrors"}, "[" + f.vsctl(t, "get", "mirror", "m0", "_uuid") + "]"},
				{[]string{"get", "mirror", "m0", "select_all"}, tt.selectAll},
				{[]string{"get", "mirror", "m0", "select_src_port"}, tt.selected},
				{[]string{"get", "mirror", "m0", "select_dst_port"}, tt.selected},
			}
			for _, c := range checks {
				if got := f.vsctl(t, c.args...); got != c.want {
					t.Fatalf("ovs-vsctl %v = %s, want %s", c.args, got, c.want)
				}
			}
		})
	}
}
