package harness

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// streamInterval is how often a Stream starts a connection: it is the
	// resolution of the moment traffic is seen to resume.
	streamInterval = 100 * time.Millisecond
	// streamTimeout gives each connection up: longer than a round trip
	// through the userspace datapath, shorter than TCP's first SYN
	// retransmission (1 s), so a SYN lost during a failover costs a
	// fresh attempt rather than a retransmission.
	streamTimeout = 800 * time.Millisecond
	// streamInFlight bounds the connections running at once while the
	// path is down and each waits out its timeout.
	streamInFlight = 10
)

// Attempt is one connection of a Stream.
type Attempt struct {
	Start, End time.Time
	// Client is the address the server saw; invalid when the attempt failed.
	Client netip.Addr
	Err    error
}

// Stream is a steady stream of TCP connections from a sandbox to a probe
// server ("probe serve"), one started every streamInterval, each
// recording the client address the server saw: it shows where traffic
// leaves, and when it stops and resumes.
type Stream struct {
	probe  string
	from   *Sandbox
	target string
	stop   chan struct{}
	done   sync.WaitGroup
	mu     sync.Mutex
	// attempts are the finished connections, in the order they ended.
	attempts []Attempt
}

// StartStream starts connecting from the sandbox to target (IP:port)
// with the probe binary, until Stop or the end of tb's test.
func StartStream(tb T, probe string, from *Sandbox, target netip.AddrPort) *Stream {
	tb.Helper()
	s := &Stream{probe: probe, from: from, target: target.String(), stop: make(chan struct{})}
	s.done.Add(1)
	go s.run()
	tb.Cleanup(s.Stop)
	return s
}

func (s *Stream) run() {
	defer s.done.Done()
	slots := make(chan struct{}, streamInFlight)
	tick := time.NewTicker(streamInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			continue // all in flight: the path is down, the next tick will do
		}
		s.done.Add(1)
		go func() {
			defer func() { <-slots; s.done.Done() }()
			s.record(s.attempt())
		}()
	}
}

func (s *Stream) attempt() Attempt {
	a := Attempt{Start: time.Now()}
	out, err := s.from.Exec(s.probe, "connect", "tcp", s.target, "--timeout", streamTimeout.String())
	a.End = time.Now()
	if err != nil {
		a.Err = fmt.Errorf("%w: %s", err, strings.TrimSpace(out))
		return a
	}
	a.Client, a.Err = ClientSeen(out)
	return a
}

func (s *Stream) record(a Attempt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, a)
}

// Stop ends the stream and waits for the connections in flight.
func (s *Stream) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.done.Wait()
}

// FirstThrough returns the first connection started at or after since
// that succeeded with the server seeing client; ok is false while there is
// none.
func (s *Stream) FirstThrough(since time.Time, client netip.Addr) (Attempt, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first Attempt
	found := false
	for _, a := range s.attempts {
		if a.Err != nil || a.Client != client || a.Start.Before(since) {
			continue
		}
		if !found || a.End.Before(first.End) {
			first, found = a, true
		}
	}
	return first, found
}

// WaitThrough waits until a connection started at or after since succeeds
// with the server seeing client, and returns it; tb fails after timeout,
// naming the last attempt's outcome.
func (s *Stream) WaitThrough(tb T, timeout time.Duration, since time.Time, client netip.Addr) Attempt {
	tb.Helper()
	var got Attempt
	wait.For(tb, timeout, fmt.Sprintf("connections to %s through %s", s.target, client), func() error {
		a, ok := s.FirstThrough(since, client)
		if ok {
			got = a
			return nil
		}
		return s.last()
	})
	return got
}

// last describes the latest finished attempt.
func (s *Stream) last() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.attempts) == 0 {
		return fmt.Errorf("no connection finished yet")
	}
	a := s.attempts[len(s.attempts)-1]
	if a.Err != nil {
		return fmt.Errorf("last connection failed: %w", a.Err)
	}
	return fmt.Errorf("last connection left as %s", a.Client)
}

// ClientSeen is the client address in a probe server's answer
// ("... client=IP:PORT").
func ClientSeen(answer string) (netip.Addr, error) {
	for _, field := range strings.Fields(answer) {
		if v, ok := strings.CutPrefix(field, "client="); ok {
			ap, err := netip.ParseAddrPort(v)
			if err != nil {
				return netip.Addr{}, fmt.Errorf("answer %q: %w", answer, err)
			}
			return ap.Addr(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("answer %q names no client", answer)
}
