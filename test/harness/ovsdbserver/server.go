package ovsdbserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Schemas installed by Debian's openvswitch-common and ovn-common: a
// server must serve the schema the installed daemons expect.
const (
	NorthboundSchema  = "/usr/share/ovn/ovn-nb.ovsschema"
	SouthboundSchema  = "/usr/share/ovn/ovn-sb.ovsschema"
	OpenvSwitchSchema = "/usr/share/openvswitch/vswitch.ovsschema"
)

const (
	// installHint is appended when a program or schema is missing: the
	// suites that start a server exist to run against it, so they fail.
	installHint = "install the Debian packages openvswitch-switch and ovn-central"
	// readyTimeout bounds how long the server may take to open its
	// socket; it needs well under a second, so this only catches hangs.
	readyTimeout = 10 * time.Second
	// stopTimeout is how long the server gets to exit on SIGTERM before SIGKILL.
	stopTimeout = 5 * time.Second
	// maxDirLen leaves room in sun_path's 108 bytes for "/ovnnb_db.sock".
	maxDirLen = 88
)

// Env is what Start needs from its caller. *testing.T and *testing.B
// satisfy it; a program that is not a test passes its own.
type Env interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	// Cleanup registers a function to run when the caller is done, last
	// registered first.
	Cleanup(func())
}

// Options say what to serve.
type Options struct {
	// Schema is the path of the .ovsschema file, such as NorthboundSchema.
	Schema string
	// Name names the database, socket, control socket and log files
	// (<Name>.db, <Name>.sock, ...), as OVN's own scripts do; "db" if empty.
	Name string
	// Dir holds those files; empty means a new short directory, removed
	// at cleanup.
	Dir string
	// TLS, when set, adds a pssl: listener on a free loopback port:
	// clients must present a certificate of its CA.
	TLS *TLS
}

// TLS are ovsdb-server's PEM files for its pssl: listener.
type TLS struct {
	// PrivateKey and Certificate are the server's (--private-key,
	// --certificate); CACert the CA clients' certificates must chain to
	// (--ca-cert).
	PrivateKey, Certificate, CACert string
}

// Server is an ovsdb-server serving one fresh database over a unix socket.
type Server struct {
	// Endpoint is the libovsdb / ovs-vsctl --db address, "unix:<Socket>".
	Endpoint string
	// SSLEndpoint is "ssl:127.0.0.1:<port>" when Options.TLS was set.
	SSLEndpoint string
	// Socket is the path of the unix socket clients connect to.
	Socket string
	// Control is the unixctl socket, for ovs-appctl -t <Control>.
	Control string
	// LogFile is where ovsdb-server logs.
	LogFile string
	// PID is the server's process id; the process is gone after cleanup.
	PID int
	// proc is the running server, replaced by RestartEmpty.
	proc *process
	// program, db, schema and args start the server again the same way.
	program, db, schema string
	args                []string
	// sslAddr is the pssl: listener's address, when Options.TLS was set.
	sslAddr string
}

// Start creates a database from opts.Schema with ovsdb-tool, serves it with
// ovsdb-server, and returns once the socket accepts connections. The
// server is stopped (by its PID) at cleanup; a server that exited before
// is reported as an error, with the end of its log.
func Start(env Env, opts Options) *Server {
	env.Helper()
	if opts.Name == "" {
		opts.Name = "db"
	}
	if _, err := os.Stat(opts.Schema); err != nil {
		env.Fatalf("schema %s: %v: %s", opts.Schema, err, installHint)
	}
	tool, server := lookPath(env, "ovsdb-tool"), lookPath(env, "ovsdb-server")
	if opts.Dir == "" {
		opts.Dir = shortDir(env)
	}
	s := &Server{
		Socket:  filepath.Join(opts.Dir, opts.Name+".sock"),
		Control: filepath.Join(opts.Dir, opts.Name+".ctl"),
		LogFile: filepath.Join(opts.Dir, opts.Name+".log"),
		program: server, db: filepath.Join(opts.Dir, opts.Name+".db"), schema: opts.Schema,
	}
	s.Endpoint = "unix:" + s.Socket
	s.args = []string{s.db, "--remote=punix:" + s.Socket, "--unixctl=" + s.Control, "--log-file=" + s.LogFile,
		"-vconsole:off", "--no-chdir"}
	if opts.TLS != nil {
		s.sslAddr = freeAddr(env)
		s.SSLEndpoint = "ssl:" + s.sslAddr
		port := s.sslAddr[strings.LastIndex(s.sslAddr, ":")+1:]
		s.args = append(s.args, "--remote=pssl:"+port+":127.0.0.1", "--private-key="+opts.TLS.PrivateKey,
			"--certificate="+opts.TLS.Certificate, "--ca-cert="+opts.TLS.CACert)
	}
	createDB(env, tool, s.db, s.schema)
	s.run(env)
	env.Cleanup(func() { s.proc.stop(env, s.LogFile) })
	return s
}

