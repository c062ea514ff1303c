package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/speaker"
	"github.com/ovnet/ovnet/test/dashboard"
	"github.com/ovnet/ovnet/test/harness"
)

// Dashboard queries pick their binary by job: these are the chart's
// Grafana variables for the controller's, the daemons' and the speakers'
// targets.
const (
	controllerJob = `job="$controller_job"`
	nodeJob       = `job="$node_job"`
	speakerJob    = `job="$speaker_job"`
)

// dashboardJobs are the jobs a dashboard query may name.
var dashboardJobs = []string{controllerJob, nodeJob, speakerJob}

// TestDashboardMetricsExported holds every metric name the chart's Grafana
// dashboard queries against what the real binaries serve: ovnet-controller
// (a process, leader-elected as the chart runs it) and ovnet-daemon, after
// one pod's ADD and DEL so that series with labels exist, and
// ovnet-speaker with one peer configured (its session need not come up
// for the peer's series to exist). A query naming a metric its binary
// does not export fails the test.
func TestDashboardMetricsExported(t *testing.T) {
	e := &env{t: t, ctx: context.Background()}
	e.api = harness.StartAPIServer(t, harness.APIServerOptions{})
	e.ovn = harness.StartOVNCentral(t)
	c, err := client.New(e.api.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	controllerAddr := harness.FreeAddr(t)
	harness.StartControllerProcess(t, harness.BuildController(t), e.api, e.ovn.NB,
		"--metrics-bind-address="+controllerAddr, "--leader-elect=true", "--leader-elect-namespace=kube-system")
	n := e.node("n1")
	rt := n.Runtime(t)
	pod := rt.AddPod(t, e.pod("default", "a", "n1", nil))
	if err := rt.Del(e.ctx, pod); err != nil {
		t.Fatalf("DEL: %v", err)
	}

	// A peer nobody answers for: its series exist, with the session down,
	// once the session monitor has read GoBGP.
	peer := speaker.Peer{Address: harness.ExternalHostIP.String(), AS: routerAS}
	sp := harness.StartSpeaker(t, harness.SpeakerOptions{Node: n, API: e.api, Address: nodeAddr(0),
		Config: speaker.Config{LocalAS: clusterAS, Peers: []speaker.Peer{peer}}})
	speakerMetrics(t, sp, map[string]float64{peerUp(peer): 0})

	exported := map[string][]string{controllerJob: exportedNames(t, controllerAddr), nodeJob: exportedNames(t, n.MetricsAddr),
		speakerJob: exportedNames(t, sp.MetricsAddr)}
	queries, err := dashboard.Queries(filepath.Join(chartRoot(t), "dashboards", "ovnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	checked, perJob := 0, map[string]int{}
	for _, q := range queries {
		job := jobOf(q.Expr)
		if job == "" {
			t.Errorf("%s: %q names not exactly one of %v", q.Where, q.Expr, dashboardJobs)
			continue
		}
		perJob[job]++
		names, err := dashboard.MetricNames(q.Expr)
		if err != nil {
			t.Errorf("%s: %v", q.Where, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: no metric name found in %q", q.Where, q.Expr)
		}
		for _, name := range names {
			checked++
			if !slices.Contains(exported[job], name) {
				t.Errorf("%s queries %s, which the binary of %s does not export", q.Where, name, job)
			}
		}
	}
	// Each binary has its panels: a whole row lost would pass the check
	// above.
	for _, job := range dashboardJobs {
		if perJob[job] == 0 {
			t.Errorf("no dashboard query reads %s", job)
		}
	}
	t.Logf("%d queries (%v by job), %d metric references checked", len(queries), perJob, checked)
}

// jobOf says which binary a query reads: the one job matcher it carries,
// "" for none or several.
func jobOf(expr string) string {
	found := ""
	for _, job := range dashboardJobs {
		if !strings.Contains(expr, job) {
			continue
		}
		if found != "" {
			return ""
		}
		found = job
	}
	return found
}

// exportedNames scrapes addr's /metrics and returns the series names a
// PromQL query can select: a histogram's _bucket, _sum and _count, a
// summary's quantiles, _sum and _count, every other family by its name.
func exportedNames(t *testing.T, addr string) []string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(prommodel.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics of %s: %v", addr, err)
	}
	var names []string
	for name, f := range families {
		if len(f.GetMetric()) == 0 {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names = append(names, name+"_bucket", name+"_sum", name+"_count")
		case dto.MetricType_SUMMARY:
			names = append(names, name, name+"_sum", name+"_count")
		default:
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// chartRoot is charts/ovnet, found from this file.
func chartRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "charts", "ovnet")
}
