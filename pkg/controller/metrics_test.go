package controller

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ovnet/ovnet/pkg/ipam"
)

// A pod's address latency is counted once per pod, however many times a
// reconcile reading a stale cache records it.
func TestAddressLatencyCountsEachPodOnce(t *testing.T) {
	created := metav1.NewTime(time.Now().Add(-time.Second))
	pod := func(uid types.UID) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p", UID: uid, CreationTimestamp: created}}
	}
	key := types.NamespacedName{Namespace: "a", Name: "p"}
	tests := []struct {
		name  string
		steps func(m *Metrics)
		want  uint64
	}{
		{"one record", func(m *Metrics) { m.observeAddressed(pod("1")) }, 1},
		{"recorded again from a stale cache", func(m *Metrics) {
			m.observeAddressed(pod("1"))
			m.observeAddressed(pod("1"))
		}, 1},
		{"released, then a pod of the same name", func(m *Metrics) {
			m.observeAddressed(pod("1"))
			m.forgetPod(key)
			m.observeAddressed(pod("2"))
		}, 2},
		{"recreated before its release was seen", func(m *Metrics) {
			m.observeAddressed(pod("1"))
			m.observeAddressed(pod("2"))
		}, 2},
		{"no creation time", func(m *Metrics) {
			m.observeAddressed(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p", UID: "1"}})
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMetrics(prometheus.NewRegistry(), ipam.New(), nil)
			tt.steps(m)
			if got := latencyCount(t, m); got != tt.want {
				t.Errorf("ovnet_pod_address_latency_seconds_count = %d, want %d", got, tt.want)
			}
		})
	}
}

func latencyCount(t *testing.T, m *Metrics) uint64 {
	t.Helper()
	var out dto.Metric
	if err := m.addressLatency.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetHistogram().GetSampleCount()
}
