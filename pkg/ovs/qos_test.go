package ovs_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestSetPortEgressRate(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	newBridge(t, f)
	if err := f.client.EnsurePort(ctx, podPort("c1")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		bps  uint64
		txns uint64
		// rate is the max-rate, in bit/s, the queue must hold;
		// empty means no QoS and no queue may exist at all.
		rate string
	}{
		{"set", 20e6, 1, "20000000"},
		{"same again", 20e6, 0, "20000000"},
		{"changed", 50e6, 1, "50000000"},
		{"removed", 0, 1, ""},
		{"removed again", 0, 0, ""},
		{"set after removal", 5e6, 1, "5000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.step(t, tt.txns, func() error { return f.client.SetPortEgressRate(ctx, "abc_h", tt.bps) })
			qos := f.vsctl(t, "--bare", "--columns=_uuid", "list", "qos")
			queues := f.vsctl(t, "--bare", "--columns=_uuid", "list", "queue")
			if tt.rate == "" {
				if qos != "" || queues != "" || f.vsctl(t, "get", "port", "abc_h", "qos") != "[]" {
					t.Fatalf("QoS left behind: qos %q, queues %q", qos, queues)
				}
				return
			}
			if strings.Count(qos, "\n") != 0 || strings.Count(queues, "\n") != 0 {
				t.Fatalf("leaked rows: qos %q, queues %q", qos, queues)
			}
			if got := f.vsctl(t, "get", "port", "abc_h", "qos"); got != qos {
				t.Fatalf("port qos = %s, want the only QoS row %s", got, qos)
			}
			checks := map[string][]string{
				"linux-htb":          {"get", "qos", qos, "type"},
				"{}":                 {"get", "qos", qos, "other_config"},
				"{0=" + queues + "}": {"get", "qos", qos, "queues"},
			}
			for want, args := range checks {
				if got := f.vsctl(t, args...); got != want {
					t.Fatalf("ovs-vsctl %v = %s, want %s", args, got, want)
				}
			}
			if got := f.vsctl(t, "get", "queue", queues, "other_config:max-rate"); got != `"`+tt.rate+`"` {
				t.Fatalf("queue max-rate = %s, want %s", got, tt.rate)
			}
			rate, _ := strconv.ParseUint(tt.rate, 10, 64)
			if got, want := f.vsctl(t, "get", "queue", queues, "other_config:burst"), fmt.Sprintf(`"%d"`, rate/10); got != want {
				t.Fatalf("queue burst = %s, want %s (a tenth of a second)", got, want)
			}
		})
	}
}

func TestDeletePortDestroysItsQoS(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	newBridge(t, f)
	if err := f.client.EnsurePort(ctx, podPort("c1")); err != nil {
		t.Fatal(err)
	}
	if err := f.client.SetPortEgressRate(ctx, "abc_h", 10e6); err != nil {
		t.Fatal(err)
	}
	f.step(t, 1, func() error { return f.client.DeletePort(ctx, "br-int", "abc_h") })
	for _, table := range []string{"qos", "queue"} {
		if got := f.vsctl(t, "--bare", "--columns=_uuid", "list", table); got != "" {
			t.Errorf("ovs-vsctl list %s after delete: %q, want none", table, got)
		}
	}
	if got := f.vsctl(t, "--bare", "--columns=name", "list", "port"); got != "br-int" {
		t.Errorf("ports after delete: %q, want only the bridge's local port", got)
	}
}

func TestSetInterfaceIngressPolicing(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	newBridge(t, f)
	if err := f.client.EnsurePort(ctx, podPort("c1")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		bps         uint64
		txns        uint64
		rate, burst string
	}{
		{"set", 30e6, 1, "30000", "3000"},
		{"same again", 30e6, 0, "30000", "3000"},
		{"removed", 0, 1, "0", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.step(t, tt.txns, func() error { return f.client.SetInterfaceIngressPolicing(ctx, "abc_h", tt.bps) })
			if got := f.vsctl(t, "get", "interface", "abc_h", "ingress_policing_rate"); got != tt.rate {
				t.Errorf("ingress_policing_rate = %s, want %s", got, tt.rate)
			}
			if got := f.vsctl(t, "get", "interface", "abc_h", "ingress_policing_burst"); got != tt.burst {
				t.Errorf("ingress_policing_burst = %s, want %s", got, tt.burst)
			}
		})
	}
}
