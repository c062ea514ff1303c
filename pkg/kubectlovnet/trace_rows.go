package kubectlovnet

import (
	"context"
	"fmt"
	"strings"

	"github.com/ovnet/ovnet/pkg/ovn"
)

// NB tables whose rows northd names in a logical flow's stage-hint.
const (
	tableACL    = "ACL"
	tablePolicy = "Logical_Router_Policy"
	tableRoute  = "Logical_Router_Static_Route"
)

// nbRow is an NB row that wrote a logical flow the packet met.
type nbRow struct {
	Table string
	// Text says what the row does, for the summary.
	Text  string
	Owner ovn.Owner
	// Ours is false for rows ovnet did not write.
	Ours bool
}

// rowReader reads one NB table into nbRows.
type rowReader struct {
	table   string
	columns []string
	// text formats the row's columns after _uuid (external_ids last, not passed).
	text func(cols []string) string
}

var rowReaders = []rowReader{
	{tableACL, []string{"direction", "action", "name"}, func(c []string) string {
		return fmt.Sprintf("%s %s  name %q", c[0], c[1], c[2])
	}},
	{tablePolicy, []string{"priority", "action", "nexthops", "match"}, func(c []string) string {
		return fmt.Sprintf("priority %s  %s  match %s", c[0], strings.TrimSpace(c[1]+" "+c[2]), c[3])
	}},
	{tableRoute, []string{"ip_prefix", "nexthop", "policy"}, func(c []string) string {
		return strings.TrimSpace(fmt.Sprintf("%s via %s %s", c[0], c[1], c[2]))
	}},
}

// explainingRows maps each flow the packet met (by the UUID prefix
// ovn-trace prints) to the NB row its stage-hint names, where one does.
func (t *tracer) explainingRows(ctx context.Context, res traceResult) (map[string]nbRow, error) {
	met := map[string]bool{}
	for _, f := range res.Flows {
		met[f.UUID] = true
	}
	hints, err := t.stageHints(ctx, met)
	if err != nil {
		return nil, err
	}
	byHint := map[string]nbRow{}
	for _, r := range rowReaders {
		if err := t.readRows(ctx, r, byHint); err != nil {
			return nil, err
		}
	}
	rows := map[string]nbRow{}
	for flow, hint := range hints {
		if row, ok := byHint[hint]; ok {
			rows[flow] = row
		}
	}
	return rows, nil
}

// readRows adds the table's rows to byHint under the first 8 hex digits
// of their UUID, as northd writes them into stage-hint.
func (t *tracer) readRows(ctx context.Context, r rowReader, byHint map[string]nbRow) error {
	columns := append(append([]string{"_uuid"}, r.columns...), "external_ids")
	rows, err := listRows(ctx, "ovn-nbctl", t.nb, r.table, columns...)
	if err != nil {
		return err
	}
	for _, cols := range rows {
		if len(cols) != len(columns) || len(cols[0]) < 8 {
			continue
		}
		row := nbRow{Table: r.table, Text: r.text(cols[1 : len(cols)-1])}
		row.Owner, row.Ours = ovn.OwnerOf(parseMap(cols[len(cols)-1]))
		byHint[cols[0][:8]] = row
	}
	return nil
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
		if len(r) != 2 || len(r[0]) < 8 || !wanted[r[0][:8]] {
			continue
		}
		if hint := parseMap(r[1])["stage-hint"]; hint != "" {
			hints[r[0][:8]] = hint
		}
	}
	return hints, nil
}
