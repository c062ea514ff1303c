package dashboard

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestMetricNames(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want []string
	}{
		{"bare", "up", []string{"up"}},
		{"rate with matchers and range", `sum by (controller, result) (rate(controller_runtime_reconcile_total{job="$controller_job"}[$__rate_interval]))`,
			[]string{"controller_runtime_reconcile_total"}},
		{"histogram quantile", `histogram_quantile(0.99, sum by (le) (rate(ovnet_cni_request_duration_seconds_bucket{command=~"ADD|DEL"}[5m])))`,
			[]string{"ovnet_cni_request_duration_seconds_bucket"}},
		{"binary with matching", `a_total / on (node) group_left (pod) b_info * 100`, []string{"a_total", "b_info"}},
		{"label values that look like metrics", `x{result!="success", name='y_total'}`, []string{"x"}},
		{"offset and bool", `m1 offset 5m > bool 3`, []string{"m1"}},
		{"without", `sum without (instance) (m2)`, []string{"m2"}},
		{"duplicates", `used / (used + free)`, []string{"free", "used"}},
		{"grafana variable", `m3 > $threshold`, []string{"m3"}},
		{"subquery", `max_over_time(rate(m4[1m])[10m:1m])`, []string{"m4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MetricNames(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("MetricNames(%q) = %v, want %v", tt.expr, got, tt.want)
			}
		})
	}
	if _, err := MetricNames(`{__name__=~"ovnet_.*"}`); err == nil {
		t.Fatal("a __name__ selector passed; its metrics would escape the check")
	}
}

func TestQueries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.json")
	body := `{"panels": [
	  {"title": "a", "targets": [{"expr": "m_a"}]},
	  {"type": "row", "title": "r", "panels": [{"title": "b", "targets": [{"expr": "m_b"}, {"expr": "m_c"}]}]}],
	 "templating": {"list": [
	  {"name": "ds", "type": "datasource", "query": "prometheus"},
	  {"name": "n", "type": "query", "query": {"query": "label_values(m_d{job=\"x\"}, node)"}},
	  {"name": "o", "type": "query", "query": "label_values(m_e, node)"}]}}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	qs, err := Queries(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range qs {
		names, err := MetricNames(q.Expr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, names...)
	}
	if want := []string{"m_a", "m_b", "m_c", "m_d", "m_e"}; !slices.Equal(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}

	if err := os.WriteFile(path, []byte(`{"panels": [{"title": "empty", "targets": [{"expr": ""}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Queries(path); err == nil {
		t.Fatal("a target without an expression passed")
	}
}
