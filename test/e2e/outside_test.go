package e2e

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestOutsideWorld checks the modelled world outside the cluster before
// any gateway is in it: each node's own namespace (host network) reaches
// the far server on both its ranges through the external host, which
// routes it back, and the far server sees the node's underlay address,
// the InternalIP the Node reports.
func TestOutsideWorld(t *testing.T) {
	e := newEnv(t)
	o := e.outsideNodes("n1", "n2")

	for i, n := range o.nodes {
		want := nodeAddr(i)
		t.Run(n.Name, func(t *testing.T) {
			var node corev1.Node
			if err := e.c.Get(e.ctx, client.ObjectKey{Name: n.Name}, &node); err != nil {
				t.Fatal(err)
			}
			if got := nodeInternalIP(&node); got != want.String() {
				t.Errorf("node %s InternalIP %q, want its underlay address %s", n.Name, got, want)
			}
			for _, far := range o.far.IPs {
				for _, proto := range []string{"tcp", "udp"} {
					until(t, fmt.Sprintf("%s from node %s to the far server at %s", proto, n.Name, far), func() error {
						return farSees(nodeExec(n, e.probe, "connect", proto, farTarget(far), "--timeout", "2s"))(want)
					})
				}
			}
		})
	}

}

// farSees returns a check that a probe answer (out, err) names want as
// the client.
func farSees(out string, err error) func(want netip.Addr) error {
	return func(want netip.Addr) error {
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		got, err := clientSeen(out)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("server saw client %s, want %s", got, want)
		}
		return nil
	}
}

// nodeInternalIP is the Node's first InternalIP, "" without one.
func nodeInternalIP(node *corev1.Node) string {
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

func TestClientSeen(t *testing.T) {
	tests := []struct {
		name, answer, want string
		wantErr            bool
	}{
		{name: "tcp", answer: "host=far addrs=198.51.100.10,203.0.113.10 proto=tcp local=198.51.100.10:8080 client=172.18.0.1:40000\n", want: "172.18.0.1"},
		{name: "udp", answer: "host=far addrs=a proto=udp local=203.0.113.10:8080 client=10.16.0.5:1234", want: "10.16.0.5"},
		{name: "no client", answer: "probe: dial tcp 198.51.100.10:8080: i/o timeout", wantErr: true},
		{name: "bad client", answer: "client=nonsense", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := clientSeen(tt.answer)
			if (err != nil) != tt.wantErr {
				t.Fatalf("clientSeen(%q) error %v, want error %v", tt.answer, err, tt.wantErr)
			}
			if err == nil && got.String() != tt.want {
				t.Errorf("clientSeen(%q) = %s, want %s", tt.answer, got, tt.want)
			}
		})
	}
}
