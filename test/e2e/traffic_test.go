package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// iperfSeconds is each measurement's length: long enough for TCP to
// settle at a shaped rate, short enough to take several in one test.
const iperfSeconds = "2"

// iperfStartTimeout bounds the retries while the iperf3 server is not yet
// listening; it starts in milliseconds.
const iperfStartTimeout = 10 * time.Second

// iperfReport is the part of iperf3's JSON report the tests read.
type iperfReport struct {
	Error string `json:"error"`
	End   struct {
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
}

// throughput measures TCP from one sandbox to another, at dst (one of
// to's addresses, which says the family), with iperf3 and returns what
// the receiver got, in bit/s.
func throughput(t *testing.T, from, to *harness.Sandbox, dst netip.Addr) float64 {
	t.Helper()
	server := exec.Command("ip", "netns", "exec", to.NetNS, "iperf3", "-s", "-1", "-p", "5201")
	var serverOut strings.Builder
	server.Stdout, server.Stderr = &serverOut, &serverOut
	if err := server.Start(); err != nil {
		t.Fatalf("iperf3 server in %s: %v", to.Pod.Name, err)
	}
	defer func() { _ = server.Process.Kill(); _ = server.Wait() }()
	var report iperfReport
	what := "iperf3 " + from.Pod.Name + " -> " + to.Pod.Name
	err := wait.Until(context.Background(), iperfStartTimeout, what, func() error {
		report = iperfReport{}
		out, err := from.Exec("iperf3", "-c", dst.String(), "-p", "5201", "-t", iperfSeconds, "-J")
		if jsonErr := json.Unmarshal([]byte(out), &report); jsonErr != nil && err == nil {
			err = jsonErr
		}
		// iperf3 3.12 exits 0 with the error in its report when the
		// server is not listening yet.
		if err != nil || report.Error != "" {
			return fmt.Errorf("%v %s\n%s", err, report.Error, out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\nserver: %s", err, serverOut.String())
	}
	return report.End.SumReceived.BitsPerSecond
}

// within fails unless what measure reads (bit/s) is within 20% of want.
func within(t *testing.T, what string, measure func() float64, want float64) {
	t.Helper()
	got := measure()
	// A limit caps the rate; a reading under it means TCP was starved of
	// CPU on the shared machine (the userspace datapath is a process too),
	// so such a reading is taken again, twice at most. A reading above the
	// limit fails at once.
	for range 2 {
		if got >= want*0.8 {
			break
		}
		t.Logf("%s: %.1f Mbit/s, under the limit's %.1f; measuring again", what, got/1e6, want/1e6)
		got = measure()
	}
	t.Logf("%s: %.1f Mbit/s (limit %.1f)", what, got/1e6, want/1e6)
	if got < want*0.8 || got > want*1.2 {
		t.Errorf("%s: %.2f Mbit/s, want %.2f ±20%%", what, got/1e6, want/1e6)
	}
}

// hostInterface is the sandbox's host-side veth, from its CNI result.
func hostInterface(t *testing.T, s *harness.Sandbox) string {
	t.Helper()
	cur, err := current.NewResultFromResult(s.Result)
	if err != nil || len(cur.Interfaces) == 0 {
		t.Fatalf("result of %s: %v %v", s.Pod.Name, cur, err)
	}
	return cur.Interfaces[0].Name
}

// tcpdump captures on the node's mirror0 while fn runs and returns the
// lines it printed.
func tcpdump(t *testing.T, n *harness.Node, fn func()) string {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.Chassis.NetNS, "tcpdump", "-i", "mirror0", "-n", "-l", "-U", "icmp")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	// tcpdump says "listening on" once the capture is open.
	wait.For(t, 5*time.Second, "tcpdump capturing on mirror0", func() error {
		if s := out.String(); !strings.Contains(s, "listening on") {
			return fmt.Errorf("tcpdump printed %q", s)
		}
		return nil
	})
	fn()
	time.Sleep(300 * time.Millisecond) // the last copies in flight
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return out.String()
}

// lockedBuffer collects a child's output while the test reads it: the
// copy into it runs on exec's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// pingDuring pings to from from, count times at the interval, runs fault
// after lead, and returns ping's loss line once the pings are done.
func pingDuring(from *harness.Sandbox, to string, count int, interval string, lead time.Duration, fault func()) string {
	done := make(chan string, 1)
	go func() {
		loss, _ := pingLoss(from, to, count, interval) // lost replies make ping fail; the line says how many
		done <- loss
	}()
	time.Sleep(lead)
	fault()
	return <-done
}

// pingLoss pings count times at the interval and returns the loss line.
func pingLoss(from *harness.Sandbox, to string, count int, interval string) (string, error) {
	out, err := from.Exec("ping", "-c", fmt.Sprint(count), "-i", interval, "-W", "1", to)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "packet loss") {
			return line, err
		}
	}
	return out, err
}
