package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	uberzap "go.uber.org/zap"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// A logger with deferred values writes the lines the logger it wraps
// would, values, names and caller included.
func TestLazyValuesWriteTheSameLines(t *testing.T) {
	tests := []struct {
		name  string
		write func(log logr.Logger)
	}{
		{"values then info", func(log logr.Logger) {
			log.WithValues("a", 1).WithValues("b", "two").Info("hello", "c", true)
		}},
		{"error", func(log logr.Logger) { log.WithValues("a", 1).Error(errors.New("boom"), "failed", "c", 3) }},
		{"name between values", func(log logr.Logger) {
			log.WithValues("a", 1).WithName("sub").WithValues("b", 2).Info("named")
		}},
		{"disabled level writes nothing", func(log logr.Logger) { log.WithValues("a", 1).V(1).Info("quiet") }},
		{"siblings keep their own values", func(log logr.Logger) {
			base := log.WithValues("a", 1)
			first, second := base.WithValues("b", 1), base.WithValues("b", 2)
			second.Info("second")
			first.Info("first")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var plain, lazy bytes.Buffer
			tt.write(newTestLogger(&plain))
			tt.write(withLazyValues(newTestLogger(&lazy)))
			want, got := lines(t, &plain), lines(t, &lazy)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("lines differ:\nwant %s\ngot  %s", want, got)
			}
			for _, line := range got {
				if !strings.Contains(line, `"caller":"controller/lazylog_test.go:`) {
					t.Fatalf("line names the wrong caller: %s", line)
				}
			}
		})
	}
}

// newTestLogger is the controller's zap logger (JSON, caller on) writing to w.
func newTestLogger(w *bytes.Buffer) logr.Logger {
	return zap.New(zap.WriteTo(w), zap.RawZapOpts(uberzap.AddCaller()))
}

// lines returns the written lines without their time stamps, which differ
// between the two loggers, and without line numbers, which differ between
// the two calls of write.
func lines(t *testing.T, buf *bytes.Buffer) []string {
	t.Helper()
	var out []string
	for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if raw == "" {
			continue
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(raw), &line); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		delete(line, "ts")
		if caller, ok := line["caller"].(string); ok {
			line["caller"] = caller[:strings.LastIndex(caller, ":")+1]
		}
		if stack, ok := line["stacktrace"].(string); ok {
			line["stacktrace"] = functionsOf(stack)
		}
		b, _ := json.Marshal(line)
		out = append(out, string(b))
	}
	return out
}

// functionsOf keeps the functions of a zap stack trace, one per frame.
func functionsOf(stack string) []string {
	var functions []string
	for _, frame := range strings.Split(stack, "\n") {
		if !strings.HasPrefix(frame, "\t") {
			functions = append(functions, frame)
		}
	}
	return functions
}
