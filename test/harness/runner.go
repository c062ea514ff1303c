package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
)

// T is what the harness needs of its caller. *testing.T and *testing.B
// satisfy it, so the suites pass their own; a program that is not a test,
// such as the sandbox, passes a Runner.
type T interface {
	Helper()
	Logf(format string, args ...any)
	// Errorf reports a failure and carries on.
	Errorf(format string, args ...any)
	// Fatalf reports a failure and ends the caller's step: a test's
	// goroutine, a Runner's Run.
	Fatalf(format string, args ...any)
	// Failed reports whether Errorf or Fatalf was called; the harness then
	// prints the daemons' error lines.
	Failed() bool
	// Cleanup registers a function run, last registered first, when the
	// test or the Runner ends: it stops what the harness started.
	Cleanup(func())
	// TempDir returns a fresh directory removed by the cleanups.
	TempDir() string
}

// Runner is the T of a program that is not a test: it logs through a
// logr.Logger, turns Fatalf into the error of Run, and runs its cleanups
// on Close. Fatalf must be called from inside Run's function, as
// testing's must be from the test's goroutine.
type Runner struct {
	log logr.Logger

	mu sync.Mutex
	// cleanups are run by Close in reverse order of registration.
	cleanups []func()
	// failures are the messages of Errorf and Fatalf, in order.
	failures []error
	// tempRoot holds every TempDir; created on first use, removed by Close.
	tempRoot string
	// tempDirs counts the directories made under tempRoot.
	tempDirs int
	// keepRoot: tempRoot is the caller's (NewRunnerIn), and Close leaves it.
	keepRoot bool
}

// fatal is the panic value of Fatalf, recovered by Run and Close.
type fatal struct{ err error }

// NewRunner returns a Runner that logs through log.
func NewRunner(log logr.Logger) *Runner {
	return &Runner{log: log}
}

// NewRunnerIn returns a Runner whose temporary directories are made under
// root, which Close leaves in place: a program that keeps its state where
// its user looks for it (the sandbox) removes root itself, when asked to.
// root's path should be short, for unix sockets.
func NewRunnerIn(log logr.Logger, root string) *Runner {
	return &Runner{log: log, tempRoot: root, keepRoot: true}
}

// Helper does nothing: there are no test frames to skip.
func (r *Runner) Helper() {}

// Logf logs the message at info level.
func (r *Runner) Logf(format string, args ...any) {
	r.log.Info(fmt.Sprintf(format, args...))
}

// Errorf logs and records a failure, which Close returns.
func (r *Runner) Errorf(format string, args ...any) {
	r.fail(fmt.Errorf(format, args...))
}

// Fatalf records a failure and ends the current Run.
func (r *Runner) Fatalf(format string, args ...any) {
	err := fmt.Errorf(format, args...)
	r.fail(err)
	panic(fatal{err: err})
}

func (r *Runner) fail(err error) {
	r.log.Error(err, "harness failure")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, err)
}

// Failed reports whether Errorf or Fatalf was called.
func (r *Runner) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.failures) > 0
}

// Cleanup registers f to run on Close.
func (r *Runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// TempDir returns a fresh directory under one root that Close removes
// after the other cleanups. Paths stay short (/tmp/ovnet-run-*/NNN) so
// unix sockets fit in them.
func (r *Runner) TempDir() string {
	dir, err := r.newTempDir()
	if err != nil {
		r.Fatalf("creating temporary directory: %v", err)
	}
	return dir
}

func (r *Runner) newTempDir() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tempRoot == "" {
		root, err := os.MkdirTemp("", "ovnet-run-")
		if err != nil {
			return "", err
		}
		r.tempRoot = root
	}
	// A root of NewRunnerIn may hold an earlier run's directories (its
	// logs, kept): numbering goes on after them.
	for {
		r.tempDirs++
		dir := filepath.Join(r.tempRoot, fmt.Sprintf("%03d", r.tempDirs))
		if err := os.Mkdir(dir, 0o755); !errors.Is(err, os.ErrExist) {
			return dir, err
		}
	}
}

// Run calls step and returns the failure of a Fatalf inside it, nil if
// it returned normally. Other panics go on.
func (r *Runner) Run(step func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			f, ok := v.(fatal)
			if !ok {
				panic(v)
			}
			err = f.err
		}
	}()
	step()
	return nil
}

// Close runs the cleanups, last registered first, each on its own so a
// failing one does not keep the others from stopping what they started,
// removes the temporary directories, and returns every failure reported
// since NewRunner.
func (r *Runner) Close() error {
	for {
		f := r.popCleanup()
		if f == nil {
			break
		}
		_ = r.Run(f) // the failure is recorded by Fatalf
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tempRoot != "" && !r.keepRoot {
		if err := os.RemoveAll(r.tempRoot); err != nil {
			r.failures = append(r.failures, fmt.Errorf("removing temporary directories: %w", err))
		}
		r.tempRoot = ""
	}
	return errors.Join(r.failures...)
}

// popCleanup removes and returns the last registered cleanup; a cleanup
// may register more, which run next.
func (r *Runner) popCleanup() func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cleanups) == 0 {
		return nil
	}
	f := r.cleanups[len(r.cleanups)-1]
	r.cleanups = r.cleanups[:len(r.cleanups)-1]
	return f
}

// stepT is the T of one of several steps run at once: Fatalf ends the
// step (run returns its error) instead of the caller's goroutine, which
// testing forbids from another goroutine. Cleanups go to the caller's T.
type stepT struct {
	T
	running atomic.Bool
}

// Fatalf ends the step; after it (in a cleanup) it only reports.
func (s *stepT) Fatalf(format string, args ...any) {
	if !s.running.Load() {
		s.T.Errorf(format, args...)
		return
	}
	panic(fatal{err: fmt.Errorf(format, args...)})
}

// run calls step and returns the failure of a Fatalf inside it.
func (s *stepT) run(step func()) (err error) {
	s.running.Store(true)
	defer s.running.Store(false)
	defer func() {
		if v := recover(); v != nil {
			f, ok := v.(fatal)
			if !ok {
				panic(v)
			}
			err = f.err
		}
	}()
	step()
	return nil
}
