package attachments

import (
	"regexp"
	"testing"

	"github.com/ovnet/ovnet/pkg/ovs"
)

func TestHostInterfaceName(t *testing.T) {
	tests := []struct {
		name     string
		a, b     [2]string // container ID and interface of two attachments
		wantSame bool
	}{
		{"same attachment", [2]string{"abc", "eth0"}, [2]string{"abc", "eth0"}, true},
		{"IDs sharing a prefix", [2]string{"abcdef0123456789-1", "eth0"}, [2]string{"abcdef0123456789-2", "eth0"}, false},
		{"second interface of a container", [2]string{"abc", "eth0"}, [2]string{"abc", "net1"}, false},
		{"boundary between ID and interface", [2]string{"ab", "ceth0"}, [2]string{"abc", "eth0"}, false},
	}
	valid := regexp.MustCompile(`^[0-9a-f]{12}_h$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, y := HostInterfaceName(tt.a[0], tt.a[1]), HostInterfaceName(tt.b[0], tt.b[1])
			if !valid.MatchString(x) || len(x) > 15 {
				t.Fatalf("host name %q: want 12 hex digits and _h, within IFNAMSIZ", x)
			}
			if (x == y) != tt.wantSame {
				t.Fatalf("names %q and %q: same = %v, want %v", x, y, x == y, tt.wantSame)
			}
		})
	}
}

// What ADD writes on the port is what DEL, GC and the reconciler read back.
func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		a    Attachment
	}{
		{"mirrored pod", Attachment{HostName: "0123456789ab_h", ContainerID: "ctr1", IfName: "eth0", Netns: "/run/netns/p1",
			Namespace: "default", Name: "a", MAC: "0a:00:00:00:00:01", IP: "10.16.0.2", Mirror: true}},
		{"plain pod", Attachment{HostName: "ba9876543210_h", ContainerID: "ctr2", IfName: "net1", Netns: "/proc/1/ns/net",
			Namespace: "team-a", Name: "web-0", MAC: "0a:00:00:00:00:02", IP: "10.66.0.9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := tt.a.ExternalIDs()
			if ids[KeyIfaceID] != tt.a.Name+"."+tt.a.Namespace {
				t.Errorf("iface-id %q, want the logical port <pod>.<namespace>", ids[KeyIfaceID])
			}
			got, ok := FromPort(ovs.PortInfo{Name: tt.a.HostName, ExternalIDs: ids})
			if !ok || got != tt.a {
				t.Fatalf("FromPort(ExternalIDs()) = %+v, %v; want %+v", got, ok, tt.a)
			}
		})
	}
}

func TestFromPortSkipsOtherPorts(t *testing.T) {
	for _, p := range []ovs.PortInfo{
		{Name: "ovn0", ExternalIDs: map[string]string{KeyIfaceID: "node-n1"}},
		{Name: "mirror0"},
		{Name: "br-int"},
	} {
		if a, ok := FromPort(p); ok {
			t.Errorf("port %s read as attachment %+v", p.Name, a)
		}
	}
}
