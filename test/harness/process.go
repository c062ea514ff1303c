package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// readyTimeout bounds how long a daemon may take to open its socket;
	// they need well under a second, so this only catches hangs.
	readyTimeout = 10 * time.Second
	// stopTimeout is how long a daemon gets to exit on SIGTERM before SIGKILL.
	stopTimeout = 5 * time.Second
	// installHint is appended when an OVS/OVN program is not on PATH.
	installHint = "install the Debian packages openvswitch-switch, ovn-central and ovn-host"
	// maxSocketDirLen leaves 20 of sun_path's 108 bytes for "/ovnnb_db.sock" and the like.
	maxSocketDirLen = 88
)

// daemon is a process this harness started in the foreground; it is stopped
// through its own os.Process, never by name, so nothing else is touched.
type daemon struct {
	name string
	// logs are tailed into failure messages: the daemon's --log-file and
	// its stderr, where it reports errors from before the log is open.
	logs    []string
	process *os.Process
	// done is closed once the process has been reaped; waitErr is then set.
	done    chan struct{}
	waitErr error
	// shutdown, if set, asks the daemon to exit on its own before stop
	// falls back to signals (see daemonSpec.shutdown).
	shutdown func() error
}

// daemonSpec says what to run and where its output goes.
type daemonSpec struct {
	argv []string
	// logFile is the file the daemon was told to log to.
	logFile string
	// stderrFile receives the daemon's stdout and stderr.
	stderrFile string
	// name labels the daemon in failure messages; argv[0] when empty, which
	// is wrong when argv[0] is a wrapper such as "ip netns exec".
	name string
	// env is added to the test's environment, e.g. OVS_RUNDIR.
	env []string
	// shutdown, if set, is the daemon's own way to exit cleanly (such as
	// "ovs-appctl exit --cleanup"); stop runs it first and signals only if
	// the daemon is still there stopTimeout later.
	shutdown func() error
}

// startDaemon runs spec.argv and registers a cleanup that stops it.
func startDaemon(tb T, spec daemonSpec) *daemon {
	tb.Helper()
	d := spawn(tb, spec)
	tb.Cleanup(func() { d.stop(tb) })
	return d
}

// spawn runs spec.argv; stopping it is the caller's business.
func spawn(tb T, spec daemonSpec) *daemon {
	tb.Helper()
	argv := spec.argv
	path := lookPath(tb, argv[0])
	out, err := os.OpenFile(spec.stderrFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatalf("starting %s: %v", argv[0], err)
	}
	defer out.Close() // the child holds its own descriptor

	d := &daemon{name: argv[0], logs: []string{spec.logFile, spec.stderrFile}, done: make(chan struct{}),
		shutdown: spec.shutdown}
	if spec.name != "" {
		d.name = spec.name
	}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig kills the child if the test binary dies (a timeout
		// panic skips cleanups), but it fires when the *thread* that forked
		// it exits, so this goroutine holds its thread until the child is reaped.
		runtime.LockOSThread()
		cmd := exec.Command(path, argv[1:]...)
		cmd.Stdout, cmd.Stderr = out, out
		if len(spec.env) > 0 {
			cmd.Env = append(os.Environ(), spec.env...)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		d.process = cmd.Process
		started <- nil
		d.waitErr = cmd.Wait()
		close(d.done)
	}()
	if err := <-started; err != nil {
		tb.Fatalf("starting %s: %v", argv[0], err)
	}
	return d
}

// lookPath fails the test when a program is missing: these suites exist to
// run against the real daemons and must not pass by skipping.
func lookPath(tb T, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s not found on PATH: %s", name, installHint)
	}
	return path
}

// pid is the process id, for tests and for logs.
func (d *daemon) pid() int { return d.process.Pid }

// stop runs the daemon's shutdown if it has one, else (or if that did not
// end it within stopTimeout) sends SIGTERM, escalates to SIGKILL after
// stopTimeout, and waits until the process is reaped.
func (d *daemon) stop(tb T) {
	tb.Helper()
	select {
	case <-d.done:
		logs := tail(d.logs)
		tb.Errorf("%s (pid %d) exited before cleanup: %v;%s\n%s", d.name, d.pid(), d.waitErr, explainExit(logs), logs)
		return
	default:
	}
	if d.shutdown != nil {
		if err := d.shutdown(); err != nil {
			tb.Logf("%s (pid %d) shutdown: %v; sending SIGTERM", d.name, d.pid(), err)
		}
		select {
		case <-d.done:
			return
		case <-time.After(stopTimeout):
			tb.Logf("%s (pid %d) still running %s after shutdown; sending SIGTERM", d.name, d.pid(), stopTimeout)
		}
	}
	_ = d.process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		_ = d.process.Kill()
		<-d.done
	}
}

// kill sends SIGKILL and waits until the process is reaped.
func (d *daemon) kill() {
	_ = d.process.Kill()
	<-d.done
}

// waitForSocket waits until a unix socket accepts connections, failing the
// test if the daemon exits first or readyTimeout passes.
func (d *daemon) waitForSocket(tb T, socket string) {
	tb.Helper()
	d.waitFor(tb, readyTimeout, d.name+" opens "+socket, func() error {
		conn, err := net.Dial("unix", socket)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// waitFor polls cond until it holds, failing the test with the daemon's
// logs if it does not within timeout or the daemon exits first.
func (d *daemon) waitFor(tb T, timeout time.Duration, what string, cond wait.Condition) {
	tb.Helper()
	err := wait.Until(context.Background(), timeout, what, func() error {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-d.done:
			return wait.Stop(fmt.Errorf("%s (pid %d) exited: %v (last: %w)", d.name, d.pid(), d.waitErr, err))
		default:
			return err
		}
	})
	if err != nil {
		logs := tail(d.logs)
		tb.Fatalf("%v%s\n%s", err, explainExit(logs), logs)
	}
}

// exited reports whether the process has ended, with its logs' tail and
// the explanation of a known abort when it has.
func (d *daemon) exited() (string, bool) {
	select {
	case <-d.done:
		logs := tail(d.logs)
		return fmt.Sprintf("%s (pid %d) exited: %v%s\n%s", d.name, d.pid(), d.waitErr, explainExit(logs), logs), true
	default:
		return "", false
	}
}

// tail returns the last lines of each log for a failure message.
func tail(paths []string) string {
	var b strings.Builder
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", path, err)
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		fmt.Fprintf(&b, "--- %s:\n%s\n", path, strings.Join(lines, "\n"))
	}
	return b.String()
}

// socketDir returns a directory for unix sockets: tb.TempDir() unless its
// path is too long for sun_path (108 bytes, with room for a file name), as
// happens with a deep $TMPDIR; then a short directory under /tmp itself.
func socketDir(tb T) string {
	tb.Helper()
	dir := tb.TempDir()
	if len(dir) <= maxSocketDirLen {
		return dir
	}
	short, err := os.MkdirTemp("/tmp", "ovnet-")
	if err != nil {
		tb.Fatalf("creating socket directory: %v", err)
	}
	// Registered before any daemon's stop, so it runs after them.
	tb.Cleanup(func() {
		if err := os.RemoveAll(short); err != nil && !errors.Is(err, os.ErrNotExist) {
			tb.Errorf("removing %s: %v", short, err)
		}
	})
	return short
}
