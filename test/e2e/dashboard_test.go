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
	"github.com/ovnet/ovnet/test/dashboard"
	"github.com/ovnet/ovnet/test/harness"
)

// Dashboard queries pick their binary by job: these are the chart's
// Grafana variables for the controller's and the daemons' targets.
const (
	controllerJob = `job="$controller_job"`
	nodeJob       = `job="$node_job"`
)

// TestDashboardMetricsExported holds every metric name the chart's Grafana
// dashboard queries against what the real binaries serve: ovnet-controller
// (a process, leader-elected as the chart runs it) and ovnet-daemon, after
// one pod's ADD and DEL so that series with labels exist. A query naming a
// metric its binary does not export fails the test.
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

	exported := map[string][]string{controllerJob: exportedNames(t, controllerAddr), nodeJob: exportedNames(t, n.MetricsAddr)}
	queries, err := dashboard.Queries(filepath.Join(chartRoot(t), "dashboards", "ovnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	checked := 0
	for _, q := range queries {
		job := jobOf(q.Expr)
		if job == "" {
			t.Errorf("%s: %q names neither %s nor %s", q.Where, q.Expr, controllerJob, nodeJob)
			continue
		}
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
	t.Logf("%d queries, %d metric references checked", len(queries), checked)
}

// jobOf says which binary a query reads: the job matcher it carries.
func jobOf(expr string) string {
	hasController, hasNode := strings.Contains(expr, controllerJob), strings.Contains(expr, nodeJob)
	switch {
	case hasController && !hasNode:
		return controllerJob
	case hasNode && !hasController:
		return nodeJob
	}
	return ""
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
