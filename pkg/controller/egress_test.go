package controller

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

func TestParseEgress(t *testing.T) {
	tests := []struct {
		name   string
		spec   ovnetv1.SubnetSpec
		want   egressSpec
		reason string
	}{
		{"default", ovnetv1.SubnetSpec{}, egressSpec{}, ""},
		{"distributed ignores nodes", ovnetv1.SubnetSpec{GatewayType: "distributed", GatewayNode: "n1"}, egressSpec{}, ""},
		{"centralized, spaces trimmed, order kept", ovnetv1.SubnetSpec{GatewayType: "centralized", GatewayNode: " n2 ,n1"},
			egressSpec{centralized: true, nodes: []string{"n2", "n1"}}, ""},
		{"centralized without nodes", ovnetv1.SubnetSpec{GatewayType: "centralized", GatewayNode: "  "}, egressSpec{}, ovnetv1.ReasonInvalidGateway},
		{"empty entry", ovnetv1.SubnetSpec{GatewayType: "centralized", GatewayNode: "n1,"}, egressSpec{}, ovnetv1.ReasonInvalidGateway},
		{"duplicate", ovnetv1.SubnetSpec{GatewayType: "centralized", GatewayNode: "n1,n1"}, egressSpec{}, ovnetv1.ReasonInvalidGateway},
		{"node:address", ovnetv1.SubnetSpec{GatewayType: "centralized", GatewayNode: "n1:10.0.0.1"}, egressSpec{}, ovnetv1.ReasonInvalidGateway},
		{"bad name", ovnetv1.SubnetSpec{GatewayType: "centralized", GatewayNode: "N_1"}, egressSpec{}, ovnetv1.ReasonInvalidGateway},
		{"unknown type", ovnetv1.SubnetSpec{GatewayType: "centralised"}, egressSpec{}, ovnetv1.ReasonInvalidGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEgress(tt.spec)
			var se *specError
			switch {
			case tt.reason == "" && err != nil:
				t.Fatalf("parseEgress: %v", err)
			case tt.reason != "" && (!errors.As(err, &se) || se.Reason != tt.reason):
				t.Fatalf("parseEgress error %v, want reason %s", err, tt.reason)
			case got.centralized != tt.want.centralized || !slices.Equal(got.nodes, tt.want.nodes):
				t.Fatalf("parseEgress = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecideEgress(t *testing.T) {
	now := time.Now()
	ready := func(name string, in time.Duration) gatewayNode {
		return gatewayNode{name: name, join: netip.MustParseAddr("100.64.0.9"), ready: true, expires: now.Add(in)}
	}
	down := func(name, why string) gatewayNode {
		return gatewayNode{name: name, join: netip.MustParseAddr("100.64.0.8"), why: why}
	}
	central := egressSpec{centralized: true, nodes: []string{"a", "b", "c"}}
	tests := []struct {
		name       string
		spec       egressSpec
		nodes      []gatewayNode
		current    string
		active     string
		ready      bool
		recheck    time.Duration
		messageHas string
	}{
		{"distributed", egressSpec{}, nil, "", "", true, 0, "each pod runs on"},
		{"first ready wins", central, []gatewayNode{ready("a", 2*time.Second), ready("b", time.Second), down("c", "x")}, "b", "a", true, time.Second, "c: x"},
		{"first down", central, []gatewayNode{down("a", "uplink eth1 is down"), ready("b", time.Second), ready("c", time.Second)}, "a", "b", true, time.Second, "a: uplink eth1 is down"},
		{"none ready keeps the current", central, []gatewayNode{down("a", "x"), down("b", "y"), down("c", "z")}, "b", "b", false, 0, "stops"},
		{"none ready, none current: first listed", central, []gatewayNode{down("a", "x"), down("b", "y")}, "", "a", false, 0, "a: x; b: y"},
		{"none ready and no join address", central, []gatewayNode{{name: "a", why: "it has no join address yet"}}, "", "", false, 0, "no join address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := decideEgress(tt.spec, tt.nodes, tt.current, now)
			active := ""
			if st.active != nil {
				active = st.active.name
			}
			if active != tt.active || st.ready != tt.ready || st.recheck != tt.recheck || !strings.Contains(st.message, tt.messageHas) {
				t.Fatalf("decideEgress = active %q ready %v recheck %v message %q; want %q %v %v containing %q",
					active, st.ready, st.recheck, st.message, tt.active, tt.ready, tt.recheck, tt.messageHas)
			}
		})
	}
}
