package ovsdbserver

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	// electionTimeout bounds how long a cluster may go without a leader:
	// ovsdb-server's election timer is 1 s, so an election after a
	// leader's death takes a few seconds at most; this only catches a
	// cluster that lost its majority.
	electionTimeout = 30 * time.Second
	// joinTimeout bounds how long a member takes to become a cluster
	// member after it starts; joining needs a few round trips.
	joinTimeout = 30 * time.Second
)

// ClusterOptions say what to serve and with how many members.
type ClusterOptions struct {
	// Schema is the path of the .ovsschema file, such as NorthboundSchema.
	Schema string
	// Name prefixes each member's files: <Name>-<i>.db, .sock, .ctl, .log.
	Name string
	// Members is the cluster's size; 3 if zero.
	Members int
	// Dir holds the files; empty means a new short directory, removed at cleanup.
	Dir string
	// TLS, when set, makes every address ssl:: the members listen for
	// clients on pssl: alone and talk to each other over ssl:, with these
	// files (ovsdb-server uses one key and certificate for both).
	TLS *TLS
}

// Cluster is a Raft cluster of ovsdb-servers on 127.0.0.1, each member
// its own process with its own database file, as OVN central runs in
// production.
type Cluster struct {
	// Database is the schema's database name, e.g. OVN_Northbound.
	Database string
	// Members are the cluster's servers, in the order they were created:
	// the first created the cluster, the others joined it.
	Members []*Member
	env     Env
	schema  string
	tls     *TLS
}

// Member is one server of a cluster.
type Member struct {
	// Endpoint is its client address, "tcp:127.0.0.1:<port>" (ssl: with
	// ClusterOptions.TLS).
	Endpoint string
	// RaftAddress is where the other members reach it,
	// "tcp:127.0.0.1:<port>" (ssl: with ClusterOptions.TLS).
	RaftAddress string
	// Socket is a unix socket it serves too, for local tools.
	Socket string
	// Control is its unixctl socket, for ovs-appctl -t <Control>.
	Control string
	// LogFile is where it logs.
	LogFile string
	// DB is its database file.
	DB     string
	stderr string
	// proc is the running process; nil while it is stopped.
	proc *process
}

// StartCluster creates a cluster of opts.Members servers (ovsdb-tool
// create-cluster for the first, join-cluster for the others), starts
// every member, and returns once each is a cluster member and one leads.
// The members still running are stopped at cleanup.
func StartCluster(env Env, opts ClusterOptions) *Cluster {
	env.Helper()
	if opts.Members == 0 {
		opts.Members = 3
	}
	if opts.Name == "" {
		opts.Name = "db"
	}
	if _, err := os.Stat(opts.Schema); err != nil {
		env.Fatalf("schema %s: %v: %s", opts.Schema, err, installHint)
	}
	if opts.Dir == "" {
		opts.Dir = shortDir(env)
	}
	c := &Cluster{env: env, schema: opts.Schema, Database: schemaName(env, opts.Schema), tls: opts.TLS}
	scheme := "tcp:"
	if opts.TLS != nil {
		scheme = "ssl:"
	}
	for i := range opts.Members {
		base := filepath.Join(opts.Dir, fmt.Sprintf("%s-%d", opts.Name, i))
		c.Members = append(c.Members, &Member{
			Endpoint: scheme + freeAddr(env), RaftAddress: scheme + freeAddr(env),
			Socket: base + ".sock", Control: base + ".ctl", LogFile: base + ".log",
			DB: base + ".db", stderr: base + ".stderr",
		})
	}
	env.Cleanup(c.stop)
	for i, m := range c.Members {
		c.createDB(m, i == 0)
		c.Start(m)
	}
	for _, m := range c.Members {
		c.waitMember(m)
	}
	c.Leader()
	return c
}

// Remote is the comma-separated list of the members' endpoints, as
// ovn-northd, ovn-nbctl and ovnet-controller take it.
func (c *Cluster) Remote() string {
	eps := make([]string, len(c.Members))
	for i, m := range c.Members {
		eps[i] = m.Endpoint
	}
	return strings.Join(eps, ",")
}

// LocalRemote is the comma-separated list of the members' unix sockets:
// a test's own view of the cluster, needing no TLS files.
func (c *Cluster) LocalRemote() string {
	socks := make([]string, len(c.Members))
	for i, m := range c.Members {
		socks[i] = "unix:" + m.Socket
	}
	return strings.Join(socks, ",")
}

// SSLRemote is Remote when the members listen on pssl:, else empty.
func (c *Cluster) SSLRemote() string {
	if c.tls == nil {
		return ""
	}
	return c.Remote()
}

