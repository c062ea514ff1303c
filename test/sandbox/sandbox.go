package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/ovnet/ovnet/test/harness"
)

const (
	// readyTimeout bounds each wait for the cluster: nodes Ready after
	// helm install, pods Running. Seconds are typical.
	readyTimeout = 3 * time.Minute
	// nbPort and sbPort are OVN central's ports on the control-plane node.
	nbPort = 6641
	sbPort = 6642
)

// Sandbox is a running sandbox: the outside world, the nodes, ovnet
// installed by Helm.
type Sandbox struct {
	cfg Config
	log logr.Logger
	rec *recorder
	// Underlay joins the nodes, the external host and the far network.
	Underlay *harness.Underlay
	// Cluster is the kind-like nodes and their control plane.
	Cluster *harness.KubeCluster
	// Kubeconfig reaches the API server from the host.
	Kubeconfig string
	// NB and SB reach OVN central from the host.
	NB, SB string
}

// Start brings a sandbox up in-process for a test; tb's cleanups stop it.
func Start(tb harness.T, cfg Config, log logr.Logger) *Sandbox {
	tb.Helper()
	return up(tb, cfg, &recorder{}, log)
}

// up starts the outside world and bare nodes, builds and imports the
// image, installs ovnet with Helm, then DNS and the examples, recording in
// rec what down must remove should this process die.
func up(tb harness.T, cfg Config, rec *recorder, log logr.Logger) *Sandbox {
	tb.Helper()
	s := &Sandbox{cfg: cfg, log: log, rec: rec}
	if err := os.MkdirAll(s.binDir(), 0o755); err != nil {
		tb.Fatalf("sandbox: %v", err)
	}
	s.buildTools(tb)
	tag := s.imageTag(tb)
	archive := s.buildImage(tb, tag)

	log.Info("starting the outside world: underlay, external host, far network")
	s.Underlay = harness.NewUnderlay(tb)
	s.record(tb, func(st *State) {
		st.Underlay, st.External, st.Far = s.Underlay.NetNS, s.Underlay.External.NetNS, s.Underlay.Far.NetNS
		st.NetNS = append(st.NetNS, st.Underlay, st.External, st.Far)
	})
	s.Underlay.Far.Serve(tb, FarPort)

	dnsArchive, _ := harness.CoreDNSImage(tb)
	log.Info("starting bare nodes", "nodes", cfg.Nodes)
	s.Cluster = harness.StartKubeCluster(tb, harness.KubeClusterOptions{
		Nodes: cfg.Nodes, Underlay: s.Underlay, TunnelLinks: true, Images: []string{archive, dnsArchive}})
	s.recordCluster(tb)

	installed := time.Now()
	s.helm(tb, "install", tag)
	s.kubectl(tb, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout="+readyTimeout.String())
	s.figure(tb, fmt.Sprintf("helm install to %d node(s) Ready", cfg.Nodes), time.Since(installed))
	s.rollout(tb)
	log.Info("applying cluster DNS", "manifest", harness.CoreDNSManifest)
	s.kubectl(tb, "apply", "-f", filepath.Join(cfg.Repo, harness.CoreDNSManifest))
	if cfg.Examples {
		log.Info("applying yamls/examples/")
		s.kubectl(tb, "apply", "-f", filepath.Join(cfg.Repo, "yamls", "examples"))
	}
	s.waitPods(tb)
	s.figure(tb, "helm install to every pod Ready", time.Since(installed))
	s.record(tb, func(st *State) { st.ImageTag, st.ImageArchive, st.ChartSum = tag, archive, s.chartSum(tb) })
	if rec.path != "" {
		if err := writeEnv(cfg, rec.state()); err != nil {
			tb.Fatalf("sandbox: %v", err)
		}
	}
	return s
}

// Upgrade rebuilds the image and upgrades the release when the sources or
// the chart changed since they were installed, and says so when nothing did.
func (s *Sandbox) Upgrade(tb harness.T, rec *recorder) {
	tb.Helper()
	st := rec.state()
	tag, chart := s.imageTag(tb), s.chartSum(tb)
	if tag == st.ImageTag && chart == st.ChartSum {
		s.log.Info("nothing changed since the release was installed: image and chart are as they were", "tag", tag)
		return
	}
	archive := st.ImageArchive
	if tag != st.ImageTag {
		s.buildTools(tb)
		archive = s.buildImage(tb, tag)
		for _, n := range s.Cluster.Nodes {
			n.ImportImages(tb, archive)
		}
		// The nodes hold the old image; its archive is of no more use.
		removeImage(st.ImageArchive)
	}
	start := time.Now()
	s.helm(tb, "upgrade", tag)
	s.rollout(tb)
	s.waitPods(tb)
	s.figure(tb, "helm upgrade to every pod Ready", time.Since(start))
	s.record(tb, func(st *State) { st.ImageTag, st.ImageArchive, st.ChartSum = tag, archive, chart })
}

// recordCluster records the nodes, their namespaces and cgroups, and the
// host's ways to the API server and OVN central.
func (s *Sandbox) recordCluster(tb harness.T) {
	tb.Helper()
	c := s.Cluster
	s.Kubeconfig = c.API.Kubeconfig
	var nb, sb []string
	for _, n := range s.centralNodes() {
		nb = append(nb, "tcp:"+c.Forward(tb, n, nbPort))
		sb = append(sb, "tcp:"+c.Forward(tb, n, sbPort))
	}
	// A Raft cluster's every member, so that the host's tools find its leader.
	s.NB, s.SB = strings.Join(nb, ","), strings.Join(sb, ",")
	s.record(tb, func(st *State) {
		st.Kubeconfig, st.NB, st.SB = s.Kubeconfig, s.NB, s.SB
		st.Cgroups = append(st.Cgroups, c.Cgroup())
		for _, n := range c.Nodes {
			st.Nodes = append(st.Nodes, NodeState{Name: n.Name, NetNS: n.NetNS, Address: n.Addr.Addr().String(),
				MountNSPID: n.PID()})
			st.NetNS = append(st.NetNS, n.NetNS, s.nodeNetNSAlias(n.Name))
		}
		st.TcpdumpFlags = s.tcpdumpFlags()
	})
	for _, n := range c.Nodes {
		s.exposeNode(tb, n)
	}
}

func (s *Sandbox) record(tb harness.T, change func(*State)) {
	tb.Helper()
	if err := s.rec.update(change); err != nil {
		tb.Fatalf("sandbox: recording state: %v", err)
	}
}

func (s *Sandbox) figure(tb harness.T, name string, d time.Duration) {
	tb.Helper()
	tb.Logf("figure: %s: %.1f s", name, d.Seconds())
	s.record(tb, func(st *State) { st.Figures = append(st.Figures, Figure{Name: name, Seconds: d.Seconds()}) })
}

// rollout waits for ovnet's DaemonSet and controller to be rolled out.
func (s *Sandbox) rollout(tb harness.T) {
	tb.Helper()
	for _, w := range []string{"daemonset/ovnet-node", "deployment/ovnet-controller"} {
		s.kubectl(tb, "-n", ReleaseNamespace, "rollout", "status", w, "--timeout="+readyTimeout.String())
	}
}

// waitPods waits for the StatefulSets to roll out (their pods come one
// after the other) and every pod to be Ready.
func (s *Sandbox) waitPods(tb harness.T) {
	tb.Helper()
	sets := strings.Fields(s.kubectl(tb, "get", "statefulsets", "-A", "-o",
		`jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {end}`))
	for _, set := range sets {
		ns, name, _ := strings.Cut(set, "/")
		s.kubectl(tb, "-n", ns, "rollout", "status", "statefulset/"+name, "--timeout="+readyTimeout.String())
	}
	s.kubectl(tb, "wait", "--for=condition=Ready", "pods", "--all", "-A", "--timeout="+readyTimeout.String())
}

// Kubectl runs kubectl against the sandbox and returns its combined output.
func (s *Sandbox) Kubectl(args ...string) (string, error) {
	return s.KubectlIn("", args...)
}

// KubectlIn is Kubectl with stdin.
func (s *Sandbox) KubectlIn(stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(s.cfg.KubeBin, "kubectl"), append([]string{"--kubeconfig", s.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// kubectl runs kubectl and fails the step when it fails.
func (s *Sandbox) kubectl(tb harness.T, args ...string) string {
	tb.Helper()
	out, err := s.Kubectl(args...)
	if err != nil {
		tb.Fatalf("sandbox: %v\n%s", err, out)
	}
	return out
}

func (s *Sandbox) binDir() string { return filepath.Join(s.cfg.Dir, "bin") }
