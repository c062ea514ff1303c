package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestRetriesBackOffAndReportChanges(t *testing.T) {
	r := newRetries()
	pod := types.NamespacedName{Namespace: "ns", Name: "p"}
	start := time.Unix(0, 0)
	steps := []struct {
		name      string
		reason    string
		after     time.Duration
		wantDelay time.Duration
		wantEvent bool
	}{
		{"first failure is reported", "taken", 0, retryWaiting, true},
		{"same reason: quiet, twice the wait", "taken", 10 * time.Second, 2 * retryWaiting, false},
		{"again", "taken", 30 * time.Second, 4 * retryWaiting, false},
		{"new reason: reported, wait reset", "full", 70 * time.Second, retryWaiting, true},
		{"backoff is capped", "full", 80 * time.Second, 2 * retryWaiting, false},
		{"backoff is capped 2", "full", 100 * time.Second, 4 * retryWaiting, false},
		{"backoff is capped 3", "full", 140 * time.Second, 8 * retryWaiting, false},
		{"backoff is capped 4", "full", 220 * time.Second, 16 * retryWaiting, false},
		{"backoff is capped 5", "full", 380 * time.Second, maxRetryWaiting, false},
		{"a long wait is reported again before its Event expires", "full", 70*time.Second + eventRepeat, maxRetryWaiting, true},
	}
	for _, st := range steps {
		delay, event := r.failed(pod, st.reason, start.Add(st.after))
		if delay != st.wantDelay || event != st.wantEvent {
			t.Fatalf("%s: delay %s event %v, want %s %v", st.name, delay, event, st.wantDelay, st.wantEvent)
		}
	}
	r.forget(pod)
	if _, event := r.failed(pod, "full", start.Add(time.Hour)); !event {
		t.Fatal("a pod forgotten and failing again is not reported")
	}
}
