package wait

import (
	"context"
	"errors"
	"fmt"
	"time"
)

const (
	// firstInterval is the first pause between tries: short, because most
	// awaited states (a socket, a row, an annotation) arrive within
	// milliseconds and a test should not sleep longer than they take.
	firstInterval = 10 * time.Millisecond
	// maxInterval caps the pause as it grows, so a slow state is still seen
	// within a tenth of a second of arriving while a long wait does not
	// spin against an API server on a shared machine.
	maxInterval = 100 * time.Millisecond
	// growth is the factor the pause grows by after each failed try.
	growth = 1.5
)

// Condition reports whether the awaited state holds: nil when it does, else
// an error saying what was observed instead. The last such error is the
// reason given on timeout, so it should name what is missing ("2 of 3 ports",
// not "not yet"). Returning Stop(err) ends the wait at once with err.
type Condition func() error

// TB is the part of testing.TB that For needs; *testing.T, *testing.B and
// the harness's non-test runner satisfy it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Poller polls a Condition with pauses that start at one interval and grow
// gently up to a cap. The zero Poller is Default.
type Poller struct {
	// First is the first pause; Default's when zero.
	First time.Duration
	// Max caps the pause; First when zero or below it, making it constant.
	Max time.Duration
}

// Default starts at 10ms and grows to 100ms.
var Default = Poller{First: firstInterval, Max: maxInterval}

// Every polls at a constant interval, for waits whose end time is measured
// (a benchmark's convergence) and must be seen within that resolution.
func Every(interval time.Duration) Poller {
	return Poller{First: interval, Max: interval}
}

// For waits with the Default poller; see Poller.For.
func For(tb TB, timeout time.Duration, what string, cond Condition) {
	tb.Helper()
	if err := Default.Until(context.Background(), timeout, what, cond); err != nil {
		tb.Fatalf("%v", err)
	}
}

// Until waits with the Default poller; see Poller.Until.
func Until(ctx context.Context, timeout time.Duration, what string, cond Condition) error {
	return Default.Until(ctx, timeout, what, cond)
}

// For tries cond until it returns nil, failing tb with what and cond's last
// error once timeout has passed or cond returned Stop.
func (p Poller) For(tb TB, timeout time.Duration, what string, cond Condition) {
	tb.Helper()
	if err := p.Until(context.Background(), timeout, what, cond); err != nil {
		tb.Fatalf("%v", err)
	}
}

// Until tries cond until it returns nil and then returns nil. It returns an
// error naming what and cond's last error once timeout has passed (cond is
// tried at least once, and once more at the deadline), cond returned Stop,
// or ctx is done.
func (p Poller) Until(ctx context.Context, timeout time.Duration, what string, cond Condition) error {
	deadline := time.Now().Add(timeout)
	pause := p.first()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var stop *stopError
		if errors.As(err, &stop) {
			return fmt.Errorf("%s: %w", what, stop.err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%s: not within %s: %w", what, timeout, err)
		}
		timer := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%s: %w (last: %v)", what, ctx.Err(), err)
		case <-timer.C:
		}
		pause = p.next(pause)
	}
}

func (p Poller) first() time.Duration {
	if p.First <= 0 {
		return Default.First
	}
	return p.First
}

func (p Poller) next(pause time.Duration) time.Duration {
	if p.First <= 0 && p.Max <= 0 {
		return Default.next(pause)
	}
	return min(max(p.Max, p.first()), time.Duration(float64(pause)*growth))
}

// Stop marks err as final: a Condition returns Stop(err) when waiting longer
// cannot help, such as when the process that should open a socket has exited.
func Stop(err error) error {
	if err == nil {
		err = errors.New("stopped")
	}
	return &stopError{err: err}
}

type stopError struct{ err error }

func (s *stopError) Error() string { return s.err.Error() }
func (s *stopError) Unwrap() error { return s.err }
