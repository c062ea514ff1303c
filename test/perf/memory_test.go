package perf

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// heapMetric is the Go heap's live and not yet swept objects: what the
	// process holds, without the runtime's free spans.
	heapMetric = "/memory/classes/heap/objects:bytes"
	// memorySampleInterval is how often the heap is read: a peak lasting
	// less than this can be missed; the process's peak RSS cannot.
	memorySampleInterval = 50 * time.Millisecond
)

// memoryPeak is the most memory this process held during one run, and
// what it held as the run began: a controller started in a process that
// already holds the benchmark's clients adds the difference.
type memoryPeak struct {
	// heap is the largest Go heap (objects) sampled.
	heap uint64
	// rss is the kernel's peak resident set (VmHWM) since the run began.
	rss uint64
	// startHeap and startRSS are the heap and resident set as the run
	// began, after a collection.
	startHeap, startRSS uint64
}

func (m memoryPeak) String() string {
	return fmt.Sprintf("peak Go heap %.0f MiB (%.0f at start), peak RSS %.0f MiB (%.0f at start)",
		mib(m.heap), mib(m.startHeap), mib(m.rss), mib(m.startRSS))
}

// added is what the run added to the process's peak resident set.
func (m memoryPeak) added() uint64 { return m.rss - min(m.rss, m.startRSS) }

// mib is n bytes in MiB.
func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// watchMemory resets the process's peak RSS and samples its heap until
// the returned function is called, which returns the peaks.
func watchMemory(b *testing.B) func() memoryPeak {
	b.Helper()
	// What earlier runs left is collected and given back first, so the
	// peak RSS starts from what is live.
	debug.FreeOSMemory()
	// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0),
	// so an earlier run in this process does not count.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset peak RSS: %v", err)
	}
	var peak atomic.Uint64
	sample := []metrics.Sample{{Name: heapMetric}}
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > peak.Load() {
			peak.Store(v)
		}
	}
	read()
	startHeap, startRSS := peak.Load(), procStatus(b, "VmRSS")
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(memorySampleInterval)
		defer tick.Stop()
		for {
			read()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() memoryPeak {
		close(stop)
		<-done
		read()
		return memoryPeak{heap: peak.Load(), rss: procStatus(b, "VmHWM"), startHeap: startHeap, startRSS: startRSS}
	}
}

// liveHeap is the Go heap after a full collection: what the process
// holds, without the garbage a peak includes.
func liveHeap() uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// procStatus is a field in kB of /proc/self/status (VmHWM, VmRSS), in bytes.
func procStatus(b *testing.B, field string) uint64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("%s %q: %v", field, rest, err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
