package daemon

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/ovnet/ovnet/pkg/annotation"
)

// The pod reconciler wakes for the annotations it applies, and only
// for those: a pod's other updates (status, labels) cost nothing.
func TestAppliedAnnotationsChanged(t *testing.T) {
	pod := func(annotations map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", Annotations: annotations}}
	}
	base := map[string]string{annotation.IngressRate: "10", annotation.GatewayWritten: "10.16.0.1", "other": "x"}
	with := func(key, value string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		out[key] = value
		return out
	}
	tests := []struct {
		name  string
		after map[string]string
		want  bool
	}{
		{"nothing changed", base, false},
		{"another annotation", with("other", "y"), false},
		{"ingress rate", with(annotation.IngressRate, "20"), true},
		{"egress bandwidth", with(annotation.EgressBandwidth, "5M"), true},
		{"mirror", with(annotation.Mirror, annotation.True), true},
		{"gateway moved", with(annotation.GatewayWritten, "10.16.0.254"), true},
		{"cidr widened", with(annotation.CIDRWritten, "10.16.0.0/15"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := event.UpdateEvent{ObjectOld: pod(base), ObjectNew: pod(tt.after)}
			if got := appliedAnnotationsChanged.Update(e); got != tt.want {
				t.Fatalf("Update passes = %v, want %v", got, tt.want)
			}
		})
	}
	if appliedAnnotationsChanged.Delete(event.DeleteEvent{Object: pod(base)}) {
		t.Error("a deletion passes; DEL removes the pod's ports")
	}
	if !appliedAnnotationsChanged.Create(event.CreateEvent{Object: pod(base)}) {
		t.Error("a creation does not pass; a restarted daemon would not re-check running pods")
	}
}
