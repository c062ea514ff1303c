package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/ovnet/ovnet/test/harness"
)

// superviseArg is the hidden subcommand the program re-executes itself with.
const superviseArg = "supervise"

// StartSupervisor runs this program again as the sandbox's supervisor, in
// a session of its own (setsid) so it outlives `make sandbox` and the
// terminal, its output in the supervisor log.
func StartSupervisor(cfg Config) (*os.Process, error) {
	if err := os.MkdirAll(cfg.logDir(), 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", cfg.logDir(), err)
	}
	out, err := os.OpenFile(cfg.supervisorLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the supervisor log: %w", err)
	}
	defer out.Close()
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program: %w", err)
	}
	cmd := exec.Command(self, superviseArg)
	cmd.Dir = cfg.Repo
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the supervisor: %w", err)
	}
	return cmd.Process, nil
}

// recorder keeps the state file in step with what the sandbox made, as it
// makes it, so down can remove it even after a crash. A recorder without
// a path (TestKubelet's) only holds the state.
type recorder struct {
	path string
	mu   sync.Mutex
	st   State
}

// update changes the state and writes it.
func (r *recorder) update(change func(*State)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	change(&r.st)
	if r.path == "" {
		return nil
	}
	return r.st.Save(r.path)
}

func (r *recorder) state() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// Supervise is the supervisor: it brings the sandbox up on a harness
// Runner whose temporary directories are under Dir/run, and keeps it until
// SIGTERM or SIGINT (down), when the Runner's cleanups stop every process,
// namespace and mount. SIGHUP (`up` again) rebuilds the image and upgrades
// the release when something changed. A sandbox that failed to come up is
// kept as it is for inspection until down.
func Supervise(cfg Config, log logr.Logger) error {
	self, err := Self()
	if err != nil {
		return fmt.Errorf("supervisor: %w", err)
	}
	if err := os.MkdirAll(cfg.runDir(), 0o755); err != nil {
		return fmt.Errorf("supervisor: %w", err)
	}
	rec := &recorder{path: cfg.statePath(), st: State{Supervisor: self, Phase: PhaseStarting, Started: time.Now()}}
	if err := rec.update(func(*State) {}); err != nil {
		return fmt.Errorf("supervisor: %w", err)
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)

	runner := harness.NewRunnerIn(log, cfg.runDir())
	var sb *Sandbox
	upErr := runner.Run(func() { sb = up(runner, cfg, rec, log) })
	if upErr != nil {
		log.Error(upErr, "the sandbox did not come up; it stays as it is until `make sandbox-down`")
		_ = rec.update(func(s *State) { s.Phase, s.Error = PhaseFailed, upErr.Error() })
	} else {
		_ = rec.update(func(s *State) { s.Phase, s.Error, s.Ready = PhaseUp, "", time.Now() })
		log.Info("sandbox up", "dir", cfg.Dir)
	}
	for sig := range signals {
		if sig != syscall.SIGHUP {
			break
		}
		if sb == nil {
			log.Info("not upgrading: the sandbox did not come up")
			continue
		}
		_ = rec.update(func(s *State) { s.Phase = PhaseUpgrading })
		err := runner.Run(func() { sb.Upgrade(runner, rec) })
		if err != nil {
			log.Error(err, "upgrade failed; the release is as helm left it")
		}
		_ = rec.update(func(s *State) { s.Phase, s.Error, s.Upgrades = PhaseUp, errString(err), s.Upgrades+1 })
	}
	log.Info("stopping the sandbox")
	_ = rec.update(func(s *State) { s.Phase = PhaseStopping })
	closeErr := runner.Close()
	if closeErr != nil {
		log.Error(closeErr, "cleanup reported failures")
	}
	log.Info("sandbox stopped")
	return errors.Join(upErr, closeErr)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
