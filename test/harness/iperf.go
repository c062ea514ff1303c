package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/ovnet/ovnet/test/harness/wait"
)

// IperfPort is the port iperf3's server listens on.
const IperfPort = 5201

// iperfStart bounds the client's retries while the iperf3 server is not
// listening yet; it starts in milliseconds.
const iperfStart = 10 * time.Second

// IperfRun is one iperf3 TCP measurement from one network namespace to a
// server started for it in another.
type IperfRun struct {
	// ClientNS sends; ServerNS receives, on Server.
	ClientNS, ServerNS string
	Server             netip.Addr
	// WantSource is the address the server must see the client as (the
	// masquerading node's, say); the run fails otherwise.
	WantSource netip.Addr
	// Seconds is how long the client sends; Bytes, when set, how much
	// it sends instead.
	Seconds int
	Bytes   int
	// RateMbps, when set, caps the client's rate (Mbit/s).
	RateMbps int
	// ClientPort fixes the source port of the data connection (iperf3's
	// control connection takes another), so the flow can be named.
	ClientPort int
}

// iperfResult is the part of iperf3's JSON report read here.
type iperfResult struct {
	Error string `json:"error"`
	Start struct {
		Connected []struct {
			RemoteHost string `json:"remote_host"`
		} `json:"connected"`
	} `json:"start"`
	End struct {
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
}

// Mbps starts iperf3 -s for one test in the server's namespace, runs the
// client and returns what the server received, in Mbit/s.
func (r IperfRun) Mbps(tb T) float64 {
	tb.Helper()
	server := exec.Command("ip", "netns", "exec", r.ServerNS, "iperf3", "-s", "-1", "-J", "-B", r.Server.String())
	var serverOut strings.Builder
	server.Stdout, server.Stderr = &serverOut, &serverOut
	if err := server.Start(); err != nil {
		tb.Fatalf("iperf3 server: %v", err)
	}
	defer func() { _ = server.Process.Kill(); _ = server.Wait() }()
	report, err := r.client()
	if err != nil {
		tb.Fatalf("%v", err)
	}
	_ = server.Wait()
	var seen iperfResult
	if err := json.Unmarshal([]byte(serverOut.String()), &seen); err != nil || len(seen.Start.Connected) == 0 {
		tb.Fatalf("iperf3 server report: %v\n%s", err, serverOut.String())
	}
	if got := seen.Start.Connected[0].RemoteHost; got != r.WantSource.String() {
		tb.Fatalf("iperf3 server saw %s, want %s", got, r.WantSource)
	}
	return report.End.SumReceived.BitsPerSecond / 1e6
}

// clientArgs are the client's iperf3 arguments.
func (r IperfRun) clientArgs() []string {
	args := []string{"-c", r.Server.String(), "-J"}
	if r.Bytes > 0 {
		args = append(args, "-n", strconv.Itoa(r.Bytes))
	} else {
		args = append(args, "-t", strconv.Itoa(r.Seconds))
	}
	if r.RateMbps > 0 {
		args = append(args, "-b", strconv.Itoa(r.RateMbps)+"M")
	}
	if r.ClientPort > 0 {
		args = append(args, "--cport", strconv.Itoa(r.ClientPort))
	}
	return args
}

// client runs the iperf3 client, retrying while the server is not
// listening yet, and returns its report.
func (r IperfRun) client() (iperfResult, error) {
	var report iperfResult
	err := wait.Until(context.Background(), iperfStart, fmt.Sprintf("iperf3 %s -> %s", r.ClientNS, r.Server), func() error {
		report = iperfResult{}
		out, err := exec.Command("ip", append([]string{"netns", "exec", r.ClientNS, "iperf3"}, r.clientArgs()...)...).CombinedOutput()
		if jsonErr := json.Unmarshal(out, &report); jsonErr != nil && err == nil {
			err = jsonErr
		}
		// iperf3 exits 0 with the error in its report when the server is
		// not listening yet.
		if err != nil || report.Error != "" {
			return fmt.Errorf("%v %s\n%s", err, report.Error, out)
		}
		return nil
	})
	return report, err
}
