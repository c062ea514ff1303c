package kubectlovnet

import (
	"bytes"
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

func TestParseTraceArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    traceArgs
		wantErr string
	}{
		{"icmp", []string{"a", "b"}, traceArgs{Pod: "a", Target: "b", Protocol: "icmp"}, ""},
		{"tcp", []string{"ns/a", "svc/ns/web", "TCP", "80"}, traceArgs{Pod: "ns/a", Target: "svc/ns/web", Protocol: "tcp", Port: 80}, ""},
		{"udp", []string{"a", "10.0.0.1", "udp", "53"}, traceArgs{Pod: "a", Target: "10.0.0.1", Protocol: "udp", Port: 53}, ""},
		{"sctp refused", []string{"a", "b", "sctp", "80"}, traceArgs{}, "want tcp or udp"},
		{"bad port", []string{"a", "b", "tcp", "70000"}, traceArgs{}, "want 1-65535"},
		{"three arguments", []string{"a", "b", "tcp"}, traceArgs{}, "got 3 arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTraceArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestMicroflow(t *testing.T) {
	mac, _ := net.ParseMAC("0a:00:00:00:00:01")
	from := tracePeer{Namespace: "ns", Name: "a", Port: "a.ns", Address: annotation.Address{
		Holding: annotation.Holding{IP: netip.MustParseAddr("10.16.0.3"), MAC: mac, LogicalSwitch: "ovn-default"}}}
	from6 := from
	from6.Address.IP = netip.MustParseAddr("fd00::3")
	tests := []struct {
		name string
		req  traceRequest
		want string
	}{
		{"tcp", traceRequest{From: from, Dst: netip.MustParseAddr("10.16.0.4"), Protocol: "tcp", Port: 80},
			`inport == "a.ns" && eth.src == 0a:00:00:00:00:01 && eth.dst == 0a:00:00:00:00:02 && ip4.src == 10.16.0.3 && ip4.dst == 10.16.0.4 && ip.ttl == 64 && tcp && tcp.src == 40000 && tcp.dst == 80`},
		{"icmp", traceRequest{From: from, Dst: netip.MustParseAddr("1.1.1.1"), Protocol: "icmp"},
			`inport == "a.ns" && eth.src == 0a:00:00:00:00:01 && eth.dst == 0a:00:00:00:00:02 && ip4.src == 10.16.0.3 && ip4.dst == 1.1.1.1 && ip.ttl == 64 && icmp4 && icmp4.type == 8 && icmp4.code == 0`},
		{"icmp6", traceRequest{From: from6, Dst: netip.MustParseAddr("fd00::4"), Protocol: "icmp"},
			`inport == "a.ns" && eth.src == 0a:00:00:00:00:01 && eth.dst == 0a:00:00:00:00:02 && ip6.src == fd00::3 && ip6.dst == fd00::4 && ip.ttl == 64 && icmp6 && icmp6.type == 128 && icmp6.code == 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.microflow("0a:00:00:00:00:02"); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// sampleTrace is the shape of ovn-trace 23.03's detailed output, cut down.
const sampleTrace = `# tcp,reg14=0x2,vlan_tci=0x0000,dl_src=32:5b:02:4c:47:37,nw_ttl=64,tp_src=40000,tp_dst=81

ingress(dp="ovn-default", inport="client.tr")
---------------------------------------------
 0. ls_in_port_sec_l2 (northd.c:5607): inport == "client.tr", priority 50, uuid 1a2b3c4d
    next;
 5. ls_in_pre_acl (northd.c:5950): ip, priority 100, uuid 2b3c4d5e
    reg0[0] = 1;
    next;
25. ls_in_l2_lkup (northd.c:9449): eth.dst == 0a:00:00:00:00:02, priority 50, uuid 3c4d5e6f
    outport = "server.tr";
    output;

egress(dp="ovn-default", inport="client.tr", outport="server.tr")
-----------------------------------------------------------------
 4. ls_out_acl (northd.c:6650): reg0[9] == 1 && (outport == @ovnet_deny_in_78), priority 2000, uuid 4d5e6f70
    /* drop */
`

func TestParseTrace(t *testing.T) {
	res := parseTrace(sampleTrace)
	if len(res.Flows) != 4 {
		t.Fatalf("%d flows, want 4: %+v", len(res.Flows), res.Flows)
	}
	last := res.Flows[3]
	if last.Stage != "ls_out_acl" || last.Priority != "2000" || last.UUID != "4d5e6f70" || !last.dropped() {
		t.Errorf("last flow %+v, want the dropping ls_out_acl 2000", last)
	}
	if !isACLStage("ls_out_acl") || !isACLStage("ls_in_pre_acl") || isACLStage("ls_in_acl_hint") || isACLStage("ls_in_l2_lkup") {
		t.Error("isACLStage wrong")
	}
}

func TestVerdict(t *testing.T) {
	pass := tracedFlow{Stage: "ls_in_l2_lkup", Actions: []string{"next;"}}
	out := func(port string) tracedFlow {
		return tracedFlow{Stage: "ls_out_port_sec_l2", Actions: []string{"output;", `/* output to "` + port + `", type "" */`}}
	}
	drop := tracedFlow{Stage: "ls_out_acl", Priority: "2000", Match: "outport == @deny", Actions: []string{"/* drop */"}}
	tests := []struct {
		name  string
		trace string
		want  string
	}{
		{"dropped on the same switch", sampleTrace, "dropped in ls_out_acl (priority 2000: reg0[9] == 1 && (outport == @ovnet_deny_in_78))"},
		{"output across the router", render(pass, out("ovn-default-ovn-cluster"), pass, out("ovn-cluster-ovn-default"), pass, out("server.tr")),
			"output to server.tr  (via ovn-default-ovn-cluster -> ovn-cluster-ovn-default)"},
		// The bug this guards: a packet that crossed the router and met
		// the destination switch's deny was reported as output to the router.
		{"dropped behind the router", render(pass, out("ovn-a-ovn-cluster"), pass, out("ovn-cluster-ovn-default"), pass, drop),
			"dropped in ls_out_acl (priority 2000: outport == @deny)  (via ovn-a-ovn-cluster -> ovn-cluster-ovn-default)"},
		{"a drop before the last output does not count", render(drop, pass, out("server.tr")), "output to server.tr"},
		{"nothing output", render(pass), "dropped (no flow output it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(parseTrace(tt.trace)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// render writes flows the way ovn-trace --detailed prints them.
func render(flows ...tracedFlow) string {
	var b strings.Builder
	for i, f := range flows {
		fmt.Fprintf(&b, "%2d. %s (northd.c:1): %s, priority %s, uuid %08x\n", i, f.Stage, cmp.Or(f.Match, "1"), cmp.Or(f.Priority, "50"), i)
		for _, a := range f.Actions {
			b.WriteString("    " + a + "\n")
		}
	}
	return b.String()
}

func TestWriteSubnets(t *testing.T) {
	off := false
	tests := []struct {
		name   string
		subnet ovnetv1.Subnet
		row    string
	}{
		{"distributed ready", ovnetv1.Subnet{
			ObjectMeta: metav1.ObjectMeta{Name: "a"},
			Spec:       ovnetv1.SubnetSpec{CIDR: "10.1.0.0/24"},
			Status: ovnetv1.SubnetStatus{Gateway: "10.1.0.1", UsedIPs: 3, AvailableIPs: 250, Conditions: []metav1.Condition{
				{Type: "Validated", Status: "True"}, {Type: "Ready", Status: "True"}, {Type: "GatewayReady", Status: "True"}}},
		}, `^a\s+10.1.0.0/24\s+10.1.0.1\s+distributed\s+on\s+3\s+250\s+ok$`},
		{"centralized active, NAT off", ovnetv1.Subnet{
			ObjectMeta: metav1.ObjectMeta{Name: "b"},
			Spec:       ovnetv1.SubnetSpec{CIDR: "10.2.0.0/24", GatewayType: "centralized", GatewayNode: "n2,n3", NATOutgoing: &off},
			Status:     ovnetv1.SubnetStatus{Gateway: "10.2.0.1", ActiveGateway: "n3", Conditions: []metav1.Condition{{Type: "Ready", Status: "True"}}},
		}, `^b\s+10.2.0.0/24\s+10.2.0.1\s+n3\s+off\s+0\s+0\s+ok$`},
		{"centralized none ready", ovnetv1.Subnet{
			ObjectMeta: metav1.ObjectMeta{Name: "c"},
			Spec:       ovnetv1.SubnetSpec{CIDR: "10.3.0.0/24", GatewayType: "centralized", GatewayNode: "n2"},
			Status: ovnetv1.SubnetStatus{Gateway: "10.3.0.1", Conditions: []metav1.Condition{
				{Type: "Ready", Status: "True"}, {Type: "GatewayReady", Status: "False", Reason: "NoGatewayReady"}}},
		}, `^c\s+10.3.0.0/24\s+10.3.0.1\s+none \(of n2\)\s+on\s+0\s+0\s+GatewayReady=False\(NoGatewayReady\)$`},
		{"not reconciled", ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: ovnetv1.SubnetSpec{CIDR: "10.4.0.0/24"}},
			`^d\s+10.4.0.0/24\s+-\s+distributed\s+on\s+0\s+0\s+Ready=Unknown\(not reconciled\)$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeSubnets(&b, []ovnetv1.Subnet{tt.subnet})
			lines := strings.Split(strings.TrimSpace(b.String()), "\n")
			if len(lines) != 2 || !regexp.MustCompile(tt.row).MatchString(lines[1]) {
				t.Errorf("table:\n%s\nwant a row matching %s", b.String(), tt.row)
			}
		})
	}
}

func TestParseMap(t *testing.T) {
	got := parseMap(`"ovnet.io/kind"=NetworkPolicy ovnet.io/name=allow-client stage-hint="4d5e6f70"`)
	if got["ovnet.io/kind"] != "NetworkPolicy" || got["ovnet.io/name"] != "allow-client" || got["stage-hint"] != "4d5e6f70" {
		t.Errorf("parseMap: %v", got)
	}
}

func TestResidentNote(t *testing.T) {
	tests := []struct {
		name, text, node string
		noted            bool
	}{
		{"the pod's node", `priority 29000  reroute 100.64.0.2  match ip4 && is_chassis_resident("node-n1")`, "n1", false},
		{"another node", `priority 29000  reroute 100.64.0.3  match ip4 && is_chassis_resident("node-n2")`, "n1", true},
		{"not bound to a chassis", `priority 31000  allow  match ip4.dst == 10.16.0.0/16`, "n1", false},
		{"pod not scheduled", `match is_chassis_resident("node-n2")`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := residentNote(tt.text, tt.node); (got != "") != tt.noted {
				t.Errorf("residentNote = %q, want noted %v", got, tt.noted)
			}
		})
	}
}
