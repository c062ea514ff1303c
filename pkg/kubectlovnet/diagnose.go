package kubectlovnet

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
)

// Problem markers at the start of a diagnose line, so a screen is read by its left edge.
const (
	markOK      = "ok  "
	markProblem = "!!  "
)

func (o *Options) runDiagnose(ctx context.Context) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	d := &diagnosis{c: c, w: o.Stdout, now: time.Now()}
	nb, sb, dbErr := o.Databases(ctx, c)
	d.databases(ctx, nb, sb, dbErr)
	if err := d.nodes(ctx); err != nil {
		return err
	}
	if err := d.subnets(ctx); err != nil {
		return err
	}
	if err := d.pods(ctx); err != nil {
		return err
	}
	if d.problems == 0 {
		fmt.Fprintln(d.w, "\nno problems found")
		return nil
	}
	fmt.Fprintf(d.w, "\n%d problem(s) found\n", d.problems)
	return nil
}

// diagnosis writes one screen and counts the problems it saw.
type diagnosis struct {
	c   client.Client
	w   io.Writer
	now time.Time
	// chassis maps SB chassis hostname (and name) to its name; nil when
	// the SB could not be read.
	chassis  map[string]string
	problems int
}

func (d *diagnosis) line(ok bool, format string, args ...any) {
	mark := markOK
	if !ok {
		mark = markProblem
		d.problems++
	}
	fmt.Fprintf(d.w, mark+format+"\n", args...)
}

func (d *diagnosis) databases(ctx context.Context, nb, sb Database, err error) {
	fmt.Fprintln(d.w, "OVN databases")
	if err != nil {
		d.line(false, "%v", err)
		return
	}
	if out, err := ctlOutput(ctx, "ovn-nbctl", nb, "--format=csv", "--data=bare", "--no-headings", "--columns=name", "list", "Logical_Switch"); err != nil {
		d.line(false, "northbound %s (%s): %v", nb.Remote, nb.Source, err)
	} else {
		d.line(true, "northbound %s (%s): %d logical switches", nb.Remote, nb.Source, countLines(out))
	}
	rows, err := listRows(ctx, "ovn-sbctl", sb, "Chassis", "name", "hostname")
	if err != nil {
		d.line(false, "southbound %s (%s): %v", sb.Remote, sb.Source, err)
		return
	}
	d.chassis = map[string]string{}
	for _, r := range rows {
		if len(r) == 2 {
			d.chassis[r[0]], d.chassis[r[1]] = r[0], r[0]
		}
	}
	d.line(true, "southbound %s (%s): %d chassis", sb.Remote, sb.Source, len(rows))
}

func (d *diagnosis) nodes(ctx context.Context) error {
	var nodes corev1.NodeList
	if err := d.c.List(ctx, &nodes); err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var leases coordinationv1.LeaseList
	if err := d.c.List(ctx, &leases, client.InNamespace(gatewayhealth.DefaultNamespace)); err != nil {
		return fmt.Errorf("list leases: %w", err)
	}
	gateways := map[string]*coordinationv1.Lease{}
	for i := range leases.Items {
		if n, ok := gatewayhealth.NodeOf(leases.Items[i].Name); ok {
			gateways[n] = &leases.Items[i]
		}
	}
	fmt.Fprintf(d.w, "\nNodes (%d)\n", len(nodes.Items))
	for i := range nodes.Items {
		d.node(&nodes.Items[i], gateways[nodes.Items[i].Name])
	}
	return nil
}

