package sandbox

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// podColumns are what the summary shows of each pod: its ovnet record
// beside the address the kubelet reports.
const podColumns = "NAMESPACE:.metadata.namespace,NAME:.metadata.name,STATUS:.status.phase,NODE:.spec.nodeName," +
	`SWITCH:.metadata.annotations.ovn\.kubernetes\.io/logical_switch,IP:.metadata.annotations.ovn\.kubernetes\.io/ip_address,` +
	"POD-IP:.status.podIP"

// showMapping prints the Subnets, the nodes, the pods and their addresses,
// and the OVN northbound database, as a user would look at them.
func showMapping(cfg Config, st State, out io.Writer) {
	kubectl := filepath.Join(cfg.KubeBin, "kubectl")
	section(out, "Subnets (kubectl get subnets)", kubectl, "--kubeconfig", st.Kubeconfig, "get", "subnets")
	section(out, "Nodes (kubectl get nodes -o wide)", kubectl, "--kubeconfig", st.Kubeconfig, "get", "nodes", "-o", "wide")
	section(out, "Pods and their addresses", kubectl, "--kubeconfig", st.Kubeconfig, "get", "pods", "-A", "-o", "custom-columns="+podColumns)
	section(out, "OVN northbound (ovn-nbctl show): one switch per subnet, one port per pod, the cluster router",
		"ovn-nbctl", "--db="+st.NB, "--timeout=10", "show")
}

func section(out io.Writer, title string, argv ...string) {
	fmt.Fprintf(out, "\n== %s\n", title)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(out, "(%s: %v)\n", strings.Join(argv[:1], " "), err)
	}
}

// writeEnv writes sandbox.env: one file to source for everything a user
// reaches the sandbox with from the host's shell.
func writeEnv(cfg Config, st State) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# The ovnet sandbox in %s; source this file: . %s\n", cfg.Dir, cfg.envPath())
	fmt.Fprintf(&b, "export SANDBOX_DIR=%s\n", cfg.Dir)
	fmt.Fprintf(&b, "export KUBECONFIG=%s\n", st.Kubeconfig)
	fmt.Fprintf(&b, "# kubectl, and kubectl-ovnet (kubectl ovnet ...)\n")
	fmt.Fprintf(&b, "export PATH=%s:%s:$PATH\n", filepath.Join(cfg.Dir, "bin"), cfg.KubeBin)
	fmt.Fprintf(&b, "# OVN central on node-1, forwarded to the host: ovn-nbctl and ovn-sbctl read OVN_NB_DB and\n")
	fmt.Fprintf(&b, "# OVN_SB_DB, kubectl ovnet OVNET_NB and OVNET_SB (the node addresses are not routed from the host)\n")
	fmt.Fprintf(&b, "export OVN_NB_DB=%[1]s OVN_SB_DB=%[2]s OVNET_NB=%[1]s OVNET_SB=%[2]s\n", st.NB, st.SB)
	for i, n := range st.Nodes {
		fmt.Fprintf(&b, "# %s: address %s; ip netns exec $NODE_NETNS_%d ...\n", n.Name, n.Address, i+1)
		fmt.Fprintf(&b, "export NODE_NETNS_%d=%s\n", i+1, n.NetNS)
		if n.MountNSPID != 0 {
			fmt.Fprintf(&b, "export NODE_PID_%d=%d   # nsenter -t $NODE_PID_%d -m -n ... runs in the node (its /run, /etc/cni)\n", i+1, n.MountNSPID, i+1)
		}
	}
	if len(st.Nodes) > 0 {
		fmt.Fprintf(&b, "export NODE_NETNS=%s\n", st.Nodes[0].NetNS)
		fmt.Fprintf(&b, "# every node's containerd listens in the node's own /run; ctr reads CONTAINERD_ADDRESS:\n")
		fmt.Fprintf(&b, "#   nsenter -t $NODE_PID_1 -m -n ctr -n k8s.io images ls\n")
		fmt.Fprintf(&b, "export CONTAINERD_ADDRESS=/run/containerd/containerd.sock\n")
	}
	fmt.Fprintf(&b, "# kubectl ovnet tcpdump $OVNET_TCPDUMP POD [tcpdump args]: the nodes' namespaces and OVS databases\n")
	fmt.Fprintf(&b, "export OVNET_TCPDUMP=%q\n", st.TcpdumpFlags)
	fmt.Fprintf(&b, "# the world outside: the underlay, the external host, the far network (probe server on port %d)\n", FarPort)
	fmt.Fprintf(&b, "export UL_NETNS=%s EXT_NETNS=%s FAR_NETNS=%s FAR_PORT=%d\n", st.Underlay, st.External, st.Far, FarPort)
	return os.WriteFile(cfg.envPath(), []byte(b.String()), 0o644)
}
