package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// upTimeout bounds `up` waiting for the supervisor: a cold image build
// takes minutes, the cluster well under one.
const upTimeout = 15 * time.Minute

// Up starts the sandbox in cfg.Dir through a detached supervisor and
// follows its log until it is up or failed, then shows the result. With
// the sandbox already up it asks the supervisor to rebuild and upgrade
// what changed.
func Up(cfg Config, out io.Writer) error {
	st, err := LoadState(cfg.statePath())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case !st.Supervisor.Alive():
		return fmt.Errorf("a sandbox whose supervisor (pid %d) is gone left its state in %s: run `make sandbox-down` first", st.Supervisor.PID, cfg.Dir)
	case st.Phase == PhaseUp:
		return upgrade(cfg, st, out)
	default:
		return fmt.Errorf("the sandbox in %s is %s (supervisor pid %d): follow it with `make sandbox-logs`, stop it with `make sandbox-down`", cfg.Dir, st.Phase, st.Supervisor.PID)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", cfg.Dir, err)
	}
	follow := newLogFollower(cfg.supervisorLog(), out)
	follow.skipExisting() // a log kept by KEEP_LOGS=1 is an earlier sandbox's
	p, err := StartSupervisor(cfg)
	if err != nil {
		return err
	}
	pid := p.Pid // Release forgets it
	sup, err := processOf(pid)
	_ = p.Release()
	if err != nil {
		return fmt.Errorf("the supervisor (pid %d) exited at once; see %s", pid, cfg.supervisorLog())
	}
	fmt.Fprintf(out, "sandbox: supervisor pid %d, log %s\n", sup.PID, cfg.supervisorLog())
	st, err = waitPhase(cfg, sup, follow, PhaseStarting)
	if err != nil {
		return err
	}
	if st.Phase == PhaseFailed {
		return fmt.Errorf("the sandbox did not come up: %s\nit is kept for inspection (`make sandbox-status`, `make sandbox-logs`); remove it with `make sandbox-down`", st.Error)
	}
	return Status(cfg, out)
}

// upgrade asks the running supervisor to rebuild and upgrade, and waits.
func upgrade(cfg Config, st State, out io.Writer) error {
	fmt.Fprintf(out, "sandbox: already up in %s (supervisor pid %d); rebuilding and upgrading what changed\n", cfg.Dir, st.Supervisor.PID)
	follow := newLogFollower(cfg.supervisorLog(), out)
	follow.skipExisting()
	if err := st.Supervisor.Signal(syscall.SIGHUP); err != nil {
		return err
	}
	st, err := waitState(cfg, st.Supervisor, follow, "upgrading", func(now State) bool {
		return now.Upgrades > st.Upgrades
	})
	if err != nil {
		return err
	}
	if st.Error != "" {
		return fmt.Errorf("upgrade failed: %s\n(to start afresh: make sandbox-down && make sandbox)", st.Error)
	}
	return Status(cfg, out)
}

// waitPhase follows the log until the state's phase is no longer from.
func waitPhase(cfg Config, sup Process, follow *logFollower, from Phase) (State, error) {
	return waitState(cfg, sup, follow, string(from), func(st State) bool { return st.Phase != from })
}

// waitState follows the log until the state written by supervisor sup
// satisfies done; what names the wait in errors.
func waitState(cfg Config, sup Process, follow *logFollower, what string, done func(State) bool) (State, error) {
	deadline := time.Now().Add(upTimeout)
	for {
		follow.copyNew()
		st, err := LoadState(cfg.statePath())
		if err == nil && st.Supervisor.PID == sup.PID && done(st) {
			follow.copyNew()
			return st, nil
		}
		if !sup.Alive() {
			follow.copyNew()
			return st, fmt.Errorf("the supervisor (pid %d) exited; see %s", sup.PID, cfg.supervisorLog())
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("the sandbox is still %s after %s; see %s", what, upTimeout, cfg.supervisorLog())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// Status prints the supervisor, the nodes, and the Kubernetes to OVN mapping.
func Status(cfg Config, out io.Writer) error {
	st, err := LoadState(cfg.statePath())
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(out, "sandbox: not running in %s; start it with `make sandbox`\n", cfg.Dir)
		return nil
	}
	if err != nil {
		return err
	}
	alive := "running"
	if !st.Supervisor.Alive() {
		alive = "GONE (crashed or killed): `make sandbox-down` removes what it left"
	}
	fmt.Fprintf(out, "sandbox: %s in %s, supervisor pid %d %s, started %s\n", st.Phase, cfg.Dir, st.Supervisor.PID, alive, st.Started.Format(time.RFC3339))
	if st.Error != "" {
		fmt.Fprintf(out, "sandbox: error: %s\n", st.Error)
	}
	for _, f := range st.Figures {
		fmt.Fprintf(out, "sandbox: %s: %.1f s\n", f.Name, f.Seconds)
	}
	if st.Phase != PhaseUp || !st.Supervisor.Alive() {
		return nil
	}
	showMapping(cfg, st, out)
	fmt.Fprintf(out, "\n== Using the sandbox\n  . %s    # KUBECONFIG, PATH (kubectl, kubectl-ovnet), OVN_NB_DB/OVN_SB_DB, NODE_NETNS_<i>, OVNET_TCPDUMP, ...\n", cfg.envPath())
	fmt.Fprintf(out, "  make sandbox-status | make sandbox-logs | make sandbox (again: rebuild + helm upgrade) | make sandbox-down\n")
	return nil
}

// Logs prints where every log is and the end of the supervisor's, or with
// a name (a file name or its part, e.g. "kubelet"), the end of each log
// whose path contains it.
func Logs(cfg Config, name string, out io.Writer) error {
	logs, err := logFiles(cfg.Dir)
	if err != nil {
		return err
	}
	if name == "" {
		for _, l := range logs {
			fmt.Fprintln(out, l)
		}
		fmt.Fprintf(out, "\n== %s (last 30 lines; `make sandbox-logs LOG=kubelet` shows the kubelets')\n", cfg.supervisorLog())
		return tailFile(cfg.supervisorLog(), 30, out)
	}
	found := false
	for _, l := range logs {
		if strings.Contains(l, name) {
			found = true
			fmt.Fprintf(out, "== %s\n", l)
			if err := tailFile(l, 30, out); err != nil {
				return err
			}
		}
	}
	if !found {
		return fmt.Errorf("no log in %s matches %q", cfg.Dir, name)
	}
	return nil
}

func logFiles(dir string) ([]string, error) {
	var logs []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".log") {
			logs = append(logs, p)
		}
		return nil
	})
	sort.Strings(logs)
	return logs, err
}

func tailFile(path string, n int, out io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	_, err = fmt.Fprintln(out, strings.Join(lines, "\n"))
	return err
}

// logFollower copies what is appended to a log to out.
type logFollower struct {
	path   string
	out    io.Writer
	offset int64
}

func newLogFollower(path string, out io.Writer) *logFollower {
	return &logFollower{path: path, out: out}
}

// skipExisting starts following at the log's current end.
func (f *logFollower) skipExisting() {
	if info, err := os.Stat(f.path); err == nil {
		f.offset = info.Size()
	}
}

func (f *logFollower) copyNew() {
	file, err := os.Open(f.path)
	if err != nil {
		return
	}
	defer file.Close()
	if _, err := file.Seek(f.offset, io.SeekStart); err != nil {
		return
	}
	n, _ := io.Copy(f.out, file)
	f.offset += n
}
