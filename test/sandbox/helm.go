package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ovnet/ovnet/pkg/ovs"
	"github.com/ovnet/ovnet/test/harness"
)

// valuesTemplate is the sandbox's values file: the image built here (never
// pulled), the userspace datapath (no kernel module is touched) with
// tunnels on the nodes' second link (so the kubelet's own traffic never
// crosses OVS) of the type ENCAP asks for, OVN central (centralValues), the
// API server reached at its underlay address, both of its Service ranges,
// and mirror0 on for tcpdump.
const valuesTemplate = `# Written by the sandbox (test/sandbox/helm.go); helm install/upgrade -f this file.
image:
  repository: %[1]s
  tag: %[2]s
  pullPolicy: Never
apiServer:
  host: %[3]s
  port: %[4]d
network:
  serviceCIDR: %[8]s
ovn:
%[5]snode:
  datapathType: netdev
  tunnelInterface: %[6]s
  encapType: %[7]s
  enableMirror: true
`

// helm runs `helm install` or `helm upgrade` of charts/ovnet with the
// sandbox's values for image tag, and waits for nothing: the callers wait
// for what users see (nodes Ready, pods Running).
func (s *Sandbox) helm(tb harness.T, verb, tag string) {
	tb.Helper()
	values := s.writeValues(tb, tag)
	argv := []string{harness.Helm(tb), verb, ReleaseName, filepath.Join(s.cfg.Repo, chartDir),
		"--namespace", ReleaseNamespace, "--kubeconfig", s.Kubeconfig, "-f", values}
	s.log.Info("helm "+verb, "chart", chartDir, "values", values)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.cfg.Repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("sandbox: %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	s.log.Info("helm " + verb + " done")
}

func (s *Sandbox) writeValues(tb harness.T, tag string) string {
	tb.Helper()
	repo := strings.TrimPrefix(harness.ImageRepository, "docker.io/")
	encap := s.cfg.Encap
	if encap == "" {
		encap = ovs.EncapGeneve
	}
	values := fmt.Sprintf(valuesTemplate, repo, tag, s.Cluster.APIServerHost(), s.Cluster.APIServerPort(),
		s.centralValues(), harness.TunnelLink, encap, harness.DefaultServiceCIDR+","+harness.DefaultServiceCIDRv6)
	path := filepath.Join(s.cfg.Dir, "values.yaml")
	if err := os.WriteFile(path, []byte(values), 0o644); err != nil {
		tb.Fatalf("sandbox: %v", err)
	}
	return path
}

// centralValues place OVN central. Standalone, it is pinned to the
// control-plane node and reached at its underlay address: the nodes run no
// kube-proxy, so no ClusterIP works before ovnet does. With Raft, one
// member runs on each of the first nodes (a node affinity on their names),
// and every client is given every member's address, the chart's default.
func (s *Sandbox) centralValues() string {
	members := s.centralNodes()
	if !s.cfg.Raft {
		cp := members[0]
		return fmt.Sprintf("  nbAddress: tcp:%[1]s:%[2]d\n  sbAddress: tcp:%[1]s:%[3]d\n  central:\n    nodeSelector:\n      kubernetes.io/hostname: %[4]s\n",
			cp.Addr.Addr(), nbPort, sbPort, cp.Name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  central:\n    replicas: %d\n    nodeIPs:\n", len(members))
	for _, n := range members {
		fmt.Fprintf(&b, "    - %s\n", n.Addr.Addr())
	}
	b.WriteString("    affinity:\n      nodeAffinity:\n        requiredDuringSchedulingIgnoredDuringExecution:\n          nodeSelectorTerms:\n" +
		"          - matchExpressions:\n            - key: kubernetes.io/hostname\n              operator: In\n              values:\n")
	for _, n := range members {
		fmt.Fprintf(&b, "              - %s\n", n.Name)
	}
	return b.String()
}

// centralNodes are the nodes OVN central runs on: node 1, or with Raft
// one per member.
func (s *Sandbox) centralNodes() []*harness.KubeNode {
	if s.cfg.Raft {
		return s.Cluster.Nodes[:raftMembers]
	}
	return s.Cluster.Nodes[:1]
}
