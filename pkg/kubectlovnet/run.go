package kubectlovnet

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// usage is the --help text.
const usage = `kubectl ovnet: look at ovnet's network.

Usage: kubectl ovnet [flags] COMMAND [args]

Commands:
  subnets                       every Subnet: CIDR, gateway, egress, usage, conditions
  nbctl ARGS...                 ovn-nbctl against the cluster's northbound database
  sbctl ARGS...                 ovn-sbctl against the cluster's southbound database
  trace POD TARGET [tcp|udp PORT]
                                ovn-trace the packet POD (ns/name or name) would send to
                                TARGET: a pod (ns/name), a Service (svc/ns/name) or an IP;
                                names the ACLs met and the NetworkPolicy that wrote each,
                                the load balancer, the route or policy, and the verdict
  tcpdump [--node-netns=NS] [--node-ovsdb=DB] [--mirror] POD [tcpdump args]
                                capture POD's traffic on its node, on the host end of its
                                veth (or mirror0); nodes reached as network namespaces on
                                this machine (the sandbox), {node} standing for the node
  diagnose                      NB/SB connection, nodes (chassis, daemon, gateway Lease),
                                subnets with false conditions, pods waiting for addresses

The cluster is found as kubectl finds it (--kubeconfig, $KUBECONFIG,
~/.kube/config; --context). The OVN databases are, in order: --nb/--sb;
$OVNET_NB/$OVNET_SB; the chart's ovn-nb/ovn-sb Services (their ready
endpoints, every member of a Raft cluster; else their ClusterIP). nbctl, sbctl and trace run ovn-nbctl,
ovn-sbctl and ovn-trace from $PATH.

Flags:
`

// errUsage is returned when the command line is wrong; usage was printed.
var errUsage = errors.New("usage")

// Run runs one command line (without the program name).
func Run(ctx context.Context, o *Options, args []string) error {
	fs := flag.NewFlagSet("kubectl-ovnet", flag.ContinueOnError)
	fs.SetOutput(o.Stderr)
	o.bindGlobal(fs)
	fs.Usage = func() { printUsage(o.Stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	switch cmd {
	case "nbctl":
		return o.runCtl(ctx, "ovn-nbctl", rest)
	case "sbctl":
		return o.runCtl(ctx, "ovn-sbctl", rest)
	case "tcpdump":
		// Everything after the pod goes to tcpdump.
		return o.runTcpdump(ctx, rest)
	}
	// The other commands take the shared flags after the command too.
	if err := fs.Parse(rest); err != nil {
		return errUsage
	}
	rest = fs.Args()
	switch cmd {
	case "subnets":
		return o.runSubnets(ctx)
	case "trace":
		return o.runTrace(ctx, rest)
	case "diagnose":
		return o.runDiagnose(ctx)
	case "help":
		fs.Usage()
		return nil
	}
	fmt.Fprintf(o.Stderr, "unknown command %q\n", cmd)
	fs.Usage()
	return errUsage
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usage)
	fs.PrintDefaults()
}

// IsUsage reports whether err means the command line was wrong (already said).
func IsUsage(err error) bool { return errors.Is(err, errUsage) }
