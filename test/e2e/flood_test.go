package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ovnet/ovnet/pkg/cni"
)

const (
	// floodRequests is how many requests are in flight at once.
	floodRequests = 1000
	// floodBodyBytes is an oversized body: ten times the daemon's limit.
	floodBodyBytes = 10 << 20
	// floodRSSGrowth bounds the daemon's peak resident memory over its
	// level before the flood. The daemon reads at most 16 bodies of 1 MiB
	// at once; reading every oversized body whole (2.5 GB here) or even
	// each up to the limit at once (500 MiB) breaks it.
	floodRSSGrowth = 160 << 20
	// floodAddressTimeout is how long the unknown pods' ADDs wait.
	floodAddressTimeout = 3 * time.Second
)

// floodKind is one family of hostile request and what its refusal says.
type floodKind struct {
	name string
	// body makes request i's body and its Content-Length (-1: chunked).
	body     func(i int) ([]byte, int64)
	code     uint
	mentions string
}

// 1000 requests at once on the daemon's socket: malformed JSON, 10 MB
// bodies (with and without Content-Length) and ADDs of pods nobody
// created. Each gets a CNI error saying why, the daemon stays up and its
// peak memory stays within floodRSSGrowth, and a real ADD made during the
// flood succeeds.
func TestSocketFlood(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1", "--address-timeout="+floodAddressTimeout.String())
	rt := n.Runtime(t)
	real := e.pod("default", "real", "n1", nil)
	e.waitAddressed(real)
	sandbox := rt.NewSandbox(t, real)
	pid := n.DaemonPID()
	resetPeakRSS(t, pid)
	before := procStatusBytes(t, pid, "VmRSS")

	big := bytes.Repeat([]byte("a"), floodBodyBytes)
	oversized := append(append([]byte(`{"containerID":"`), big...), `"}`...)
	kinds := []floodKind{
		{"malformed JSON", func(i int) ([]byte, int64) {
			b := []byte([]string{`{`, `{"containerID":1}`, `[]`, `{"x":"y"}`, `{} {}`, "\x00\xff"}[i%6])
			return b, int64(len(b))
		}, types.ErrInvalidEnvironmentVariables, "invalid request"},
		{"10 MB with Content-Length", func(int) ([]byte, int64) { return oversized, int64(len(oversized)) },
			types.ErrInvalidEnvironmentVariables, "request body exceeds"},
		{"10 MB chunked", func(int) ([]byte, int64) { return oversized, -1 },
			types.ErrInvalidEnvironmentVariables, "request body exceeds"},
		{"unknown pod", func(i int) ([]byte, int64) {
			b := mustJSON(t, cni.Request{ContainerID: "flood" + strconv.Itoa(i), Netns: "/run/netns/flood" + strconv.Itoa(i),
				IfName: "eth0", Pod: cni.PodRef{Namespace: "default", Name: "ghost-" + strconv.Itoa(i)}})
			return b, int64(len(b))
		}, types.ErrTryAgainLater, "timed out waiting for the pod's address"},
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	failures := make([]string, floodRequests)
	for i := range floodRequests {
		kind := kinds[i%len(kinds)]
		body, length := kind.body(i)
		wg.Go(func() {
			<-start
			failures[i] = floodOne(n.Socket, kind, body, length)
		})
	}
	close(start)
	// The real ADD, through the plugin, once the flood is under way.
	time.Sleep(100 * time.Millisecond)
	addStart := time.Now()
	addErr := rt.Add(context.Background(), sandbox)
	addTook := time.Since(addStart)
	floodStart := addStart.Add(-100 * time.Millisecond)
	wg.Wait()
	floodTook := time.Since(floodStart)
	peak, after := procStatusBytes(t, pid, "VmHWM"), procStatusBytes(t, pid, "VmRSS")

	t.Logf("flood: %d requests in %s; real ADD during it: %s; daemon RSS %d MiB before, peak %d MiB, %d MiB after",
		floodRequests, floodTook.Round(time.Millisecond), addTook.Round(time.Millisecond), before>>20, peak>>20, after>>20)
	if addErr != nil {
		t.Errorf("the real ADD during the flood: %v", addErr)
	}
	failed := 0
	for i, f := range failures {
		if f != "" {
			if failed < 10 {
				t.Errorf("request %d (%s): %s", i, kinds[i%len(kinds)].name, f)
			}
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests not answered with the CNI error they deserve", failed, floodRequests)
	}
	if pid != n.DaemonPID() || !processAlive(pid) {
		t.Fatalf("the daemon (pid %d) did not survive the flood", pid)
	}
	if peak-before > floodRSSGrowth {
		t.Errorf("the daemon's peak RSS grew by %d MiB, over the bound of %d MiB", (peak-before)>>20, floodRSSGrowth>>20)
	}
	if err := rt.Status(context.Background()); err != nil {
		t.Errorf("STATUS after the flood: %v", err)
	}
	if err := rt.Check(context.Background(), sandbox); err != nil {
		t.Errorf("CHECK of the real pod after the flood: %v", err)
	}
	if ports := podPorts(t, n); len(ports) != 1 {
		t.Errorf("pod ports after the flood: %v, want the real pod's only", ports)
	}
	ping(t, sandbox, sandbox.IP.String())
}

// floodOne sends one request and returns what is wrong with its answer,
// or "".
func floodOne(socket string, kind floodKind, body []byte, length int64) string {
	ans, err := exchange(socket, cni.CommandAdd.Path(), bytes.NewReader(body), length, 2*time.Minute)
	switch {
	case err != nil:
		return err.Error()
	case ans.err == nil:
		return fmt.Sprintf("answer %d %.200s is no CNI error", ans.status, ans.raw)
	case ans.err.Code != kind.code || !strings.Contains(ans.err.Msg, kind.mentions):
		return fmt.Sprintf("CNI error %d %q, want %d mentioning %q", ans.err.Code, ans.err.Msg, kind.code, kind.mentions)
	}
	return ""
}

// procStatusBytes reads a memory field (VmRSS, VmHWM) of /proc/pid/status.
func procStatusBytes(t *testing.T, pid int, field string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || len(f) != 2 || f[1] != "kB" {
				t.Fatalf("%s of pid %d: %q", field, pid, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// processAlive reports whether pid still runs (and is no zombie).
func processAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data)[strings.LastIndexByte(string(data), ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux's
// clear_refs, value 5), so the peak measured is the flood's.
func resetPeakRSS(t *testing.T, pid int) {
	t.Helper()
	if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the daemon's peak RSS: %v", err)
	}
}
