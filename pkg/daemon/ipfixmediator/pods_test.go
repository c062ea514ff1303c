package ipfixmediator

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/ovnet/ovnet/pkg/annotation"
)

func recordOf(ips string) map[string]string {
	return map[string]string{annotation.Allocated: "true", annotation.IPAddress: ips,
		annotation.MACAddress: "0a:00:00:00:00:01", annotation.LogicalSwitch: "ovn-default"}
}

func podAt(ns, name, node, ips string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{NodeName: node}}
	if ips != "" {
		p.Annotations = recordOf(ips)
	}
	return p
}

func TestPodIndex(t *testing.T) {
	a4, a6 := netip.MustParseAddr("10.16.0.5"), netip.MustParseAddr("fd00:10:16::5")
	hostNet := podAt("kube-system", "ovnet-node-x", "n1", "10.16.0.7")
	hostNet.Spec.HostNetwork = true
	tests := []struct {
		name string
		// events are applied in order: a pod is set, a name alone deleted.
		events []any
		lookup netip.Addr
		want   Pod
		found  bool
	}{
		{"dual stack, IPv6", []any{podAt("shop", "web-0", "n1", "10.16.0.5,fd00:10:16::5")}, a6, Pod{"shop", "web-0", "n1"}, true},
		{"dual stack, IPv4", []any{podAt("shop", "web-0", "n1", "10.16.0.5,fd00:10:16::5")}, a4, Pod{"shop", "web-0", "n1"}, true},
		{"not yet allocated", []any{podAt("shop", "web-0", "n1", "")}, a4, Pod{}, false},
		{"host network", []any{hostNet}, netip.MustParseAddr("10.16.0.7"), Pod{}, false},
		{"deleted", []any{podAt("shop", "web-0", "n1", "10.16.0.5"), types.NamespacedName{Namespace: "shop", Name: "web-0"}}, a4, Pod{}, false},
		{"address moved by an update", []any{podAt("shop", "web-0", "n1", "10.16.0.5"), podAt("shop", "web-0", "n1", "10.16.0.8")}, a4, Pod{}, false},
		{"reused: the newer holder", []any{podAt("shop", "old", "n1", "10.16.0.5"), podAt("shop", "new", "n2", "10.16.0.5")}, a4, Pod{"shop", "new", "n2"}, true},
		{"reused: the older once the newer goes", []any{podAt("shop", "old", "n1", "10.16.0.5"), podAt("shop", "new", "n2", "10.16.0.5"),
			types.NamespacedName{Namespace: "shop", Name: "new"}}, a4, Pod{"shop", "old", "n1"}, true},
		{"record that does not parse", []any{podAt("shop", "web-0", "n1", "10.16.0")}, a4, Pod{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := NewPodIndex()
			h := x.Handler()
			for _, e := range tt.events {
				switch e := e.(type) {
				case *corev1.Pod:
					slim, _ := SlimPod(e)
					h.OnAdd(slim, false)
				case types.NamespacedName:
					h.OnDelete(toolscache.DeletedFinalStateUnknown{Key: e.String(), Obj: podAt(e.Namespace, e.Name, "", "")})
				}
			}
			got, found := x.Lookup(tt.lookup)
			if got != tt.want || found != tt.found {
				t.Errorf("Lookup(%s) = %+v, %v; want %+v, %v", tt.lookup, got, found, tt.want, tt.found)
			}
		})
	}
}
