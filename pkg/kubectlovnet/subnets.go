package kubectlovnet

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// watchedConditions are the conditions whose False the table shows; the
// others (AddressesPending, IgnoredFields, ExcludedAddressesInUse) say
// something when True.
var watchedConditions = []string{ovnetv1.ConditionValidated, ovnetv1.ConditionReady, ovnetv1.ConditionGatewayReady}

func (o *Options) runSubnets(ctx context.Context) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	var subnets ovnetv1.SubnetList
	if err := c.List(ctx, &subnets); err != nil {
		return fmt.Errorf("list subnets: %w", err)
	}
	writeSubnets(o.Stdout, subnets.Items)
	return nil
}

// writeSubnets prints one row per Subnet, sorted by name.
func writeSubnets(w io.Writer, subnets []ovnetv1.Subnet) {
	sort.Slice(subnets, func(i, j int) bool { return subnets[i].Name < subnets[j].Name })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCIDR\tGATEWAY\tEGRESS\tNAT\tUSED\tAVAILABLE\tCONDITIONS")
	for i := range subnets {
		s := &subnets[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.Name, s.Spec.CIDR, orDash(s.Status.Gateway),
			egress(s), natOf(s), s.Status.UsedIPs, s.Status.AvailableIPs, conditionsAtAGlance(s))
	}
	tw.Flush()
}

// egress says where the subnet's traffic leaves: "distributed", the active
// gateway node, or "none (of n1,n2)" while no listed node is ready.
func egress(s *ovnetv1.Subnet) string {
	if s.Spec.GatewayType != ovnetv1.GatewayCentralized {
		return "distributed"
	}
	if s.Status.ActiveGateway != "" {
		return s.Status.ActiveGateway
	}
	return "none (of " + s.Spec.GatewayNode + ")"
}

func natOf(s *ovnetv1.Subnet) string {
	if s.Spec.NATOutgoing != nil && !*s.Spec.NATOutgoing {
		return "off"
	}
	return "on"
}

// conditionsAtAGlance is "ok" when every watched condition is True and no
// other says something, else each that does, "Type=Status(Reason)".
func conditionsAtAGlance(s *ovnetv1.Subnet) string {
	var notes []string
	for _, t := range watchedConditions {
		c := findCondition(s.Status.Conditions, t)
		switch {
		case c == nil && t == ovnetv1.ConditionReady:
			notes = append(notes, "Ready=Unknown(not reconciled)")
		case c != nil && c.Status != metav1.ConditionTrue:
			notes = append(notes, fmt.Sprintf("%s=%s(%s)", c.Type, c.Status, c.Reason))
		}
	}
	for _, c := range s.Status.Conditions {
		if !isWatched(c.Type) && c.Status == metav1.ConditionTrue {
			notes = append(notes, fmt.Sprintf("%s(%s)", c.Type, c.Reason))
		}
	}
	if len(notes) == 0 {
		return "ok"
	}
	return strings.Join(notes, " ")
}

func isWatched(t string) bool {
	for _, w := range watchedConditions {
		if w == t {
			return true
		}
	}
	return false
}

func findCondition(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func parseCSV(out string) ([][]string, error) {
	r := csv.NewReader(strings.NewReader(out))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse csv: %w", err)
	}
	return rows, nil
}
