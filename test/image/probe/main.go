// Command probe is the traffic tool of ovnet's test image (local.test/tools:1)
// and of end-to-end tests that run it in bare network namespaces. It uses the
// standard library only and never resolves names or reads /etc, so it works
// where no DNS and no configuration files exist.
//
//	probe serve [--tcp PORTS] [--udp PORTS] [--quiet]
//	    serve each port (comma separated) on every address; every TCP
//	    connection and every UDP datagram is answered with one line:
//	    host=NAME addrs=A,B proto=tcp local=IP:PORT client=IP:PORT
//	probe connect tcp|udp HOST:PORT [--timeout 1s]
//	    send one request, print the answer; exit 0 on an answer, 1 otherwise
//	probe reach [--timeout 1s] tcp|udp/HOST:PORT...
//	    connect to every target at once and print one line per target, in
//	    order: "PROTO/HOST:PORT ok ANSWER" or "PROTO/HOST:PORT fail REASON";
//	    exit 0 once every target has its line
//	probe addrs
//	    print every interface, its state and its addresses
//
// Exit status: 0 success, 1 failure (refused, timeout, no answer), 2 usage.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// defaultTimeout bounds one connect: long enough for a first packet that
	// has to wait for ARP and an OpenFlow upcall, short enough for tests that
	// expect a drop.
	defaultTimeout = time.Second
	// drainTimeout is how long a TCP server reads what a client sent before
	// it closes; closing with unread data would send RST and could destroy
	// the answer before the client reads it.
	drainTimeout = time.Second
	// request is what "connect udp" sends; the server ignores the content.
	request = "probe\n"
	// maxDatagram is the largest UDP payload the server reads.
	maxDatagram = 65535
)

// usageError marks a wrong command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage:
  probe serve [--tcp PORTS] [--udp PORTS] [--quiet]
  probe connect tcp|udp HOST:PORT [--timeout 1s]
  probe reach [--timeout 1s] tcp|udp/HOST:PORT...
  probe addrs`

func main() {
	err := run(os.Args[1:], os.Stdout)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "probe:", err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	os.Exit(1)
}

// run dispatches a sub-command; it is main without the exit, for tests.
func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError{"missing command"}
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], out)
	case "connect":
		return runConnect(args[1:], out)
	case "reach":
		return runReach(args[1:], out)
	case "addrs":
		return printAddrs(out)
	case "-h", "--help", "help":
		fmt.Fprintln(out, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// parse parses flags that may come before, between or after the positional
// arguments ("connect tcp 10.0.0.1:80 --timeout 2s") and returns the latter.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func runServe(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	tcpPorts := fs.String("tcp", "", "TCP ports, comma separated")
	udpPorts := fs.String("udp", "", "UDP ports, comma separated")
	quiet := fs.Bool("quiet", false, "do not log each answered request")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("serve: unexpected argument %q", rest[0])}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := listen(*tcpPorts, *udpPorts)
	if err != nil {
		return err
	}
	if !*quiet {
		srv.log = out
	}
	for _, a := range srv.addrs() {
		fmt.Fprintf(out, "serving %s\n", a)
	}
	srv.serve(ctx)
	return nil
}

func runConnect(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	timeout := fs.Duration("timeout", defaultTimeout, "give up after this long")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return usageError{"connect needs a protocol and HOST:PORT"}
	}
	proto, addr := rest[0], rest[1]
	if proto != "tcp" && proto != "udp" {
		return usageError{fmt.Sprintf("connect: protocol %q is neither tcp nor udp", proto)}
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usageError{fmt.Sprintf("connect: %v", err)}
	}
	answer, err := connect(proto, addr, *timeout)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, answer)
	return nil
}

// connect sends one request and returns the server's answer line.
func connect(proto, addr string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	conn, err := net.DialTimeout(proto, addr, timeout)
	if err != nil {
		return "", fmt.Errorf("connect %s %s: %w", proto, addr, describe(err, timeout))
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return "", err
	}
	// A TCP connection is the request itself; UDP needs a datagram.
	if proto == "udp" {
		if _, err := io.WriteString(conn, request); err != nil {
			return "", fmt.Errorf("connect udp %s: send: %w", addr, describe(err, timeout))
		}
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	line = strings.TrimRight(line, "\n")
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		return "", fmt.Errorf("connect %s %s: no answer: %w", proto, addr, describe(err, timeout))
	}
	return line, nil
}

// describe turns a deadline error into "timeout after 1s"; other errors
// (connection refused, no route) speak for themselves.
func describe(err error, timeout time.Duration) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("timeout after %s", timeout)
	}
	return err
}

// parsePorts reads "80,81"; empty means none.
func parsePorts(list string) ([]int, error) {
	var ports []int
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := strconv.Atoi(f)
		if err != nil || p < 0 || p > 65535 {
			return nil, usageError{fmt.Sprintf("bad port %q", f)}
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// hostAddrs lists the addresses of the up interfaces, loopback left out
// unless there is nothing else, so an answer says which pod it came from.
func hostAddrs() []string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var addrs, loopback []string
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		as, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ipn.IP.IsLoopback() {
				loopback = append(loopback, ipn.IP.String())
			} else {
				addrs = append(addrs, ipn.IP.String())
			}
		}
	}
	if len(addrs) == 0 {
		return loopback
	}
	return addrs
}

// hostName is the kernel's host name (uname), with no lookup.
func hostName() string {
	name, err := os.Hostname()
	if err != nil || name == "" {
		return "-"
	}
	return name
}

func printAddrs(out io.Writer) error {
	ifaces, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("list interfaces: %w", err)
	}
	for _, ifc := range ifaces {
		state := "down"
		if ifc.Flags&net.FlagUp != 0 {
			state = "up"
		}
		fields := []string{ifc.Name, state, "mtu=" + strconv.Itoa(ifc.MTU)}
		if len(ifc.HardwareAddr) > 0 {
			fields = append(fields, "mac="+ifc.HardwareAddr.String())
		}
		as, err := ifc.Addrs()
		if err != nil {
			return fmt.Errorf("addresses of %s: %w", ifc.Name, err)
		}
		for _, a := range as {
			fields = append(fields, a.String())
		}
		fmt.Fprintln(out, strings.Join(fields, " "))
	}
	return nil
}
