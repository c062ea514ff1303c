package e2e

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// raftNodes is the cluster size: three members, one per node.
	raftNodes = 3
	// centralSelector selects the ovn-central pods.
	centralSelector = "app.kubernetes.io/component=ovn-central"
	// electionTimeout bounds how long the members left take to elect a
	// new leader; ovsdb-server's election timer is 1 s.
	electionTimeout = 30 * time.Second
)

// raftDB is one of OVN central's databases as the chart runs it.
type raftDB struct {
	name    string // OVN_Northbound
	file    string // the database file, in the member's dataDir
	control string // the unixctl socket in the member's pod
	dbCtr   string // the container serving it
	port    int    // where clients reach it
}

var (
	raftNB = raftDB{"OVN_Northbound", "/var/lib/ovn/ovnnb_db.db", "/run/ovn/ovnnb_db.ctl", "nb-db", 6641}
	raftSB = raftDB{"OVN_Southbound", "/var/lib/ovn/ovnsb_db.db", "/run/ovn/ovnsb_db.ctl", "sb-db", 6642}
)

// TestHelmRaft installs ovnet with TLS for OVN (ovn.tls, a CA made here)
// and OVN central standalone (one pod on the control-plane node) and
// upgrades it to Raft clusters (ovn.central.replicas=3, one member per
// node, every client given every member's ssl: address, the members
// linked over ssl:) while pods on two nodes ping each other: the
// standalone databases seed the clusters, so no northbound row changes and
// no pod is re-addressed. Then, with pings running again, it kills the NB
// leader's ovsdb-server and then the SB leader's (SIGKILL, by PID): a new
// leader is elected, the killed member's container restarts and rejoins,
// a pod created after each kill is addressed, bound and reached, and the
// running pings lose nothing. Last, one member's database file is deleted
// before its server is killed: it rejoins empty, removes its former server
// id, and the cluster counts three members again. Last, a client whose
// certificate comes from another CA is refused by every member of both
// databases, and an upgrade turning TLS off under the running clusters is
// refused.
func TestHelmRaft(t *testing.T) {
	c := bareCluster(t, raftNodes, "e2e")
	c.useTLS(t)
	c.install(t, "e2e")
	pods := c.podPerNode(t, "raft")
	a, b := pods[0], pods[1]
	c.ping(t, a, b)
	c.upgradeToRaft(t, a, b)

	pings := []*pingStream{c.startPing(t, a, b), c.startPing(t, b, a)}
	for i, db := range []raftDB{raftNB, raftSB} {
		leader := c.raftLeader(t, db)
		killed := time.Now()
		c.killMember(t, db, leader.node)
		next := c.waitNewLeader(t, db, leader)
		elected := time.Since(killed)
		p, addressed := c.podOn(t, fmt.Sprintf("raft-after-%d", i), c.Nodes[2].Name)
		running := since(killed)
		c.ping(t, a, p)
		t.Logf("FIGURE Raft %s: leader on %s killed; %s leads after %s; a new pod on %s addressed %s, Running %s and reached %s after the kill",
			db.name, leader, next, elected.Round(100*time.Millisecond), p.node,
			addressed.Sub(killed).Round(100*time.Millisecond), running, since(killed))
		c.waitMembers(t, db, raftNodes)
	}
	time.Sleep(time.Second) // the last pings get their answer
	for _, p := range pings {
		res := p.stop(t)
		t.Logf("FIGURE Raft: %s -> %s while the NB and SB leaders were killed: %d of %d lost, longest outage %s",
			p.from.node, p.to.node, res.lost, res.sent, res.outage)
		if res.lost > 0 {
			t.Errorf("%s -> %s lost %d of %d pings while OVN central's leaders were killed", p.from.name, p.to.name, res.lost, res.sent)
		}
	}

	follower := c.raftFollower(t, raftNB)
	start := time.Now()
	// The chart's ovn.central.dataDir on the node is the container's /var/lib/ovn.
	onNode := strings.Replace(raftNB.file, "/var/lib/ovn/", "/var/lib/ovnet/ovn/", 1)
	if _, err := c.node(follower).Exec("rm", onNode); err != nil {
		t.Fatal(err)
	}
	c.killMember(t, raftNB, follower)
	c.waitMembers(t, raftNB, raftNodes)
	p, _ := c.podOn(t, "raft-after-rejoin", follower)
	c.ping(t, a, p)
	t.Logf("FIGURE Raft %s: member on %s lost its database; rejoined, three members again, a new pod there reached %s after",
		raftNB.name, follower, since(start))

	for _, db := range []raftDB{raftNB, raftSB} {
		for _, n := range c.Nodes {
			c.strangerRefused(t, db, n)
		}
	}
	// The running members' links are ssl:; an upgrade turning TLS off
	// would leave them so while every client went tcp:.
	files := c.tls
	c.tls = nil
	out, err := c.tryHelm(t, "upgrade", "ovnet", chartDir(t), c.raftValues()...)
	c.tls = files
	if err == nil || !strings.Contains(out, "would move the running Raft clusters of deployment/ovn-central from ssl: to tcp: links") {
		t.Errorf("helm upgrade turning TLS off under the Raft clusters: %v\n%s", err, out)
	}
}

