package wait

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder is a TB that records the failure instead of ending the test.
type recorder struct{ failure string }

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failure = fmt.Sprintf(format, args...)
}

// holdsAfter returns a Condition that fails n times, saying which try it
// is, and then holds; n < 0 never holds.
func holdsAfter(n int, tries *int) Condition {
	return func() error {
		*tries++
		if n < 0 || *tries <= n {
			return fmt.Errorf("try %d", *tries)
		}
		return nil
	}
}

func TestUntil(t *testing.T) {
	errGone := errors.New("process exited")
	tests := []struct {
		name    string
		timeout time.Duration
		// failures before cond holds; -1 never holds.
		failures int
		// stop makes cond return Stop(errGone) on its first try.
		stop bool
		// cancel cancels the context before the wait.
		cancel bool
		// wantErr lists substrings of the error; none means success.
		wantErr   []string
		wantIs    error
		wantTries func(int) bool
	}{
		{name: "holds at once", timeout: time.Second, wantTries: func(n int) bool { return n == 1 }},
		{name: "holds after three tries", timeout: time.Second, failures: 3,
			wantTries: func(n int) bool { return n == 4 }},
		{name: "never holds", timeout: 200 * time.Millisecond, failures: -1,
			wantErr:   []string{"the thing: not within 200ms: try "},
			wantTries: func(n int) bool { return n > 2 }},
		{name: "zero timeout tries once", timeout: 0, failures: -1,
			wantErr:   []string{"the thing: not within 0s: try 1"},
			wantTries: func(n int) bool { return n == 1 }},
		{name: "stop ends the wait at once", timeout: time.Minute, stop: true,
			wantErr: []string{"the thing: process exited"}, wantIs: errGone,
			wantTries: func(n int) bool { return n == 1 }},
		{name: "cancelled context", timeout: time.Minute, failures: -1, cancel: true,
			wantErr: []string{"the thing: context canceled (last: try 1)"}, wantIs: context.Canceled,
			wantTries: func(n int) bool { return n == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tries := 0
			cond := holdsAfter(tt.failures, &tries)
			if tt.stop {
				cond = func() error { tries++; return Stop(errGone) }
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			start := time.Now()
			err := Until(ctx, tt.timeout, "the thing", cond)
			elapsed := time.Since(start)

			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("Until() = %v, want nil", err)
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Until() = %v, want it to contain %q", err, want)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Until() = %v, want errors.Is %v", err, tt.wantIs)
			}
			if !tt.wantTries(tries) {
				t.Errorf("cond tried %d times", tries)
			}
			// Bounded: never much past the timeout, and a timeout is not
			// reported early.
			if elapsed > tt.timeout+time.Second {
				t.Errorf("Until() took %s with timeout %s", elapsed, tt.timeout)
			}
			if tt.failures < 0 && !tt.cancel && elapsed < tt.timeout {
				t.Errorf("Until() gave up after %s, before the timeout %s", elapsed, tt.timeout)
			}
		})
	}
}

func TestFor(t *testing.T) {
	tests := []struct {
		name        string
		failures    int
		wantFailure string
	}{
		{name: "holds", failures: 2},
		{name: "times out with the last observation", failures: -1,
			wantFailure: "port p1: not within 100ms: try "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recorder
			tries := 0
			For(&r, 100*time.Millisecond, "port p1", holdsAfter(tt.failures, &tries))
			if tt.wantFailure == "" && r.failure != "" {
				t.Errorf("For() failed: %s", r.failure)
			}
			if !strings.HasPrefix(r.failure, tt.wantFailure) {
				t.Errorf("For() failure = %q, want prefix %q", r.failure, tt.wantFailure)
			}
		})
	}
}

func TestPauses(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		poller Poller
		want   []time.Duration
	}{
		{name: "default grows gently to its cap", poller: Default,
			want: []time.Duration{10 * ms, 15 * ms, 22500 * time.Microsecond, 33750 * time.Microsecond,
				50625 * time.Microsecond, 75937500 * time.Nanosecond, 100 * ms, 100 * ms}},
		{name: "zero poller is the default", poller: Poller{},
			want: []time.Duration{10 * ms, 15 * ms, 22500 * time.Microsecond}},
		{name: "every is constant", poller: Every(ms), want: []time.Duration{ms, ms, ms}},
		{name: "max below first is constant", poller: Poller{First: 20 * ms, Max: ms},
			want: []time.Duration{20 * ms, 20 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pause := tt.poller.first()
			for i, want := range tt.want {
				if pause != want {
					t.Fatalf("pause %d = %s, want %s", i, pause, want)
				}
				pause = tt.poller.next(pause)
			}
		})
	}
}
