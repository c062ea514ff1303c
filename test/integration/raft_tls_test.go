package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/ovnet/ovnet/test/harness"
)

// raftTLSKillAt is when, counted in created pods, TestRaftTLS kills the
// NB leader: a quarter in, so pods are created and addressed both before
// and after the election.
const raftTLSKillAt = 250

// TestRaftTLS runs NB and SB as 3-member Raft clusters whose members
// listen on pssl: alone and talk to each other over ssl:, with the
// controller and ovn-northd given every member's ssl: address and the
// CA's files. It creates 1000 pods across 10 namespaces and kills the NB
// leader a quarter in: every pod ends addressed with a unique address, NB
// holds exactly one port per pod, SB a binding per port, each Subnet's
// usage equals its pods, the killed member restarts and catches up over
// its ssl: link, and a client of another CA is refused by every member.
func TestRaftTLS(t *testing.T) {
	start := time.Now()
	pki := harness.NewOVNPKI(t)
	server := pki.Issue(t, "ovsdb-server")
	nb, sb := harness.StartNorthboundClusterTLS(t, server), harness.StartSouthboundClusterTLS(t, server)
	for _, c := range []*harness.OVSDBCluster{nb, sb} {
		// Every server the leader counts is reached over ssl:.
		if s := c.Status(c.Leader()); strings.Count(s, " at ssl:127.0.0.1:") != len(c.Members) || strings.Contains(s, " at tcp:") {
			t.Fatalf("%s's members are not all linked over ssl:\n%s", c.Database, s)
		}
	}
	ch := newRaftChurn(t, nb)
	northd := harness.StartNorthdTLS(t, nb, sb, pki.Issue(t, "ovn-northd"))
	r := startRaftRun(ch, nb, sb, northd,
		harness.StartControllerTLS(t, ch.api, nb, pki.Issue(t, "ovnet-controller"), harness.DefaultNetwork()))
	leader := r.killNBLeaderAt(raftTLSKillAt)
	nb.Start(leader) // it comes back with its database and catches up over ssl:

	pods, addressedIn := r.finish()
	ch.eventually("restarted NB member holds every pod port", func() error {
		return countPorts("unix:"+leader.Socket, "ovn-nbctl", "Logical_Switch_Port", "name", len(pods))
	})

	// The stranger trusts the servers' CA, so what refuses it is each
	// member, on the address every client is given.
	stranger := harness.NewOVNPKI(t).Issue(t, "stranger")
	stranger.CACert = server.CACert
	for _, c := range []*harness.OVSDBCluster{nb, sb} {
		for _, m := range c.Members {
			ch.refused(m.Endpoint, m.LogFile, stranger)
		}
	}
	t.Logf("FIGURE raft+TLS: %d pods in %d namespaces created and addressed in %s (NB leader killed), %d NB transaction errors; whole test %s",
		len(pods), len(ch.cidrs), addressedIn.Round(time.Millisecond), r.commits.errors(),
		time.Since(start).Round(time.Millisecond))
}
