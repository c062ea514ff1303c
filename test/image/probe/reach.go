package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// target is one destination of "probe reach", written PROTO/HOST:PORT.
type target struct {
	proto string
	addr  string
}

func (t target) String() string { return t.proto + "/" + t.addr }

// parseTarget reads "tcp/10.16.0.5:80" or "udp/[fd00::5]:81".
func parseTarget(s string) (target, error) {
	proto, addr, ok := strings.Cut(s, "/")
	if !ok || (proto != "tcp" && proto != "udp") {
		return target{}, usageError{fmt.Sprintf("reach: target %q is not tcp/HOST:PORT or udp/HOST:PORT", s)}
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return target{}, usageError{fmt.Sprintf("reach: target %q: %v", s, err)}
	}
	return target{proto: proto, addr: addr}, nil
}

// reachResult is the outcome of one target: the answer or why there was none.
type reachResult struct {
	answer string
	err    error
}

// line is what "probe reach" prints for a target:
// "tcp/10.16.0.5:80 ok host=..." or "tcp/10.16.0.5:80 fail connect ...".
func (r reachResult) line(t target) string {
	if r.err != nil {
		return t.String() + " fail " + r.err.Error()
	}
	return t.String() + " ok " + r.answer
}

// runReach probes every target at once, so a round costs one timeout however
// many targets stay silent, and prints one line per target in the order
// given. A target that does not answer is a result, not a failure of the
// command: it exits 0 once every target has a line.
func runReach(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("reach", flag.ContinueOnError)
	timeout := fs.Duration("timeout", defaultTimeout, "give up on a target after this long")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usageError{"reach needs at least one target"}
	}
	targets := make([]target, len(rest))
	for i, s := range rest {
		if targets[i], err = parseTarget(s); err != nil {
			return err
		}
	}
	for i, r := range reach(targets, *timeout) {
		fmt.Fprintln(out, r.line(targets[i]))
	}
	return nil
}

// reach connects to every target concurrently; results are in target order.
func reach(targets []target, timeout time.Duration) []reachResult {
	results := make([]reachResult, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answer, err := connect(t.proto, t.addr, timeout)
			results[i] = reachResult{answer: answer, err: err}
		}()
	}
	wg.Wait()
	return results
}
