package kubectlovnet

import (
	"context"
	"flag"
	"fmt"
	"os/exec"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// nodePlaceholder in --node-netns and --node-ovsdb stands for the pod's node.
const nodePlaceholder = "{node}"

// mirrorInterface is the port every mirrored pod's traffic is copied to.
const mirrorInterface = "mirror0"

// tcpdumpTarget says where a capture runs.
type tcpdumpTarget struct {
	// NetNS is the node's network namespace on this machine.
	NetNS string
	// OVSDB is the node's Open_vSwitch database.
	OVSDB string
	// Interface is the capture's interface in NetNS.
	Interface string
}

// runTcpdump captures a pod's traffic on its node: the host end of its
// veth (found by its OVS Interface's iface-id), or mirror0 with --mirror.
// Nodes are reached as network namespaces on this machine (the sandbox's
// and the harness's nodes); a real cluster's node is not reached yet,
// since the ovnet image has no tcpdump.
func (o *Options) runTcpdump(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tcpdump", flag.ContinueOnError)
	fs.SetOutput(o.Stderr)
	o.bindGlobal(fs)
	netnsTemplate := fs.String("node-netns", "", "the node's network namespace on this machine; "+nodePlaceholder+" is replaced by the pod's node (required)")
	ovsdbTemplate := fs.String("node-ovsdb", "unix:/var/run/openvswitch/db.sock", "the node's Open_vSwitch database; "+nodePlaceholder+" is replaced by the pod's node")
	mirror := fs.Bool("mirror", false, "capture on "+mirrorInterface+" (the pod needs "+annotation.Mirror+"=true)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 || *netnsTemplate == "" {
		return fmt.Errorf("tcpdump [--node-netns=NS] [--node-ovsdb=DB] [--mirror] POD [tcpdump args]: --node-netns and POD are required")
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	pod, err := capturedPod(ctx, c, fs.Arg(0), *mirror)
	if err != nil {
		return err
	}
	node := pod.Spec.NodeName
	target := tcpdumpTarget{
		NetNS: strings.ReplaceAll(*netnsTemplate, nodePlaceholder, node),
		OVSDB: strings.ReplaceAll(*ovsdbTemplate, nodePlaceholder, node),
	}
	if *mirror {
		target.Interface = mirrorInterface
	} else if target.Interface, err = hostInterface(ctx, target.OVSDB, ovnname.PodPort(pod.Namespace, pod.Name)); err != nil {
		return err
	}
	fmt.Fprintf(o.Stderr, "capturing %s/%s on node %s (netns %s), interface %s\n", pod.Namespace, pod.Name, node, target.NetNS, target.Interface)
	return o.capture(ctx, target, fs.Args()[1:])
}

func capturedPod(ctx context.Context, c client.Client, ref string, mirror bool) (*corev1.Pod, error) {
	ns, name := splitName(ref)
	pod := &corev1.Pod{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pod); err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", ns, name, err)
	}
	if pod.Spec.NodeName == "" {
		return nil, fmt.Errorf("pod %s/%s is not scheduled", ns, name)
	}
	if mirror && pod.Annotations[annotation.Mirror] != annotation.True {
		return nil, fmt.Errorf("pod %s/%s is not mirrored: annotate it %s=true", ns, name, annotation.Mirror)
	}
	return pod, nil
}

// hostInterface is the OVS Interface the daemon bound to the pod's
// logical switch port (external_ids:iface-id), i.e. the host end of its veth.
func hostInterface(ctx context.Context, ovsdb, port string) (string, error) {
	out, err := exec.CommandContext(ctx, "ovs-vsctl", "--db="+ovsdb, "--timeout="+ctlTimeout, "--bare", "--columns=name",
		"find", "Interface", "external_ids:iface-id="+port).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ovs-vsctl --db=%s find Interface iface-id=%s: %w: %s", ovsdb, port, err, strings.TrimSpace(string(out)))
	}
	name := strings.TrimSpace(string(out))
	if name == "" || strings.ContainsAny(name, " \n") {
		return "", fmt.Errorf("node database %s has %q for port %s, want one interface", ovsdb, name, port)
	}
	return name, nil
}

// capture runs tcpdump in the node's namespace until it ends or ctx does;
// then it is interrupted, as at a terminal, so it prints its counts.
func (o *Options) capture(ctx context.Context, t tcpdumpTarget, args []string) error {
	argv := append([]string{"netns", "exec", t.NetNS, "tcpdump", "-i", t.Interface}, args...)
	cmd := exec.CommandContext(ctx, "ip", argv...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	if err := cmd.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("ip %s: %w", strings.Join(argv, " "), err)
	}
	return nil
}