// strangerRefused checks that db's member on node refuses a client whose
// certificate comes from another CA (one trusting the members' CA, so
// what refuses is the member), and says why in its log; the same call
// with the release's certificate goes through.
func (c *helmCluster) strangerRefused(t *testing.T, db raftDB, node *harness.KubeNode) {
	t.Helper()
	stranger := harness.NewOVNPKI(t).Issue(t, "stranger")
	remote := fmt.Sprintf("ssl:%s:%d", node.Addr.Addr(), db.port)
	listDBs := func(key, cert string) (string, error) {
		return c.Nodes[0].Exec("ovsdb-client", "--timeout=10", "--private-key="+key, "--certificate="+cert,
			"--ca-cert="+c.tls.CACert, "list-dbs", remote)
	}
	if out, err := listDBs(c.tls.PrivateKey, c.tls.Certificate); err != nil || !strings.Contains(out, db.name) {
		t.Fatalf("the release's certificate to %s: %v: %s", remote, err, out)
	}
	before := c.refusals(t, db, node.Name)
	if out, err := listDBs(stranger.PrivateKey, stranger.Certificate); err == nil {
		t.Fatalf("a certificate of another CA listed %s's databases: %s", remote, out)
	}
	wait.For(t, 10*time.Second, fmt.Sprintf("%s's refusal of the stranger in its log", remote), func() error {
		if n := c.refusals(t, db, node.Name); n <= before {
			return fmt.Errorf("%d lines %q in its log, as before", n, certificateRefused)
		}
		return nil
	})
}

// certificateRefused is what ovsdb-server (OpenSSL) logs when a client's
// certificate does not chain to its CA.
const certificateRefused = "certificate verify failed"

// refusals counts the refused client certificates in the log of db's
// container on node.
func (c *helmCluster) refusals(t *testing.T, db raftDB, node string) int {
	t.Helper()
	pod, err := c.centralPod(t, node)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Kubectl("-n", releaseNamespace, "logs", pod, "-c", db.dbCtr)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(out, certificateRefused)
}

// node is the KubeNode named name.
func (c *helmCluster) node(name string) *harness.KubeNode {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	panic("no node " + name)
}

// clusterStatus is db's cluster/status as the member on node reports it.
func (c *helmCluster) clusterStatus(t *testing.T, db raftDB, node string) (string, error) {
	t.Helper()
	pod, err := c.centralPod(t, node)
	if err != nil {
		return "", err
	}
	return c.Kubectl("-n", releaseNamespace, "exec", pod, "-c", db.dbCtr, "--",
		"ovn-appctl", "-t", db.control, "cluster/status", db.name)
}

