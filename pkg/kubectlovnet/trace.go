package kubectlovnet

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/ovnname"
)

// ctNew is how many ct_next actions the trace answers "new" (ovn-trace's
// default is established): a first packet meets one per conntrack zone
// it passes, and no path through ovnet's pipelines has more.
const ctNew = 6

// traceTimeout is ovn-trace's wait for the southbound database, seconds.
const traceTimeout = "30"

func (o *Options) runTrace(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(o.Stderr)
	o.bindGlobal(fs)
	detailed := fs.Bool("detailed", false, "print ovn-trace's whole output after the summary")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	a, err := parseTraceArgs(fs.Args())
	if err != nil {
		return err
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	nb, sb, err := o.Databases(ctx, c)
	if err != nil {
		return err
	}
	req, err := resolveTrace(ctx, c, a)
	if err != nil {
		return err
	}
	t := &tracer{nb: nb, sb: sb, req: req}
	out, err := t.run(ctx)
	if err != nil {
		return err
	}
	if err := t.summarise(ctx, o.Stdout, parseTrace(out)); err != nil {
		return err
	}
	if *detailed {
		fmt.Fprintln(o.Stdout, "\n--- ovn-trace ---")
		fmt.Fprint(o.Stdout, out)
	}
	return nil
}

// tracer runs one trace and reads the NB rows that explain it.
type tracer struct {
	nb, sb Database
	req    traceRequest
	// lb is the load balancer whose VIP the packet is sent to, if any.
	lb *loadBalancerVIP
}

// loadBalancerVIP is one VIP of an NB Load_Balancer.
type loadBalancerVIP struct {
	Name, VIP string
	Backends  []string
}

func (t *tracer) run(ctx context.Context) (string, error) {
	dstMAC, err := t.destinationMAC(ctx)
	if err != nil {
		return "", err
	}
	if t.lb, err = t.findLoadBalancer(ctx); err != nil {
		return "", err
	}
	args := []string{"--db=" + t.sb.Remote, "--detailed", "--no-leader-only"}
	for i := 0; i < ctNew; i++ {
		args = append(args, "--ct=new")
	}
	if t.lb != nil && len(t.lb.Backends) > 0 {
		args = append(args, "--lb-dst="+t.lb.Backends[0])
	}
	args = append(args, t.req.microflow(dstMAC))
	cmd := exec.CommandContext(ctx, "ovn-trace", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ovn-trace %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// destinationMAC is the target pod's MAC on the same switch, else the MAC
// of the router port holding the pod's gateway address.
func (t *tracer) destinationMAC(ctx context.Context) (string, error) {
	if t.req.sameSwitch() {
		return t.req.ToPod.Address.MAC.String(), nil
	}
	rows, err := listRows(ctx, "ovn-nbctl", t.nb, "Logical_Router_Port", "name", "mac", "networks")
	if err != nil {
		return "", err
	}
	gw := t.req.From.Address.Gateway.String() + "/"
	for _, r := range rows {
		if len(r) == 3 && containsField(r[2], func(n string) bool { return strings.HasPrefix(n, gw) }) {
			return r[1], nil
		}
	}
	return "", fmt.Errorf("no router port holds gateway %s of switch %s", t.req.From.Address.Gateway, t.req.From.Address.LogicalSwitch)
}

// findLoadBalancer returns the load balancer VIP the packet's destination
// and port are, or nil.
func (t *tracer) findLoadBalancer(ctx context.Context) (*loadBalancerVIP, error) {
	if t.req.Protocol == protoICMP {
		return nil, nil
	}
	rows, err := listRows(ctx, "ovn-nbctl", t.nb, "Load_Balancer", "name", "protocol", "vips")
	if err != nil {
		return nil, err
	}
	want := netip.AddrPortFrom(t.req.Dst, uint16(t.req.Port)).String()
	for _, r := range rows {
		if len(r) != 3 || (r[1] != "" && r[1] != t.req.Protocol) {
			continue
		}
		for _, kv := range strings.Fields(r[2]) {
			vip, backends, ok := strings.Cut(kv, "=")
			if ok && strings.Trim(vip, `"`) == want {
				return &loadBalancerVIP{Name: r[0], VIP: want, Backends: annotation.SplitList(strings.Trim(backends, `"`))}, nil
			}
		}
	}
	return nil, nil
}

func (t *tracer) summarise(ctx context.Context, w io.Writer, res traceResult) error {
	r := t.req
	fmt.Fprintf(w, "from   %s/%s  port %s  %s  %s\n", r.From.Namespace, r.From.Name, r.From.Port, r.From.Address.MAC, r.From.Address.IP)
	fmt.Fprintf(w, "to     %s  %s\n", t.targetText(), t.packetText())
	if t.lb != nil {
		fmt.Fprintf(w, "load balancer  %s  %s -> %s (traced to %s)\n", t.lb.Name, t.lb.VIP, strings.Join(t.lb.Backends, ","), firstOr(t.lb.Backends, "no backend"))
	}
	rows, err := t.explainingRows(ctx, res)
	if err != nil {
		return err
	}
	writeACLs(w, res, rows)
	writeRouting(w, res, rows, t.req.From.Node)
	fmt.Fprintf(w, "verdict  %s\n", verdict(res))
	return nil
}

func (t *tracer) targetText() string {
	r := t.req
	switch {
	case r.ToPod != nil:
		return fmt.Sprintf("pod %s/%s  port %s  %s", r.ToPod.Namespace, r.ToPod.Name, r.ToPod.Port, r.Dst)
	case r.Service != "":
		return fmt.Sprintf("service %s  %s", r.Service, r.Dst)
	}
	return "address " + r.Dst.String()
}

func (t *tracer) packetText() string {
	if t.req.Protocol == protoICMP {
		return "icmp echo request"
	}
	return t.req.Protocol + " " + strconv.Itoa(sourcePort) + " -> " + strconv.Itoa(t.req.Port)
}

// writeACLs names each ACL the packet met, with the Kubernetes object
// that wrote it.
func writeACLs(w io.Writer, res traceResult, rows map[string]nbRow) {
	met := 0
	for _, f := range res.Flows {
		row, ok := rows[f.UUID]
		if !isACLStage(f.Stage) || !ok || row.Table != tableACL {
			// Flows without an ACL row are northd's own bookkeeping
			// around the ACLs (conntrack, defaults); --detailed shows them.
			continue
		}
		met++
		fmt.Fprintf(w, "acl    %-18s priority %s  %s  %s\n", f.Stage, f.Priority, row.Text, ownerText(row))
	}
	if met == 0 {
		fmt.Fprintln(w, "acl    none met (no NetworkPolicy or private subnet applies)")
	}
}

func ownerText(a nbRow) string {
	if !a.Ours {
		return "(not ovnet's)"
	}
	if a.Owner.Namespace != "" {
		return fmt.Sprintf("(%s %s/%s)", a.Owner.Kind, a.Owner.Namespace, a.Owner.Name)
	}
	return fmt.Sprintf("(%s %s)", a.Owner.Kind, a.Owner.Name)
}

// writeRouting names the router's routes and policies the packet met:
// the NB row where one wrote the flow, else the flow (a connected route).
func writeRouting(w io.Writer, res traceResult, rows map[string]nbRow, node string) {
	for _, f := range res.Flows {
		row, ok := rows[f.UUID]
		switch {
		case ok && row.Table == tableRoute:
			fmt.Fprintf(w, "route  %s  %s\n", row.Text, ownerText(row))
		case ok && row.Table == tablePolicy:
			fmt.Fprintf(w, "policy %s  %s%s\n", row.Text, ownerText(row), residentNote(row.Text, node))
		case isRoutingStage(f.Stage):
			fmt.Fprintf(w, "route  %s  (connected)  %s\n", f.Match, routeTarget(f))
		}
	}
}

// residentNote warns when a policy bound to another node's chassis was
// taken: ovn-trace holds every chassis local, so where several nodes'
// policies match it takes one of them, not necessarily the pod's node's.
func residentNote(text, node string) string {
	if node == "" || !strings.Contains(text, "is_chassis_resident(") ||
		strings.Contains(text, fmt.Sprintf("is_chassis_resident(%q)", ovnname.NodePort(node))) {
		return ""
	}
	return fmt.Sprintf("  [ovn-trace holds every chassis local: on %s the packet takes %s's own policy]", node, node)
}

func isRoutingStage(stage string) bool { return stage == "lr_in_ip_routing" }

// routeTarget is where a connected route's flow sends the packet.
func routeTarget(f tracedFlow) string {
	for _, a := range f.Actions {
		for _, part := range strings.Split(a, ";") {
			if part = strings.TrimSpace(part); strings.HasPrefix(part, "outport = ") {
				return "out " + strings.Trim(strings.TrimPrefix(part, "outport = "), `"`)
			}
		}
	}
	return ""
}

// verdict is the port the packet finally left by, or where it was
// dropped, with the ports it crossed on the way.
func verdict(res traceResult) string {
	n := len(res.Outputs)
	from := 0
	if n > 0 {
		from = res.lastOutputFlow + 1
	}
	for i := len(res.Flows) - 1; i >= from; i-- {
		if f := res.Flows[i]; f.dropped() {
			return fmt.Sprintf("dropped in %s (priority %s: %s)%s", f.Stage, f.Priority, f.Match, via(res.Outputs))
		}
	}
	if n == 0 {
		return "dropped (no flow output it)"
	}
	return "output to " + res.Outputs[n-1] + via(res.Outputs[:n-1])
}

// via names the ports a packet crossed before its verdict.
func via(ports []string) string {
	if len(ports) == 0 {
		return ""
	}
	return "  (via " + strings.Join(ports, " -> ") + ")"
}

// parseMap reads ovsdb's bare map "k=v k2=v2".
func parseMap(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Fields(s) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[strings.Trim(k, `"`)] = strings.Trim(v, `"`)
		}
	}
	return m
}

func containsField(s string, pred func(string) bool) bool {
	for _, f := range strings.Fields(s) {
		if pred(f) {
			return true
		}
	}
	return false
}

func firstOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}
