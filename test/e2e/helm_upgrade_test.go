package e2e

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// pingInterval is the probes' interval; an outage is seen to within it.
	pingInterval = 100 * time.Millisecond
	// rolloutTimeout bounds a DaemonSet's or Deployment's roll.
	rolloutTimeout = 3 * time.Minute
	// ovsSelector selects the Open vSwitch pods (DaemonSet ovnet-ovs).
	ovsSelector = "app.kubernetes.io/component=ovs"
)

// nbTables are the northbound tables whose rows an upgrade must keep.
var nbTables = []string{"Logical_Switch", "Logical_Switch_Port", "Logical_Router", "Logical_Router_Port"}

// TestHelmUpgrade upgrades ovnet with `helm upgrade --set image.tag=` to an
// image built from the same tree under another tag, while a pod on each
// node pings the pod on the other: the daemon's DaemonSet and the
// controller roll, no ping is lost, no pod changes address and no
// northbound row is recreated. Open vSwitch (DaemonSet ovnet-ovs,
// OnDelete) does not restart with the upgrade; deleting its pod on a node,
// as an operator does to upgrade it, costs that node's pods an outage,
// which the test measures and prints.
func TestHelmUpgrade(t *testing.T) {
	const next = "e2e-next"
	c := installedCluster(t, 2, "e2e", next)
	pods := c.podPerNode(t, "up")
	a, b := pods[0], pods[1]
	c.ping(t, a, b)
	rows := c.nbRows(t)
	ovsPods := c.podNames(t, ovsSelector)

	pings := []*pingStream{c.startPing(t, a, b), c.startPing(t, b, a)}
	start := time.Now()
	c.helm(t, "upgrade", "ovnet", chartDir(t), "--set", "image.tag="+next)
	for _, workload := range []string{"daemonset/ovnet-node", "deployment/ovnet-controller"} {
		if out, err := c.Kubectl("-n", releaseNamespace, "rollout", "status", workload, "--timeout="+rolloutTimeout.String()); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	rolled := time.Since(start)
	time.Sleep(time.Second) // pings sent at the end of the roll get their answer
	for _, p := range pings {
		res := p.stop(t)
		t.Logf("FIGURE helm upgrade: %s -> %s during the roll (%s): %d of %d lost, longest outage %s",
			p.from.node, p.to.node, rolled.Round(100*time.Millisecond), res.lost, res.sent, res.outage)
		if res.lost > 0 {
			t.Errorf("%s -> %s lost %d of %d pings during the upgrade (longest outage %s)", p.from.name, p.to.name, res.lost, res.sent, res.outage)
		}
	}
	t.Logf("FIGURE helm upgrade: daemon and controller rolled in %s", rolled.Round(100*time.Millisecond))

	c.checkImages(t, "app.kubernetes.io/component=node", next)
	c.checkImages(t, "app.kubernetes.io/component=controller", next)
	if got := c.podNames(t, ovsSelector); !maps.Equal(got, ovsPods) {
		t.Errorf("Open vSwitch pods %v replaced by the upgrade (%v); want them kept (OnDelete)", ovsPods, got)
	}
	for _, p := range pods {
		if ip := c.podAddress(t, p.name); ip != p.ip {
			t.Errorf("pod %s re-addressed by the upgrade: %s, was %s", p.name, ip, p.ip)
		}
	}
	if after := c.nbRows(t); !maps.Equal(after, rows) {
		t.Errorf("northbound rows changed by the upgrade:\nbefore %v\nafter  %v", rows, after)
	}

	c.restartOVS(t, b, a)
}

// restartOVS deletes the Open vSwitch pod on pod on's node, as an operator
// upgrading it does (OnDelete), while from pings on, and prints the outage.
func (c *helmCluster) restartOVS(t *testing.T, on, from testPod) {
	t.Helper()
	out, err := c.Kubectl("-n", releaseNamespace, "get", "pods", "-l", ovsSelector,
		"--field-selector", "spec.nodeName="+on.node, "-o", "name")
	if err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("Open vSwitch pod on %s: %v: %q", on.node, err, out)
	}
	old := strings.TrimSpace(out)
	p := c.startPing(t, from, on)
	start := time.Now()
	if out, err := c.Kubectl("-n", releaseNamespace, "delete", old, "--wait=true"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	wait.For(t, rolloutTimeout, "a new Open vSwitch pod Ready on "+on.node, func() error {
		return c.replacedReady(t, on.node, strings.TrimPrefix(old, "pod/"))
	})
	wait.For(t, time.Minute, from.name+" reaches "+on.name+" again", func() error {
		out, err := c.Kubectl("exec", from.name, "--", "ping", "-c", "1", "-W", "1", on.ip.String())
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	back := time.Since(start)
	time.Sleep(time.Second)
	res := p.stop(t)
	t.Logf("FIGURE Open vSwitch pod on %s deleted: back in %s; %s -> %s lost %d of %d pings, longest outage %s",
		on.node, back.Round(100*time.Millisecond), from.node, on.node, res.lost, res.sent, res.outage)
}

// replacedReady returns nil once an Open vSwitch pod other than old runs
// Ready on node.
func (c *helmCluster) replacedReady(t *testing.T, node, old string) error {
	list, err := c.Clientset(t).CoreV1().Pods(releaseNamespace).List(context.Background(),
		metav1.ListOptions{LabelSelector: ovsSelector, FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return err
	}
	for _, p := range list.Items {
		if p.Name == old {
			continue
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("pod %s not Ready yet", p.Name)
	}
	return fmt.Errorf("no new pod yet")
}

// pingStream is ping running in a pod in the background.
type pingStream struct {
	c        *helmCluster
	from, to testPod
}

// pingResult is what a stopped pingStream saw.
type pingResult struct {
	sent, lost int
	outage     time.Duration
}

// startPing starts from pinging to every pingInterval.
func (c *helmCluster) startPing(t *testing.T, from, to testPod) *pingStream {
	t.Helper()
	script := fmt.Sprintf("ping -i %g %s >/tmp/ping.log 2>&1 </dev/null &", pingInterval.Seconds(), to.ip)
	if out, err := c.Kubectl("exec", from.name, "--", "sh", "-c", script); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return &pingStream{c: c, from: from, to: to}
}

// seqLine matches a reply line of busybox ping.
var seqLine = regexp.MustCompile(`seq=(\d+) `)

// stop ends the ping and counts the replies: a probe is lost when a later
// one was answered and it was not (the last, in flight, is not counted).
func (p *pingStream) stop(t *testing.T) pingResult {
	t.Helper()
	out, err := p.c.Kubectl("exec", p.from.name, "--", "sh", "-c", "kill -INT $(pidof ping); sleep 0.3; cat /tmp/ping.log")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	answered := map[int]bool{}
	last := -1
	for _, m := range seqLine.FindAllStringSubmatch(out, -1) {
		seq, _ := strconv.Atoi(m[1])
		answered[seq] = true
		last = max(last, seq)
	}
	if last < 0 {
		t.Fatalf("%s -> %s: no reply at all:\n%s", p.from.name, p.to.name, out)
	}
	res := pingResult{sent: last + 1}
	run := 0
	for seq := 0; seq <= last; seq++ {
		if answered[seq] {
			run = 0
			continue
		}
		res.lost++
		run++
		res.outage = max(res.outage, time.Duration(run)*pingInterval)
	}
	return res
}

// nbRows maps "table/name" to the row's UUID for nbTables, read on node-1
// where OVN central listens (or at nbRemote, a Raft cluster's members).
func (c *helmCluster) nbRows(t *testing.T) map[string]string {
	t.Helper()
	rows := map[string]string{}
	db := "--db=" + c.ovnScheme() + c.APIServerHost() + ":6641"
	if c.nbRemote != "" {
		db = "--db=" + c.nbRemote
	}
	for _, table := range nbTables {
		args := append([]string{"ovn-nbctl", db, "--timeout=10"}, c.ovnTLSArgs()...)
		out, err := c.Nodes[0].Exec(append(args, "--format=csv", "--no-headings", "--columns=name,_uuid", "list", table)...)
		if err != nil {
			t.Fatalf("%v", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if name, uuid, ok := strings.Cut(line, ","); ok {
				rows[table+"/"+strings.Trim(name, `"`)] = uuid
			}
		}
	}
	return rows
}

// podNames is the set of names of the release's pods matching selector.
func (c *helmCluster) podNames(t *testing.T, selector string) map[string]bool {
	t.Helper()
	list, err := c.Clientset(t).CoreV1().Pods(releaseNamespace).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("%v", err)
	}
	names := map[string]bool{}
	for _, p := range list.Items {
		names[p.Name] = true
	}
	return names
}

// checkImages asserts every container of the pods matching selector runs
// the image tagged tag.
func (c *helmCluster) checkImages(t *testing.T, selector, tag string) {
	t.Helper()
	list, err := c.Clientset(t).CoreV1().Pods(releaseNamespace).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("%v", err)
	}
	if len(list.Items) == 0 {
		t.Errorf("no pod matches %s", selector)
	}
	for _, p := range list.Items {
		for _, ctr := range p.Spec.Containers {
			if !strings.HasSuffix(ctr.Image, ":"+tag) {
				t.Errorf("pod %s container %s runs %s, want tag %s", p.Name, ctr.Name, ctr.Image, tag)
			}
		}
	}
}