// centralPod is the name of the ovn-central pod on node.
func (c *helmCluster) centralPod(t *testing.T, node string) (string, error) {
	t.Helper()
	list, err := c.Clientset(t).CoreV1().Pods(releaseNamespace).List(context.Background(),
		metav1.ListOptions{LabelSelector: centralSelector, FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return "", err
	}
	for _, p := range list.Items {
		if p.Status.Phase == corev1.PodRunning {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no running ovn-central pod on %s", node)
}

// raftLeadership is who leads a database and in which Raft term.
type raftLeadership struct {
	node string
	term int
}

func (l raftLeadership) String() string { return fmt.Sprintf("%s (term %d)", l.node, l.term) }

// raftLeader waits until a member says it leads db.
func (c *helmCluster) raftLeader(t *testing.T, db raftDB) raftLeadership {
	t.Helper()
	return c.waitNewLeader(t, db, raftLeadership{})
}

// waitNewLeader waits until a member leads db in a later term than old:
// a new election was won. The winner may be old's own member, restarted
// by the kubelet within the election timeout and first to stand.
func (c *helmCluster) waitNewLeader(t *testing.T, db raftDB, old raftLeadership) raftLeadership {
	t.Helper()
	var leader raftLeadership
	wait.For(t, electionTimeout, db.name+" leader after "+old.String(), func() error {
		var seen []string
		for _, n := range c.Nodes {
			out, err := c.clusterStatus(t, db, n.Name)
			if err != nil {
				seen = append(seen, fmt.Sprintf("%s: %v", n.Name, err))
				continue
			}
			role, term := raftRole(out)
			if role == "leader" && term > old.term {
				leader = raftLeadership{node: n.Name, term: term}
				return nil
			}
			seen = append(seen, fmt.Sprintf("%s: %s in term %d", n.Name, role, term))
		}
		return fmt.Errorf("no leader after term %d: %s", old.term, strings.Join(seen, "; "))
	})
	return leader
}

// raftRole reads a member's role and current term from its cluster/status.
func raftRole(status string) (role string, term int) {
	for line := range strings.Lines(status) {
		key, value, _ := strings.Cut(strings.TrimSpace(line), ": ")
		switch key {
		case "Role":
			role = value
		case "Term":
			term, _ = strconv.Atoi(value)
		}
	}
	return role, term
}

// raftFollower returns a node whose member follows db's leader.
func (c *helmCluster) raftFollower(t *testing.T, db raftDB) string {
	t.Helper()
	leader := c.raftLeader(t, db)
	for _, n := range c.Nodes {
		if n.Name != leader.node {
			return n.Name
		}
	}
	t.Fatalf("no follower of %s", db.name)
	return ""
}

// waitMembers waits until every member reports itself a cluster member
// and the leader counts exactly n servers (a rejoined member's former
// server id removed).
func (c *helmCluster) waitMembers(t *testing.T, db raftDB, n int) {
	t.Helper()
	wait.For(t, rolloutTimeout, fmt.Sprintf("%d members of %s", n, db.name), func() error {
		for _, node := range c.Nodes {
			out, err := c.clusterStatus(t, db, node.Name)
			if err != nil {
				return err
			}
			if !strings.Contains(out, "\nStatus: cluster member\n") {
				return fmt.Errorf("%s not a member yet:\n%s", node.Name, out)
			}
			if strings.Contains(out, "\nRole: leader\n") {
				if got := strings.Count(out, " at "+c.ovnScheme()); got != n {
					return fmt.Errorf("the leader on %s counts %d servers, want %d:\n%s", node.Name, got, n, out)
				}
			}
		}
		return nil
	})
}

// killMember kills db's ovsdb-server on node with SIGKILL, by its PID on
// the host, and waits until it is gone; the kubelet restarts its container.
func (c *helmCluster) killMember(t *testing.T, db raftDB, node string) {
	t.Helper()
	pids, err := c.node(node).ProcessesRunning("ovsdb-server", db.file)
	if err != nil || len(pids) != 1 {
		t.Fatalf("%s's ovsdb-server on %s: pids %v, %v", db.name, node, pids, err)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatalf("killing %s's ovsdb-server (pid %d) on %s: %v", db.name, pids[0], node, err)
	}
	wait.For(t, 10*time.Second, fmt.Sprintf("pid %d gone", pids[0]), func() error {
		if err := syscall.Kill(pids[0], 0); err == nil {
			return fmt.Errorf("pid %d still there", pids[0])
		}
		return nil
	})
}

// podOn creates a pod on node, waits until it runs, and returns it with
// its address and when the controller recorded that address.
func (c *helmCluster) podOn(t *testing.T, name, node string) (p testPod, addressed time.Time) {
	t.Helper()
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: default
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 0
  containers:
  - name: tools
    image: local.test/tools:1
    imagePullPolicy: Never
    command: ["sleep", "3600"]
`, name, node)
	if out, err := c.KubectlIn(manifest, "create", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	wait.For(t, podsTimeout, "pod "+name+" addressed", func() error {
		pod, err := c.Clientset(t).CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pod.Annotations[annotation.Allocated] != annotation.True {
			return fmt.Errorf("annotations %v", pod.Annotations)
		}
		return nil
	})
	addressed = time.Now()
	if out, err := c.Kubectl("wait", "--for=condition=Ready", "--timeout="+podsTimeout.String(), "pod/"+name); err != nil {
		describe, _ := c.Kubectl("describe", "pod", name)
		t.Fatalf("%v\n%s\n%s", err, out, describe)
	}
	return testPod{name: name, node: node, ip: c.podAddress(t, name)}, addressed
}

// raftValues are the values of OVN central as Raft clusters, one member
// on every node, which every client reaches directly: no Service, no
// kube-proxy.
func (c *helmCluster) raftValues() []string {
	var ips []string
	for _, n := range c.Nodes {
		ips = append(ips, n.Addr.Addr().String())
	}
	return []string{"--set", "image.tag=e2e",
		"--set", "ovn.central.replicas=3", "--set", "ovn.central.nodeIPs={" + strings.Join(ips, ",") + "}",
		"--set", "ovn.central.affinity=null", "--set", "ovn.nbAddress=", "--set", "ovn.sbAddress="}
}

// upgradeToRaft upgrades the release from a standalone OVN central to Raft
// clusters on every node while a pings b and back, and checks that the
// clusters hold the standalone databases' rows and no pod changed address.
func (c *helmCluster) upgradeToRaft(t *testing.T, a, b testPod) {
	t.Helper()
	rows := c.nbRows(t)
	pings := []*pingStream{c.startPing(t, a, b), c.startPing(t, b, a)}
	start := time.Now()
	c.helm(t, "upgrade", "ovnet", chartDir(t), c.raftValues()...)
	for _, workload := range []string{"deployment/ovn-central", "daemonset/ovnet-node", "deployment/ovnet-controller"} {
		if out, err := c.Kubectl("-n", releaseNamespace, "rollout", "status", workload, "--timeout="+rolloutTimeout.String()); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	for _, db := range []raftDB{raftNB, raftSB} {
		c.waitMembers(t, db, raftNodes)
	}
	t.Logf("FIGURE Raft: standalone OVN central upgraded to 3-member clusters in %s", since(start))
	time.Sleep(time.Second) // the last pings get their answer
	for _, p := range pings {
		res := p.stop(t)
		t.Logf("FIGURE Raft: %s -> %s during the upgrade to Raft: %d of %d lost, longest outage %s",
			p.from.node, p.to.node, res.lost, res.sent, res.outage)
	}
	c.nbRemote = ""
	for i, n := range c.Nodes {
		if i > 0 {
			c.nbRemote += ","
		}
		c.nbRemote += c.ovnScheme() + n.Addr.Addr().String() + ":6641"
	}
	if after := c.nbRows(t); !maps.Equal(after, rows) {
		t.Errorf("northbound rows changed by the upgrade to Raft:\nbefore %v\nafter  %v", rows, after)
	}
	for _, p := range []testPod{a, b} {
		if ip := c.podAddress(t, p.name); ip != p.ip {
			t.Errorf("pod %s re-addressed by the upgrade to Raft: %s, was %s", p.name, ip, p.ip)
		}
	}
}

func TestRaftRole(t *testing.T) {
	tests := []struct {
		name, status, role string
		term               int
	}{
		{"leader", "Name: OVN_Northbound\nStatus: cluster member\nRole: leader\nTerm: 4\nLeader: self\n", "leader", 4},
		{"follower", "Status: cluster member\nRole: follower\nTerm: 12\nLeader: 4e57\n", "follower", 12},
		{"candidate without a term line", "Role: candidate\n", "candidate", 0},
		{"not a status", "ovn-appctl: cannot connect\n", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if role, term := raftRole(tt.status); role != tt.role || term != tt.term {
				t.Errorf("raftRole = %q, %d; want %q, %d", role, term, tt.role, tt.term)
			}
		})
	}
}
