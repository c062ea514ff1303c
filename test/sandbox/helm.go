package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ovnet/ovnet/test/harness"
)

// valuesTemplate is the sandbox's values file: the image built here (never
// pulled), the userspace datapath (no kernel module is touched) with
// tunnels on the nodes' second link (so the kubelet's own traffic never
// crosses OVS), OVN
// central pinned to the control-plane node and reached at its underlay
// address (the nodes run no kube-proxy, so no ClusterIP works before
// ovnet does), the API server likewise, and mirror0 on for tcpdump.
const valuesTemplate = `# Written by the sandbox (test/sandbox/helm.go); helm install/upgrade -f this file.
image:
  repository: %[1]s
  tag: %[2]s
  pullPolicy: Never
apiServer:
  host: %[3]s
  port: %[4]d
ovn:
  nbAddress: tcp:%[8]s:%[5]d
  sbAddress: tcp:%[8]s:%[6]d
  central:
    nodeSelector:
      kubernetes.io/hostname: %[7]s
node:
  datapathType: netdev
  tunnelInterface: %[9]s
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
	cp := s.Cluster.Nodes[0]
	repo := strings.TrimPrefix(harness.ImageRepository, "docker.io/")
	values := fmt.Sprintf(valuesTemplate, repo, tag, s.Cluster.APIServerHost(), s.Cluster.APIServerPort(), nbPort, sbPort, cp.Name, cp.Addr.Addr(), harness.TunnelLink)
	path := filepath.Join(s.cfg.Dir, "values.yaml")
	if err := os.WriteFile(path, []byte(values), 0o644); err != nil {
		tb.Fatalf("sandbox: %v", err)
	}
	return path
}
