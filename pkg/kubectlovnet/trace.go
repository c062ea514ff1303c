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

	"github.com/ovnet/ovnet/pkg/ovn"
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
				return &loadBalancerVIP{Name: r[0], VIP: want, Backends: splitList(strings.Trim(backends, `"`))}, nil
			}
		}
	}
	return nil, nil
}

// aclRow is the part of an NB ACL the summary names.
type aclRow struct {
	UUID, Name, Direction, Action string
	Owner                         ovn.Owner
	Ours                          bool
}

// acls returns the NB ACLs by the first 8 hex digits of their UUID, as
// northd writes them into a logical flow's stage-hint.
func (t *tracer) acls(ctx context.Context) (map[string]aclRow, error) {
	rows, err := listRows(ctx, "ovn-nbctl", t.nb, "ACL", "_uuid", "name", "direction", "action", "external_ids")
	if err != nil {
		return nil, err
	}
	byHint := map[string]aclRow{}
	for _, r := range rows {
		if len(r) != 5 || len(r[0]) < 8 {
			continue
		}
		a := aclRow{UUID: r[0], Name: r[1], Direction: r[2], Action: r[3]}
		a.Owner, a.Ours = ovn.OwnerOf(parseMap(r[4]))
		byHint[r[0][:8]] = a
	}
	return byHint, nil
}

// stageHints maps logical flow UUID prefixes (as ovn-trace prints them)
// to their stage-hint, for the flows wanted.
func (t *tracer) stageHints(ctx context.Context, wanted map[string]bool) (map[string]string, error) {
	hints := map[string]string{}
	if len(wanted) == 0 {
		return hints, nil
	}
	rows, err := listRows(ctx, "ovn-sbctl", t.sb, "Logical_Flow", "_uuid", "external_ids")
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if len(r) == 2 && len(r[0]) >= 8 && wanted[r[0][:8]] {
			hints[r[0][:8]] = parseMap(r[1])["stage-hint"]
		}
	}
	return hints, nil
}

func (t *tracer) summarise(ctx context.Context, w io.Writer, res traceResult) error {
	r := t.req
	fmt.Fprintf(w, "from   %s/%s  port %s  %s  %s\n", r.From.Namespace, r.From.Name, r.From.Port, r.From.Address.MAC, r.From.Address.IP)
	fmt.Fprintf(w, "to     %s  %s\n", t.targetText(), t.packetText())
	if t.lb != nil {
		fmt.Fprintf(w, "load balancer  %s  %s -> %s (traced to %s)\n", t.lb.Name, t.lb.VIP, strings.Join(t.lb.Backends, ","), firstOr(t.lb.Backends, "no backend"))
	}
	if err := t.writeACLs(ctx, w, res); err != nil {
		return err
	}
	writeRouting(w, res)
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

// writeACLs names each ACL flow the packet met, with the ACL and the
// Kubernetes object that wrote it.
func (t *tracer) writeACLs(ctx context.Context, w io.Writer, res traceResult) error {
	wanted := map[string]bool{}
	for _, f := range res.Flows {
		if isACLStage(f.Stage) {
			wanted[f.UUID] = true
		}
	}
	hints, err := t.stageHints(ctx, wanted)
	if err != nil {
		return err
	}
	acls, err := t.acls(ctx)
	if err != nil {
		return err
	}
	met := 0
	for _, f := range res.Flows {
		acl, ok := acls[hints[f.UUID]]
		if !wanted[f.UUID] || !ok {
			// Flows without an ACL row are northd's own bookkeeping
			// around the ACLs (conntrack, defaults); --detailed shows them.
			continue
		}
		met++
		fmt.Fprintf(w, "acl    %-18s priority %s  %s %s  name %q  %s\n", f.Stage, f.Priority, acl.Direction, acl.Action, acl.Name, ownerText(acl))
	}
	if met == 0 {
		fmt.Fprintln(w, "acl    none met (no NetworkPolicy or private subnet applies)")
	}
	return nil
}

func ownerText(a aclRow) string {
	if !a.Ours {
		return "(not ovnet's)"
	}
	if a.Owner.Namespace != "" {
		return fmt.Sprintf("(%s %s/%s)", a.Owner.Kind, a.Owner.Namespace, a.Owner.Name)
	}
	return fmt.Sprintf("(%s %s)", a.Owner.Kind, a.Owner.Name)
}

// writeRouting names the router's route and policy flows the packet met.
func writeRouting(w io.Writer, res traceResult) {
	for _, f := range res.Flows {
		switch {
		case strings.HasPrefix(f.Stage, "lr_in_ip_routing") && !strings.Contains(f.Stage, "pre") && !strings.Contains(f.Stage, "ecmp"):
			fmt.Fprintf(w, "route  %s  priority %s  %s\n", f.Match, f.Priority, f.actionText())
		case f.Stage == "lr_in_policy" && f.Priority != "0":
			fmt.Fprintf(w, "policy priority %s  %s  %s\n", f.Priority, f.Match, f.actionText())
		}
	}
}

// verdict is the port the packet finally left by (with the router hops
// on the way), or where it was dropped.
func verdict(res traceResult) string {
	if n := len(res.Outputs); n > 0 {
		v := "output to " + res.Outputs[n-1]
		if n > 1 {
			v += "  (via " + strings.Join(res.Outputs[:n-1], " -> ") + ")"
		}
		return v
	}
	for i := len(res.Flows) - 1; i >= 0; i-- {
		if res.Flows[i].dropped() {
			return fmt.Sprintf("dropped in %s (priority %s: %s)", res.Flows[i].Stage, res.Flows[i].Priority, res.Flows[i].Match)
		}
	}
	return "dropped (no flow output it)"
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

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
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
