package harness

import (
	"strings"
	"testing"
)

// TestExplainExit: the failure message of a program that died of a known
// defect names it; any other death adds nothing.
func TestExplainExit(t *testing.T) {
	for _, tc := range []struct {
		name, tail, want string
	}{
		{"ovs 3.1.0 conntrack abort",
			"2026-12-02T19:44:01Z|00123|util|EMER|lib/conntrack.c:1063: assertion conn->conn_type == CT_CONN_TYPE_DEFAULT failed in conn_update_state()",
			"fixed upstream in 3.1.3"},
		{"other exit", "ovs-vswitchd: terminating with signal 15", ""},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := explainExit(tc.tail)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("explainExit(%q) = %q, want it to contain %q", tc.tail, got, tc.want)
			}
		})
	}
}
