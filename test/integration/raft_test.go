package integration

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/test/harness"
)

const (
	// When, counted in created pods out of 1000, each fault of
	// TestRaftLeaderLoss strikes: spread so that each lands while pods are
	// still being created and the previous one has settled.
	raftKillNBAt   = 250
	raftKillSBAt   = 500
	raftRejoinNBAt = 750
	// raftPace spaces pod creations: 1000 pods arrive over about 12 s, at
	// roughly the pace the controller addresses them, so each fault hits
	// both creation and addressing.
	raftPace = 12 * time.Millisecond
)

// TestRaftLeaderLoss creates 1000 pods across 10 namespaces against
// 3-member Raft clusters of NB and SB, with ovn-northd between them, and
// meanwhile kills the NB leader, then the SB leader (both with SIGKILL),
// then replaces the first killed NB member by one with an empty database.
// Every pod must end addressed with a unique address, NB must hold exactly
// one port per pod (and the rejoined member the same rows), SB a binding
// per port, and each Subnet's usage must equal its live pods.
func TestRaftLeaderLoss(t *testing.T) {
	start := time.Now()
	nb, sb := harness.StartNorthboundCluster(t), harness.StartSouthboundCluster(t)
	ch := newRaftChurn(t, nb)
	northd := harness.StartNorthd(t, nb, sb)
	r := startRaftRun(ch, nb, sb, northd, harness.StartController(t, ch.api, nb, harness.DefaultNetwork()))
	nbLeader := r.killNBLeaderAt(raftKillNBAt)

	ch.waitCreated(raftKillSBAt)
	sbLeader, at := sb.Leader(), ch.progress()
	sbElection, _ := killLeader(t, sb, nil)
	t.Logf("SB leader %s killed at %s: new leader elected in %s", sbLeader.Endpoint, at, sbElection)
	sb.Start(sbLeader) // it comes back with its database and catches up

	ch.waitCreated(raftRejoinNBAt)
	rejoinStart, at := time.Now(), ch.progress()
	nb.RejoinEmpty(nbLeader)
	t.Logf("NB member %s replaced by an empty one at %s: rejoined in %s",
		nbLeader.Endpoint, at, time.Since(rejoinStart).Round(time.Millisecond))

	pods, addressedIn := r.finish()
	ch.eventually("rejoined NB member holds every pod port", func() error {
		return countPorts(nbLeader.Endpoint, "ovn-nbctl", "Logical_Switch_Port", "name", len(pods))
	})
	t.Logf("raft: %d pods in %d namespaces created and addressed in %s (NB leader killed, SB leader killed, NB member rejoined empty), %d NB transaction errors; whole test %s",
		len(pods), len(ch.cidrs), addressedIn.Round(time.Millisecond), r.commits.errors(),
		time.Since(start).Round(time.Millisecond))
}

// raftRun is a churn against NB and SB Raft clusters with ovn-northd
// between them and a controller whose commits are watched, its pods
// being created in the background.
type raftRun struct {
	*churn
	nb, sb  *harness.OVSDBCluster
	northd  *harness.Northd
	commits *commitWatch
	// created gets createPods' result; createStart is when it began.
	created     chan error
	createStart time.Time
}

// startRaftRun makes the churn's namespaces and starts creating its pods.
func startRaftRun(ch *churn, nb, sb *harness.OVSDBCluster, northd *harness.Northd, ctrl *harness.Controller) *raftRun {
	r := &raftRun{churn: ch, nb: nb, sb: sb, northd: northd, commits: watchCommits(ch.t, ctrl), created: make(chan error, 1)}
	ch.makeNamespaces()
	r.createStart = time.Now()
	go func() { r.created <- ch.createPods(ch.pods) }()
	return r
}

// killNBLeaderAt waits until n pods exist, kills the NB leader (SIGKILL),
// logs how long the election and the controller's next commit took, and
// returns the killed member.
func (r *raftRun) killNBLeaderAt(n int) *harness.OVSDBMember {
	r.t.Helper()
	r.waitCreated(n)
	leader, at := r.nb.Leader(), r.progress()
	election, gap := killLeader(r.t, r.nb, r.commits)
	r.t.Logf("FIGURE NB leader %s killed at %s: new leader elected in %s, controller's first commit after %s",
		leader.Endpoint, at, election, gap)
	return leader
}

// finish waits until every pod is created and addressed, then checks that
// the addresses are unique and as asked, that NB holds one port per pod
// and SB a binding per port, that each Subnet's usage equals its pods and
// that ovn-northd lives; it returns the pods and how long addressing
// them all took from the first creation.
func (r *raftRun) finish() (map[string]metav1.PartialObjectMetadata, time.Duration) {
	r.t.Helper()
	if err := <-r.created; err != nil {
		r.t.Fatal(err)
	}
	r.waitAddressed(len(r.live))
	addressedIn := time.Since(r.createStart)
	pods := r.checkPods()
	r.checkPorts(pods)
	r.checkUsage()
	r.eventually("SB binds every pod port", func() error {
		return countPorts(r.sb.LocalRemote(), "ovn-sbctl", "Port_Binding", "logical_port", len(pods))
	})
	if err := syscallAlive(r.northd.PID); err != nil {
		r.t.Errorf("ovn-northd: %v", err)
	}
	return pods, addressedIn
}

