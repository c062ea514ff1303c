package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/test/harness"
)

// TestTLS runs a node whose OVN connections are TLS alone, with a CA made
// here: the controller writes NB and ovn-northd translates NB into SB
// over ssl:, and ovnet-daemon, given --ovn-remote=ssl:... and the files,
// writes them into the Open_vSwitch SSL row, from which the chassis's
// ovn-controller connects to SB and claims the pods' ports; the pods
// then reach each other. `ovnet-daemon cleanup` removes the SSL row.
func TestTLS(t *testing.T) {
	pki := harness.NewOVNPKI(t)
	server := pki.Issue(t, "ovsdb-server")
	e := &env{t: t, ctx: context.Background()}
	e.api = harness.StartAPIServer(t, harness.APIServerOptions{})
	nb, sb := harness.StartNorthboundTLS(t, server), harness.StartSouthboundTLS(t, server)
	e.ovn = &harness.OVNCentral{NB: nb, SB: sb, Northd: harness.StartNorthdTLS(t, nb, sb, pki.Issue(t, "ovn-northd"))}
	c, err := client.New(e.api.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	e.ctrl = harness.StartControllerTLS(t, e.api, nb, pki.Issue(t, "ovnet-controller"), harness.DefaultNetwork())
	e.probe = harness.Build(t, "./test/image/probe", "probe")

	// The node's namespace has a loopback of its own: SB's pssl: port
	// is relayed into it, at the same address.
	netns := harness.NewNetNS(t)
	harness.RelayIntoNetNS(t, netns, sb.SSLEndpoint)
	files := pki.Issue(t, "n1")
	n := harness.StartNode(t, harness.NodeOptions{Name: "n1", API: e.api, SB: sb, NetNS: netns, DaemonArgs: []string{
		"--ovn-remote=" + sb.SSLEndpoint, "--encap-ip=127.0.0.1",
		"--ovn-ca-cert=" + files.CACert, "--ovn-cert=" + files.Certificate, "--ovn-private-key=" + files.PrivateKey}})
	want := fmt.Sprintf("Private key: %s\nCertificate: %s\nCA Certificate: %s\nBootstrap: false",
		files.PrivateKey, files.Certificate, files.CACert)
	if got := strings.TrimSpace(n.Chassis.Vsctl(t, "get-ssl")); got != want {
		t.Fatalf("ovs-vsctl get-ssl after the daemon's start:\n%s\nwant:\n%s", got, want)
	}
	if got := strings.TrimSpace(n.Chassis.Vsctl(t, "get", "Open_vSwitch", ".", "external_ids:ovn-remote")); got != `"`+sb.SSLEndpoint+`"` {
		t.Fatalf("ovn-remote %s, want %s", got, sb.SSLEndpoint)
	}
	e.eventually("ovn-controller connected to "+sb.SSLEndpoint, func() error {
		log, err := os.ReadFile(n.Chassis.LogDir + "/ovn-controller.log")
		if err != nil {
			return err
		}
		if !strings.Contains(string(log), sb.SSLEndpoint+": connected") {
			return fmt.Errorf("ovn-controller's log does not say %s: connected; it ends:\n%s", sb.SSLEndpoint, lastLines(string(log), 15))
		}
		return nil
	})

	rt := n.Runtime(t)
	a := rt.AddPod(t, e.pod("default", "a", "n1", nil))
	b := rt.AddPod(t, e.pod("default", "b", "n1", nil))
	for _, port := range []string{"a.default", "b.default"} {
		out, err := exec.Command("ovn-sbctl", "--db="+sb.Endpoint, "--timeout=10", "--bare", "--columns=chassis",
			"find", "Port_Binding", "logical_port="+port).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) == "" {
			t.Fatalf("Port_Binding %s has no chassis: %v %s", port, err, out)
		}
	}
	ping(t, a, b.IP.String())

	// `ovnet-daemon cleanup` removes the SSL row with the rest.
	n.StopDaemon(t)
	a.Forget()
	b.Forget()
	n.Chassis.StopController(t)
	out, err := runTool(harness.Build(t, "./cmd/daemon", "ovnet-daemon"), "cleanup", "--ovs-db="+n.Chassis.OVS.Endpoint,
		"--netns=/run/netns/"+n.Chassis.NetNS, "--socket="+n.Socket, "--cni-bin-dir="+n.CNIBinDir,
		"--cni-conf-dir="+n.CNIConfDir, "--ovn-rundir="+n.Chassis.LogDir)
	if err != nil || !strings.Contains(out, "ok   OVN TLS settings in Open_vSwitch") {
		t.Fatalf("cleanup: %v\n%s", err, out)
	}
	e.eventually("nothing of ovnet left on the node", func() error {
		if left := nodeLeftovers(t, n); len(left) > 0 {
			return fmt.Errorf("left: %s", strings.Join(left, "; "))
		}
		return nil
	})
}

// lastLines is the end of a log, for a failure message.
func lastLines(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
