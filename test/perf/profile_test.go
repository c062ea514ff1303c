package perf

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
)

const (
	// profileEnv names a directory: when set, the controller runs of the
	// throughput benchmark write CPU, block and mutex profiles there. The
	// controller runs in the benchmark's process, so the profiles hold the
	// benchmark's client too (its share is the baseline run's client CPU).
	profileEnv = "OVNET_BENCH_PROFILE"
	// blockProfileRate samples one blocking event per this many
	// nanoseconds blocked: fine enough to see a lock held for
	// milliseconds, coarse enough not to slow the run measurably.
	blockProfileRate = 10_000
	// mutexProfileFraction samples one contended mutex event in this many.
	mutexProfileFraction = 10
)

// startProfiles starts the profiles named by profileEnv for the run
// called name and returns the function that writes them; without the
// variable it does nothing.
func startProfiles(b *testing.B, name string) func() {
	b.Helper()
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatalf("%s: %v", profileEnv, err)
	}
	path := func(kind string) string { return filepath.Join(dir, fmt.Sprintf("%s.%s.pprof", name, kind)) }
	cpu, err := os.Create(path("cpu"))
	if err != nil {
		b.Fatalf("%s: %v", profileEnv, err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		b.Fatalf("%s: %v", profileEnv, err)
	}
	runtime.SetBlockProfileRate(blockProfileRate)
	runtime.SetMutexProfileFraction(mutexProfileFraction)
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
		for _, kind := range []string{"block", "mutex"} {
			f, err := os.Create(path(kind))
			if err != nil {
				b.Fatalf("%s: %v", profileEnv, err)
			}
			if err := pprof.Lookup(kind).WriteTo(f, 0); err != nil {
				b.Fatalf("write %s profile: %v", kind, err)
			}
			f.Close()
		}
		b.Logf("profiles of %s written to %s", name, dir)
	}
}
