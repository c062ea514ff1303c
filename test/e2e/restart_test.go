package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestOVSRestartsWithTraffic restarts each Open vSwitch part of a node
// the way a crash and its supervisor would (SIGKILL, then a new process)
// while a pod on the other node pings a pod on it: traffic comes back by
// itself, with no address, port or flow rewritten by hand, and the ping's
// loss is printed. ovn-controller's flows stay in br-int while it is gone,
// so its restart loses nothing; ovs-vswitchd is the userspace datapath
// itself, so its node forwards nothing until it is back and ovn-controller
// has reinstalled the flows.
func TestOVSRestartsWithTraffic(t *testing.T) {
	e := newEnv(t)
	nodes := e.geneveNodes("n1", "n2")
	a := nodes[0].Runtime(t).AddPod(t, e.pod("default", "a", "n1", nil))
	b := nodes[1].Runtime(t).AddPod(t, e.pod("default", "b", "n2", nil))
	ping(t, a, b.IP.String())
	n2 := nodes[1].Chassis
	tests := []struct {
		name    string
		restart func(t *testing.T)
	}{
		{"ovn-controller", func(t *testing.T) { n2.KillController(t); n2.RestartController(t) }},
		{"ovs-vswitchd", func(t *testing.T) { n2.KillVswitchd(t); n2.RestartVswitchd(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan string, 1)
			go func() {
				loss, _ := pingLoss(a, b.IP.String(), 100, "0.1") // 10 s
				done <- loss
			}()
			time.Sleep(2 * time.Second)
			start := time.Now()
			tt.restart(t)
			t.Logf("%s on n2 restarted in %s", tt.name, time.Since(start).Round(time.Millisecond))
			loss := <-done
			t.Logf("FIGURE %s killed and restarted on n2: a ping every 100 ms from n1 across it: %s", tt.name, strings.TrimSpace(loss))
			// Back by itself, both ways, and the node serves a new pod.
			e.eventually("a reaches b after the restart", func() error {
				_, err := a.Exec("ping", "-c", "1", "-W", "1", b.IP.String())
				return err
			})
			ping(t, a, b.IP.String())
			ping(t, b, a.IP.String())
			n2.RequireVswitchd(t)
		})
	}
	c := nodes[1].Runtime(t).AddPod(t, e.pod("default", "c", "n2", nil))
	ping(t, a, c.IP.String())
}
