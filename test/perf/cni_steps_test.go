package perf

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// addSteps is one ADD's time in the daemon, step by step, as its debug
// log line "ADD steps" gives it.
type addSteps map[string]time.Duration

// Steps whose time is OVS's or OVN's, not ovnet's: ovs-vswitchd giving the
// new port an OpenFlow number, and ovn-controller installing its flows,
// both of which ADD waits for before answering.
const (
	stepOFPort       = "ofport"
	stepOVNInstalled = "ovnInstalled"
)

// waits is the part of the ADD spent waiting for OVS and OVN.
func (s addSteps) waits() time.Duration { return s[stepOFPort] + s[stepOVNInstalled] }

// daemon is the ADD's whole time in the daemon.
func (s addSteps) daemon() time.Duration {
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return sum
}

// readAddSteps reads every "ADD steps" line of the daemon's log, in order.
func readAddSteps(b *testing.B, logFile string) []addSteps {
	f, err := os.Open(logFile)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var out []addSteps
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"msg":"ADD steps"`) {
			continue
		}
		steps, err := parseAddSteps(sc.Bytes())
		if err != nil {
			b.Fatalf("daemon log %s: %v", logFile, err)
		}
		out = append(out, steps)
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// parseAddSteps decodes one JSON log line: every field whose value is a
// Go duration is a step.
func parseAddSteps(line []byte) (addSteps, error) {
	var fields map[string]any
	if err := json.Unmarshal(line, &fields); err != nil {
		return nil, err
	}
	steps := addSteps{}
	for k, v := range fields {
		str, ok := v.(string)
		if !ok || k == "ts" {
			continue
		}
		if d, err := time.ParseDuration(str); err == nil {
			steps[k] = d
		}
	}
	return steps, nil
}

// reportSteps says where the sequential round's ADDs spent their time: the
// last len(own) ADD lines of the log are that round's, in the order of
// own. Taking each ADD's waits for OVS and OVN out of its measured time
// gives what ovnet itself costs (plugin, HTTP, daemon), against the same
// reference.
func reportSteps(b *testing.B, all []addSteps, own, base []time.Duration) {
	if len(all) < len(own) {
		b.Fatalf("the daemon logged %d ADDs, the round made %d: is it at debug level?", len(all), len(own))
	}
	round := all[len(all)-len(own):]
	var ofport, installed, daemon, outside, without []time.Duration
	for i, s := range round {
		ofport = append(ofport, s[stepOFPort])
		installed = append(installed, s[stepOVNInstalled])
		daemon = append(daemon, s.daemon()-s.waits())
		outside = append(outside, own[i]-s.daemon())
		without = append(without, own[i]-s.waits())
	}
	ms := func(d []time.Duration) float64 { return float64(percentile(d, 0.5).Microseconds()) / 1000 }
	b.Logf("1 at a time, where ovnet's ADD goes (medians over %d ADDs, from the daemon's log): "+
		"waiting for ovs-vswitchd to add the port %.1f ms, waiting for ovn-controller to install it %.1f ms (OVS's and OVN's time); "+
		"the daemon's own work %.1f ms; plugin exec, HTTP and libcni %.1f ms",
		len(own), ms(ofport), ms(installed), ms(daemon), ms(outside))
	b.Logf("1 at a time, ovnet's ADD without the waits for OVS and OVN: p50 %.1f ms against bridge+host-local %.1f ms, ratio %.2f",
		ms(without), ms(base), ms(without)/ms(base))
	b.ReportMetric(ms(without)/ms(base), "add-ratio-without-ovs-ovn-x1")
}