// newRaftChurn is newChurn against the Raft cluster nb: the API server
// and a view of NB that follows its leader through the members' unix
// sockets, which need no TLS files.
func newRaftChurn(t *testing.T, nb *harness.OVSDBCluster) *churn {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), timeout: churnTimeout}
	e.api = harness.StartAPIServer(t, harness.APIServerOptions{})
	e.view = harness.WatchNorthbound(t, nb.LocalRemote())
	c, err := client.New(e.api.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return &churn{env: e, cidrs: map[string]netip.Prefix{}, live: map[string]bool{}, pace: raftPace}
}

// waitCreated waits until n of the test's pods exist.
func (ch *churn) waitCreated(n int) {
	ch.t.Helper()
	ch.eventually(fmt.Sprintf("%d pods created", n), func() error {
		if got := ch.liveCount(); got < n {
			return fmt.Errorf("%d pods created", got)
		}
		return nil
	})
}

// progress says how many of the test's pods exist and how many carry
// their address now.
func (ch *churn) progress() string {
	ch.t.Helper()
	pods, err := ch.listPods()
	if err != nil {
		ch.t.Fatal(err)
	}
	n := 0
	for _, p := range pods {
		if p.Annotations[annotation.Allocated] == annotation.True {
			n++
		}
	}
	return fmt.Sprintf("%d pods created, %d addressed", len(pods), n)
}

// killLeader kills the cluster's leader with SIGKILL and returns how long
// the others took to elect a new one and, with commits, how long the
// controller went from the kill to its next successful NB transaction.
func killLeader(t *testing.T, c *harness.OVSDBCluster, commits *commitWatch) (election, gap time.Duration) {
	t.Helper()
	leader := c.Leader()
	killed := time.Now()
	c.Kill(leader)
	// No commit can happen before an election, which takes at least the
	// 1 s election timer: counting a few samples after the kill takes in
	// every commit made before it.
	time.Sleep(3 * commitSample)
	var before uint64
	if commits != nil {
		before = commits.successes()
	}
	c.Leader()
	election = time.Since(killed).Round(time.Millisecond)
	if commits != nil {
		gap = commits.nextAfter(t, before, killed).Round(time.Millisecond)
	}
	return election, gap
}

// countPorts checks that the database at remote holds want rows of table
// whose column names a churn pod's port ("<pod>.churn-<i>").
func countPorts(remote, tool, table, column string, want int) error {
	out, err := exec.Command(tool, "--db="+remote, "--no-leader-only", "--timeout=10", "--format=csv",
		"--data=bare", "--no-headings", "--columns="+column, "list", table).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s list %s: %v: %s", tool, table, err, out)
	}
	got := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, ".churn-") {
			got++
		}
	}
	if got != want {
		return fmt.Errorf("%s at %s: %d pod ports, want %d", table, remote, got, want)
	}
	return nil
}

// commitWatch samples the controller's NB transaction metrics, so a test
// sees when commits stop and start again.
type commitWatch struct {
	mu sync.Mutex
	// last is the count of successful transactions, first seen at lastSeen.
	last     uint64
	lastSeen time.Time
	// errs is the count of failed transactions.
	errs uint64
}

// commitSample is how often the watch samples: fine enough to time an
// election gap of a second or more to within a few percent.
const commitSample = 10 * time.Millisecond

func watchCommits(t *testing.T, ctrl *harness.Controller) *commitWatch {
	w := &commitWatch{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			total, errs := ctrl.NBTransactionCounts(t)
			w.mu.Lock()
			if ok := total - errs; ok != w.last {
				w.last, w.lastSeen = ok, time.Now()
			}
			w.errs = errs
			w.mu.Unlock()
			time.Sleep(commitSample)
		}
	}()
	return w
}

func (w *commitWatch) successes() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func (w *commitWatch) errors() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errs
}

// nextAfter waits until the successes pass before and returns how long
// after since that was first seen.
func (w *commitWatch) nextAfter(t *testing.T, before uint64, since time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(churnTimeout)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		last, seen := w.last, w.lastSeen
		w.mu.Unlock()
		if last > before && seen.After(since) {
			return seen.Sub(since)
		}
		time.Sleep(commitSample)
	}
	t.Fatalf("the controller committed nothing to NB within %s of the leader's kill", churnTimeout)
	return 0
}

// syscallAlive reports an error unless the process pid exists.
func syscallAlive(pid int) error {
	if err := syscall.Kill(pid, 0); err != nil {
		return fmt.Errorf("pid %d gone: %w", pid, err)
	}
	return nil
}