// createDB makes m's database file: a new cluster, or a request to join
// the one the other members form.
func (c *Cluster) createDB(m *Member, first bool) {
	c.env.Helper()
	args := []string{"create-cluster", m.DB, c.schema, m.RaftAddress}
	if !first {
		args = []string{"join-cluster", m.DB, c.Database, m.RaftAddress}
		for _, o := range c.Members {
			if o != m {
				args = append(args, o.RaftAddress)
			}
		}
	}
	if out, err := exec.Command(lookPath(c.env, "ovsdb-tool"), args...).CombinedOutput(); err != nil {
		c.env.Fatalf("ovsdb-tool %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Start runs m's server on its database file as it is: after Kill it
// rejoins with what it had.
func (c *Cluster) Start(m *Member) {
	c.env.Helper()
	if m.proc != nil {
		c.env.Fatalf("%s is already running", m)
	}
	port := m.Endpoint[strings.LastIndex(m.Endpoint, ":")+1:]
	args := []string{m.DB, "--remote=punix:" + m.Socket,
		"--unixctl=" + m.Control, "--log-file=" + m.LogFile, "-vconsole:off", "--no-chdir"}
	if c.tls != nil {
		args = append(args, "--remote=pssl:"+port+":127.0.0.1", "--private-key="+c.tls.PrivateKey,
			"--certificate="+c.tls.Certificate, "--ca-cert="+c.tls.CACert)
	} else {
		args = append(args, "--remote=ptcp:"+port+":127.0.0.1")
	}
	m.proc = start(c.env, lookPath(c.env, "ovsdb-server"), m.stderr, args...)
	m.proc.waitForSocket(c.env, "unix", m.Socket, m.LogFile)
}

// PID is m's process id; 0 while it is stopped.
func (m *Member) PID() int {
	if m.proc == nil {
		return 0
	}
	return m.proc.cmd.Process.Pid
}

// Running reports whether m's server runs.
func (m *Member) Running() bool { return m.proc != nil }

func (m *Member) String() string {
	return fmt.Sprintf("member %s (pid %d, log %s)", m.Endpoint, m.PID(), m.LogFile)
}

// Kill ends m's server with SIGKILL, as a crash or an OOM kill would, and
// waits until it is reaped.
func (c *Cluster) Kill(m *Member) {
	c.env.Helper()
	if m.proc == nil {
		c.env.Fatalf("%s is not running", m)
	}
	select {
	case <-m.proc.done:
		c.env.Fatalf("%s exited before it was killed: %v\n%s", m, m.proc.waitErr, tail(m.LogFile))
	default:
	}
	_ = m.proc.cmd.Process.Signal(syscall.SIGKILL)
	<-m.proc.done
	m.proc = nil
}

// RejoinEmpty replaces the stopped member m by a server with an empty
// database at the same address, as the chart's ovn-central pod does after
// its node lost the database: a new database joins the cluster, the new
// server catches up from the leader, and once it is a member it removes
// its former self (the old server id at its address), which the cluster
// would otherwise count as a member that never answers.
func (c *Cluster) RejoinEmpty(m *Member) {
	c.env.Helper()
	if m.proc != nil {
		c.env.Fatalf("%s must be stopped before it rejoins", m)
	}
	sid := dbSID(c.env, m.DB)
	if err := os.Remove(m.DB); err != nil {
		c.env.Fatalf("removing %s: %v", m.DB, err)
	}
	c.createDB(m, false)
	c.Start(m)
	c.waitMember(m)
	if out, err := c.appctl(m, "cluster/kick", c.Database, sid); err != nil {
		c.env.Fatalf("kicking %s out of %s: %v: %s", sid, c.Database, err, out)
	}
	c.waitGone(c.Leader(), sid)
}

// Leader waits until a running member says it leads and returns it.
func (c *Cluster) Leader() *Member {
	c.env.Helper()
	deadline := time.Now().Add(electionTimeout)
	for {
		for _, m := range c.Members {
			if m.proc == nil {
				continue
			}
			if out, err := c.appctl(m, "cluster/status", c.Database); err == nil && strings.Contains(out, "\nRole: leader\n") {
				return m
			}
		}
		if time.Now().After(deadline) {
			c.env.Fatalf("no leader of %s within %s", c.Database, electionTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Status is m's cluster/status, for a failure message.
func (c *Cluster) Status(m *Member) string {
	out, err := c.appctl(m, "cluster/status", c.Database)
	if err != nil {
		return fmt.Sprintf("%s: %v: %s", m, err, out)
	}
	return out
}

// waitMember waits until m says it is a cluster member (a joining server
// first says "joining cluster").
func (c *Cluster) waitMember(m *Member) {
	c.env.Helper()
	deadline := time.Now().Add(joinTimeout)
	for {
		out, err := c.appctl(m, "cluster/status", c.Database)
		if err == nil && strings.Contains(out, "\nStatus: cluster member\n") {
			return
		}
		if time.Now().After(deadline) {
			c.env.Fatalf("%s did not join %s within %s: %v\n%s\n%s", m, c.Database, joinTimeout, err, out, tail(m.LogFile))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGone waits until the leader's view of the cluster no longer lists sid.
func (c *Cluster) waitGone(leader *Member, sid string) {
	c.env.Helper()
	deadline := time.Now().Add(joinTimeout)
	for {
		out, err := c.appctl(leader, "cluster/status", c.Database)
		if err == nil && !strings.Contains(out, sid[:4]+" at ") {
			return
		}
		if time.Now().After(deadline) {
			c.env.Fatalf("%s still lists %s after the kick: %v\n%s", leader, sid, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *Cluster) appctl(m *Member, args ...string) (string, error) {
	out, err := exec.Command(lookPath(c.env, "ovs-appctl"), append([]string{"-t", m.Control, "--timeout=5"}, args...)...).CombinedOutput()
	return string(out), err
}

// stop ends every running member, reporting one that died unasked.
func (c *Cluster) stop() {
	for _, m := range c.Members {
		if m.proc != nil {
			m.proc.stop(c.env, m.LogFile)
			m.proc = nil
		}
	}
}

func schemaName(env Env, schema string) string {
	env.Helper()
	out, err := exec.Command(lookPath(env, "ovsdb-tool"), "schema-name", schema).Output()
	if err != nil {
		env.Fatalf("ovsdb-tool schema-name %s: %v", schema, err)
	}
	return strings.TrimSpace(string(out))
}

// dbSID is the server id recorded in a clustered database file.
func dbSID(env Env, db string) string {
	env.Helper()
	out, err := exec.Command(lookPath(env, "ovsdb-tool"), "db-sid", db).Output()
	if err != nil {
		env.Fatalf("ovsdb-tool db-sid %s: %v", db, err)
	}
	return strings.TrimSpace(string(out))
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(env Env) string {
	env.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		env.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
