package chart

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// metricsObject is what the metrics tests read of a rendered object.
type metricsObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
	Spec struct {
		// Selector is a Service's labels, or a ServiceMonitor's or
		// workload's {matchLabels: ...}: see labelSelector.
		Selector  map[string]any `json:"selector"`
		ClusterIP string         `json:"clusterIP"`
		Ports     []struct {
			Name       string `json:"name"`
			Port       int    `json:"port"`
			TargetPort string `json:"targetPort"`
		} `json:"ports"`
		// ServiceMonitor
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
		// Deployment, DaemonSet
		Template struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Containers []struct {
					Ports []struct {
						Name          string `json:"name"`
						ContainerPort int    `json:"containerPort"`
					} `json:"ports"`
				} `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// renderMetrics renders the chart with set and returns its objects by
// kind/name.
func renderMetrics(t *testing.T, set ...string) map[string]metricsObject {
	t.Helper()
	out, err := helmTemplate(t, setArgs(set)...)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]metricsObject{}
	for _, o := range objects(t, out) {
		var m metricsObject
		if err := yaml.Unmarshal([]byte(o.Raw), &m); err != nil {
			t.Fatal(err)
		}
		objs[m.Kind+"/"+m.Metadata.Name] = m
	}
	return objs
}

// TestMetricsOffByDefault: a cluster without the Prometheus Operator or
// Grafana's sidecar gets none of their objects.
func TestMetricsOffByDefault(t *testing.T) {
	for key := range renderMetrics(t) {
		kind, name, _ := strings.Cut(key, "/")
		if kind == "ServiceMonitor" || strings.HasSuffix(name, "-metrics") || name == "ovnet-dashboard" {
			t.Errorf("default render has %s", key)
		}
	}
}

// TestSpeakerMonitorOnlyWithSpeaker: no scrape target for a speaker that
// is not installed.
func TestSpeakerMonitorOnlyWithSpeaker(t *testing.T) {
	objs := renderMetrics(t, "metrics.serviceMonitor.enabled=true")
	if _, ok := objs["ServiceMonitor/ovnet-controller-metrics"]; !ok {
		t.Fatal("no ServiceMonitor for the controller: the render is not the one meant")
	}
	for _, key := range []string{"Service/ovnet-speaker-metrics", "ServiceMonitor/ovnet-speaker-metrics"} {
		if _, ok := objs[key]; ok {
			t.Errorf("speaker off, yet %s rendered", key)
		}
	}
}

// TestServiceMonitors follows what Prometheus would: each ServiceMonitor
// selects its Service, in the release namespace, on the port named
// metrics; the Service selects the pods of its component, whose container
// serves that port number.
func TestServiceMonitors(t *testing.T) {
	objs := renderMetrics(t, append([]string{"metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.interval=15s",
		"metrics.serviceMonitor.namespace=monitoring", "metrics.serviceMonitor.labels.release=kps",
		"controller.metricsPort=20660", "node.metricsPort=20665", "speaker.metricsPort=20667"}, speakerOn...)...)
	tests := []struct {
		service, workload string
		port              int
	}{
		{"ovnet-controller-metrics", "Deployment/ovnet-controller", 20660},
		{"ovnet-node-metrics", "DaemonSet/ovnet-node", 20665},
		{"ovnet-speaker-metrics", "DaemonSet/ovnet-speaker", 20667},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			sm, ok := objs["ServiceMonitor/"+tt.service]
			if !ok {
				t.Fatal("no ServiceMonitor")
			}
			if sm.Metadata.Namespace != "monitoring" || sm.Metadata.Labels["release"] != "kps" {
				t.Errorf("ServiceMonitor namespace %q labels %v; want monitoring and release=kps", sm.Metadata.Namespace, sm.Metadata.Labels)
			}
			if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Interval != "15s" {
				t.Errorf("endpoints %+v; want port metrics every 15s", sm.Spec.Endpoints)
			}
			if got := sm.Spec.NamespaceSelector.MatchNames; len(got) != 1 || got[0] != "kube-system" {
				t.Errorf("namespaceSelector %v; want the release namespace", got)
			}
			svc, ok := objs["Service/"+tt.service]
			if !ok {
				t.Fatal("no Service")
			}
			if svc.Metadata.Namespace != "kube-system" || svc.Spec.ClusterIP != "None" {
				t.Errorf("Service in %q clusterIP %q; want headless in kube-system", svc.Metadata.Namespace, svc.Spec.ClusterIP)
			}
			if !selects(labelSelector(sm.Spec.Selector), svc.Metadata.Labels) {
				t.Errorf("ServiceMonitor selector %v does not select the Service's labels %v", labelSelector(sm.Spec.Selector), svc.Metadata.Labels)
			}
			for key, other := range objs {
				if strings.HasPrefix(key, "Service/") && key != "Service/"+tt.service && selects(labelSelector(sm.Spec.Selector), other.Metadata.Labels) {
					t.Errorf("ServiceMonitor also selects %s", key)
				}
			}
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "metrics" || svc.Spec.Ports[0].Port != tt.port || svc.Spec.Ports[0].TargetPort != "metrics" {
				t.Errorf("Service ports %+v; want metrics %d", svc.Spec.Ports, tt.port)
			}
			w := objs[tt.workload]
			if !selects(labelSelector(svc.Spec.Selector), w.Spec.Template.Metadata.Labels) {
				t.Errorf("Service selector %v does not select %s's pods %v", svc.Spec.Selector, tt.workload, w.Spec.Template.Metadata.Labels)
			}
			served := false
			for _, c := range w.Spec.Template.Spec.Containers {
				for _, p := range c.Ports {
					served = served || p.Name == "metrics" && p.ContainerPort == tt.port
				}
			}
			if !served {
				t.Errorf("no container of %s serves port metrics %d", tt.workload, tt.port)
			}
		})
	}
}

// labelSelector is the labels a selector asks for: a ServiceMonitor's
// matchLabels or a Service's selector itself.
func labelSelector(sel map[string]any) map[string]string {
	if inner, ok := sel["matchLabels"].(map[string]any); ok {
		sel = inner
	}
	out := map[string]string{}
	for k, v := range sel {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// selects says whether every label of selector is in labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestDashboardConfigMap: the ConfigMap Grafana's sidecar loads holds the
// chart's dashboard file unchanged, with the sidecar's label.
func TestDashboardConfigMap(t *testing.T) {
	objs := renderMetrics(t, "metrics.dashboard.enabled=true", "metrics.dashboard.namespace=monitoring",
		"metrics.dashboard.labels.team=net")
	cm, ok := objs["ConfigMap/ovnet-dashboard"]
	if !ok {
		t.Fatal("no ConfigMap ovnet-dashboard")
	}
	if cm.Metadata.Namespace != "monitoring" || cm.Metadata.Labels["grafana_dashboard"] != "1" || cm.Metadata.Labels["team"] != "net" {
		t.Errorf("ConfigMap in %q labelled %v; want monitoring, grafana_dashboard=1 and team=net", cm.Metadata.Namespace, cm.Metadata.Labels)
	}
	want := readFile(t, filepath.Join(chartDir(t), "dashboards", "ovnet.json"))
	if got := cm.Data["ovnet.json"]; got != strings.TrimRight(want, "\n") {
		t.Errorf("ovnet.json in the ConfigMap differs from dashboards/ovnet.json")
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []any  `json:"panels"`
	}
	if err := json.Unmarshal([]byte(cm.Data["ovnet.json"]), &d); err != nil || d.UID == "" || len(d.Panels) == 0 {
		t.Errorf("dashboard: %v, uid %q, %d panels", err, d.UID, len(d.Panels))
	}
}

// TestDashboardJobs: every job variable of the dashboard (controller_job,
// node_job, speaker_job) names a metrics Service the chart renders, as the
// ServiceMonitors make each target's job label its Service's name; a
// panel filtering on a job no Service has would stay empty.
func TestDashboardJobs(t *testing.T) {
	objs := renderMetrics(t, append([]string{"metrics.serviceMonitor.enabled=true"}, speakerOn...)...)
	var d struct {
		Templating struct {
			List []struct {
				Name string `json:"name"`
				Type string `json:"type"`
				// Query is a string for a custom variable, an object
				// for a query variable.
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(chartDir(t), "dashboards", "ovnet.json"))), &d); err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, v := range d.Templating.List {
		if !strings.HasSuffix(v.Name, "_job") {
			continue
		}
		jobs = append(jobs, v.Name)
		var job string
		if err := json.Unmarshal(v.Query, &job); err != nil || v.Type != "custom" {
			t.Errorf("variable %s: type %q, query %s (%v); want a custom one naming a job", v.Name, v.Type, v.Query, err)
			continue
		}
		if _, ok := objs["ServiceMonitor/"+job]; !ok {
			t.Errorf("variable %s names job %q, which no ServiceMonitor's Service is", v.Name, job)
		}
	}
	if len(jobs) != 3 {
		t.Errorf("job variables %v, want controller_job, node_job and speaker_job", jobs)
	}
}