// Stop ends the server (SIGTERM, SIGKILL if it lingers) and leaves its
// database file: its clients lose their connections and cannot make new
// ones until Restart.
func (s *Server) Stop(env Env) {
	env.Helper()
	s.proc.stop(env, s.LogFile)
}

// Restart serves the database file again, as it was at Stop, on the same
// socket (and pssl: port): an outage of the server, not of its data.
func (s *Server) Restart(env Env) {
	env.Helper()
	s.run(env)
}

// RestartEmpty stops the server, deletes its database file, creates it
// again empty from the schema and serves it on the same socket: a lost
// database, as an operator who wiped a broken one would leave it. Clients
// see their connection drop and, reconnecting, an empty database.
func (s *Server) RestartEmpty(env Env) {
	env.Helper()
	s.proc.stop(env, s.LogFile)
	if err := os.Remove(s.db); err != nil {
		env.Fatalf("removing %s: %v", s.db, err)
	}
	createDB(env, lookPath(env, "ovsdb-tool"), s.db, s.schema)
	s.run(env)
}

// run starts the server process and waits for its sockets.
func (s *Server) run(env Env) {
	env.Helper()
	s.proc = start(env, s.program, strings.TrimSuffix(s.db, ".db")+".stderr", s.args...)
	s.PID = s.proc.cmd.Process.Pid
	s.proc.waitForSocket(env, "unix", s.Socket, s.LogFile)
	if s.sslAddr != "" {
		s.proc.waitForSocket(env, "tcp", s.sslAddr, s.LogFile)
	}
}

func createDB(env Env, tool, db, schema string) {
	env.Helper()
	if out, err := exec.Command(tool, "create", db, schema).CombinedOutput(); err != nil {
		env.Fatalf("ovsdb-tool create %s %s: %v: %s", db, schema, err, out)
	}
}

func lookPath(env Env, name string) string {
	env.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		env.Fatalf("%s not found on PATH: %s", name, installHint)
	}
	return path
}

// shortDir makes a directory whose path leaves room for a socket name in
// sun_path, under $TMPDIR or, when that is too deep, /tmp itself.
func shortDir(env Env) string {
	env.Helper()
	dir, err := os.MkdirTemp("", "ovsdb-")
	if err == nil && len(dir) > maxDirLen {
		os.Remove(dir)
		dir, err = os.MkdirTemp("/tmp", "ovsdb-")
	}
	if err != nil {
		env.Fatalf("creating a directory for ovsdb-server: %v", err)
	}
	// Registered before the server's stop, so it runs after it.
	env.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			env.Errorf("removing %s: %v", dir, err)
		}
	})
	return dir
}

// process is the running server.
type process struct {
	cmd *exec.Cmd
	// done is closed once the process has been reaped; waitErr is then set.
	done    chan struct{}
	waitErr error
}

// start runs path with args, its output going to stderrFile. Pdeathsig
// kills the server if the caller dies without cleaning up (a test timeout
// panic skips cleanups); it fires when the forking thread exits, so that
// thread is held until the server is reaped.
func start(env Env, path, stderrFile string, args ...string) *process {
	env.Helper()
	out, err := os.OpenFile(stderrFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		env.Fatalf("starting %s: %v", path, err)
	}
	defer out.Close() // the child holds its own descriptor
	p := &process{cmd: exec.Command(path, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		env.Fatalf("starting %s: %v", path, err)
	}
	return p
}

// waitForSocket returns once the socket (network "unix" or "tcp")
// accepts a connection.
func (p *process) waitForSocket(env Env, network, socket, logFile string) {
	env.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		err := dial(network, socket)
		if err == nil {
			return
		}
		select {
		case <-p.done:
			env.Fatalf("ovsdb-server exited before opening %s: %v\n%s", socket, p.waitErr, tail(logFile))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			env.Fatalf("ovsdb-server did not open %s within %s: %v\n%s", socket, readyTimeout, err, tail(logFile))
		}
	}
}

// stop sends SIGTERM, then SIGKILL after stopTimeout, and waits until the
// process is reaped.
func (p *process) stop(env Env, logFile string) {
	env.Helper()
	select {
	case <-p.done:
		env.Errorf("ovsdb-server (pid %d) exited before cleanup: %v\n%s", p.cmd.Process.Pid, p.waitErr, tail(logFile))
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail returns the last lines of the log, for a failure message.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("%s: %v", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return fmt.Sprintf("--- %s:\n%s", path, strings.Join(lines, "\n"))
}

// dial reports whether a socket accepts connections.
func dial(network, socket string) error {
	conn, err := net.Dial(network, socket)
	if err != nil {
		return err
	}
	return conn.Close()
}

// Remote is the address clients give to reach the server, as for a
// Cluster: its Endpoint.
func (s *Server) Remote() string { return s.Endpoint }

// SSLRemote is the server's pssl: listener as clients give it, as for a
// Cluster: its SSLEndpoint, empty without Options.TLS.
func (s *Server) SSLRemote() string { return s.SSLEndpoint }