// node checks one node: Ready, its ovn0 address record (the controller's
// half of the daemon's set-up), its chassis in SB (ovn-controller
// running), and its gateway Lease if it has one (the daemon's heartbeat).
func (d *diagnosis) node(n *corev1.Node, lease *coordinationv1.Lease) {
	var problems, facts []string
	if !nodeReady(n) {
		problems = append(problems, "not Ready")
	}
	if addr, ok, err := annotation.ParseAddress(n.Annotations); err != nil {
		problems = append(problems, "bad address record: "+err.Error())
	} else if !ok {
		problems = append(problems, "no ovn0 address yet")
	} else {
		facts = append(facts, "ovn0 "+addr.IP.String())
	}
	if d.chassis != nil {
		if ch, ok := d.chassis[n.Name]; ok {
			facts = append(facts, "chassis "+ch)
		} else {
			problems = append(problems, "no chassis in SB (ovn-controller not running or not connected)")
		}
	}
	if lease != nil {
		report, _ := gatewayhealth.Read(lease, d.now)
		if report.Ready {
			facts = append(facts, "gateway ready")
		} else {
			problems = append(problems, "gateway not ready: "+report.Reason)
		}
	}
	if len(problems) > 0 {
		d.line(false, "%s: %s", n.Name, strings.Join(append(problems, facts...), "; "))
		return
	}
	d.line(true, "%s: %s", n.Name, strings.Join(facts, "; "))
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (d *diagnosis) subnets(ctx context.Context) error {
	var subnets ovnetv1.SubnetList
	if err := d.c.List(ctx, &subnets); err != nil {
		return fmt.Errorf("list subnets: %w", err)
	}
	fmt.Fprintf(d.w, "\nSubnets (%d)\n", len(subnets.Items))
	sort.Slice(subnets.Items, func(i, j int) bool { return subnets.Items[i].Name < subnets.Items[j].Name })
	for i := range subnets.Items {
		s := &subnets.Items[i]
		bad := subnetProblems(s)
		if len(bad) == 0 {
			d.line(true, "%s %s: egress %s, %d used, %d available", s.Name, s.Spec.CIDR, egress(s), s.Status.UsedIPs, s.Status.AvailableIPs)
			continue
		}
		d.line(false, "%s %s: %s", s.Name, s.Spec.CIDR, strings.Join(bad, "; "))
	}
	return nil
}

// subnetProblems lists the watched conditions not True and a pending
// AddressesPending, each with its message.
func subnetProblems(s *ovnetv1.Subnet) []string {
	var bad []string
	refused := ""
	for _, t := range watchedConditions {
		c := findCondition(s.Status.Conditions, t)
		if c == nil || c.Status == metav1.ConditionTrue {
			continue
		}
		if c.Message == refused {
			// Ready repeats why the spec was refused; say it once.
			bad = append(bad, fmt.Sprintf("%s=%s %s", c.Type, c.Status, c.Reason))
			continue
		}
		if c.Type == ovnetv1.ConditionValidated {
			refused = c.Message
		}
		bad = append(bad, fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message))
	}
	if findCondition(s.Status.Conditions, ovnetv1.ConditionReady) == nil {
		bad = append(bad, "not reconciled yet (no Ready condition)")
	}
	if c := findCondition(s.Status.Conditions, ovnetv1.ConditionAddressesPending); c != nil && c.Status == metav1.ConditionTrue {
		bad = append(bad, fmt.Sprintf("%s: %s", c.Type, c.Message))
	}
	return bad
}

// pods lists the scheduled pods of the pod network that hold no address yet.
func (d *diagnosis) pods(ctx context.Context) error {
	var pods corev1.PodList
	if err := d.c.List(ctx, &pods); err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	var waiting []*corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.HostNetwork || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if p.Annotations[annotation.Allocated] != annotation.True {
			waiting = append(waiting, p)
		}
	}
	fmt.Fprintf(d.w, "\nPods waiting for an address (%d)\n", len(waiting))
	tw := tabwriter.NewWriter(d.w, 0, 4, 2, ' ', 0)
	for _, p := range waiting {
		d.problems++
		fmt.Fprintf(tw, "%s%s/%s\tnode %s\tsince %s\n", markProblem, p.Namespace, p.Name, orDash(p.Spec.NodeName),
			d.now.Sub(p.CreationTimestamp.Time).Round(time.Second))
	}
	return tw.Flush()
}

func countLines(s string) int {
	return len(strings.Fields(strings.TrimSpace(strings.ReplaceAll(s, " ", "_"))))
}
