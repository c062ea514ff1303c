package perf

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
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
	// serverProfileSeconds is how much of a run the API server's CPU
	// profile covers, from the run's start: kube-apiserver's pprof handler
	// wants the length up front, and both runs of a size last longer than
	// this at N=5000, so their profiles cover the same stretch.
	serverProfileSeconds = 10
)

// profileDir is the directory profileEnv names, created if need be; empty
// when profiles are off.
func profileDir(b *testing.B) string {
	b.Helper()
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatalf("%s: %v", profileEnv, err)
	}
	return dir
}

// startProfiles starts the profiles named by profileEnv for the run
// called name and returns the function that writes them; without the
// variable it does nothing.
func startProfiles(b *testing.B, name string) func() {
	b.Helper()
	dir := profileDir(b)
	if dir == "" {
		return func() {}
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
	// The execution trace shows what the profiles cannot: when goroutines
	// wait, and for what (go tool trace; golang.org/x/exp/trace reads it).
	tr, err := os.Create(filepath.Join(dir, name+".trace"))
	if err != nil {
		b.Fatalf("%s: %v", profileEnv, err)
	}
	if err := trace.Start(tr); err != nil {
		b.Fatalf("%s: %v", profileEnv, err)
	}
	// The allocation profile counts from the process's start: the run's
	// own is the difference to this one (go tool pprof -base). It is as of
	// the last collection, hence one here and one at the end.
	runtime.GC()
	writeProfile(b, "allocs", path("allocs-before"))
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		trace.Stop()
		tr.Close()
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
		runtime.GC()
		for _, kind := range []string{"block", "mutex", "allocs"} {
			writeProfile(b, kind, path(kind))
		}
		b.Logf("profiles of %s written to %s", name, dir)
	}
}

// writeProfile writes the runtime profile kind to path.
func writeProfile(b *testing.B, kind, path string) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("%s: %v", profileEnv, err)
	}
	defer f.Close()
	if err := pprof.Lookup(kind).WriteTo(f, 0); err != nil {
		b.Fatalf("write %s profile: %v", kind, err)
	}
}

// startServerProfile, when profileEnv is set, has the API server behind
// cfg profile its own CPU for serverProfileSeconds from now and returns
// the function that waits for the profile and writes it as
// <name>.kube-apiserver.cpu.pprof.
func startServerProfile(b *testing.B, cfg *rest.Config, name string) func() {
	b.Helper()
	dir := profileDir(b)
	if dir == "" {
		return func() {}
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		b.Fatalf("API server profile: %v", err)
	}
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(cfg.Host, "/"), serverProfileSeconds)
	ctx, cancel := context.WithTimeout(context.Background(), serverProfileSeconds*time.Second+time.Minute)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		b.Fatalf("API server profile: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		done <- saveResponse(httpClient, req, filepath.Join(dir, name+".kube-apiserver.cpu.pprof"))
	}()
	return func() {
		defer cancel()
		if err := <-done; err != nil {
			b.Fatalf("API server profile: %v", err)
		}
	}
}

// saveResponse writes the body of req's answer to path.
func saveResponse(c *http.Client, req *http.Request, path string) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL.Path, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
