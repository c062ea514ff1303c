package harness

import (
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
)

// TestNATPath measures the NAT path briefly, as is and as on the userspace
// datapath, and checks that a run whose server sees another source than
// the one wanted fails: the source check is what proves the masquerade.
func TestNATPath(t *testing.T) {
	p := NewNATPath(t)
	if mbps := p.EgressMbps(t, 1); mbps <= 0 {
		t.Errorf("NAT path: %.0f Mbit/s", mbps)
	}
	p.AsOnUserspaceDatapath(t)
	if mbps := p.EgressMbps(t, 1); mbps <= 0 {
		t.Errorf("NAT path without offloads: %.0f Mbit/s", mbps)
	}
	r := NewRunner(testr.New(t))
	defer func() { _ = r.Close() }()
	unmasqueraded := IperfRun{ClientNS: p.PodNS, ServerNS: p.ExternalNS, Server: p.External, WantSource: p.Pod, Seconds: 1}
	err := r.Run(func() { unmasqueraded.Mbps(r) })
	if err == nil || !strings.Contains(err.Error(), "want "+p.Pod.String()) {
		t.Errorf("iperf3 run wanting the pod's own address as source: %v, want a failure naming it", err)
	}
}
