package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// The controller binary serves the metrics a user would graph. It is given
// a list of northbound endpoints whose first member is down, as happens
// with a Raft cluster, and must use the next.
func TestMetricsEndpoint(t *testing.T) {
	e := newParts(t)
	addr := harness.FreeAddr(t)
	harness.StartControllerProcess(t, harness.BuildController(t), e.api, e.nb, "--metrics-bind-address="+addr,
		"--nb-address=unix:"+t.TempDir()+"/down.sock,"+e.nb.Endpoint)
	e.namespace("m", map[string]string{annotation.CIDR: "10.55.0.0/24"})
	for i := range 3 {
		e.pod("m", fmt.Sprintf("p%d", i), nil)
		e.addressed("m", fmt.Sprintf("p%d", i))
	}
	want := []string{
		`ovnet_subnet_used_addresses{subnet="m"} 3`,
		`ovnet_subnet_available_addresses{subnet="m"} 250`,
		`ovnet_subnet_used_addresses{subnet="ovn-default"} 0`,
		`ovnet_nb_transaction_duration_seconds_count`,
		`ovnet_nb_transaction_errors_total 0`,
		`ovnet_pod_address_latency_seconds_count 3`,
		`ovnet_subnet_gateway_ready{active_gateway="",subnet="m"} 1`,
	}
	e.eventually("metrics", func() error {
		body, err := harness.FetchMetrics(addr)
		if err != nil {
			return err
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				return fmt.Errorf("/metrics lacks %q", w)
			}
		}
		return nil
	})
}
