package perf

import (
	"bufio"
	"fmt"
	"os"
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

// memoryPeak is the most memory this process held during one run.
type memoryPeak struct {
	// heap is the largest Go heap (objects) sampled.
	heap uint64
	// rss is the kernel's peak resident set (VmHWM) since the run began.
	rss uint64
}

func (m memoryPeak) String() string {
	return fmt.Sprintf("peak Go heap %.0f MiB, peak RSS %.0f MiB", float64(m.heap)/(1<<20), float64(m.rss)/(1<<20))
}

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
		return memoryPeak{heap: peak.Load(), rss: peakRSS(b)}
	}
}

// peakRSS is VmHWM from /proc/self/status, in bytes.
func peakRSS(b *testing.B) uint64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
