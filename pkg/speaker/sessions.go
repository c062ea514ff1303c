package speaker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
)

// Reasons of the Events the speaker records on its Node about its BGP
// sessions.
const (
	// ReasonBGPSessionEstablished: a session came up (Normal).
	ReasonBGPSessionEstablished = "BGPSessionEstablished"
	// ReasonBGPSessionDown: an established session went down (Warning).
	ReasonBGPSessionDown = "BGPSessionDown"
	// ReasonBGPSessionNotEstablished: a session stayed down longer than
	// the warning delay, with the likely causes (Warning).
	ReasonBGPSessionNotEstablished = "BGPSessionNotEstablished"
)

const (
	// sessionPollInterval is how often the sessions' states are read from
	// GoBGP (a list in memory): a change shows in logs, Events and
	// metrics within it.
	sessionPollInterval = time.Second
	// DefaultSessionWarningAfter is how long a session may stay down
	// before the speaker warns: several connect tries (connectRetry), so
	// that a peer that answers the second try raises nothing.
	DefaultSessionWarningAfter = 30 * time.Second
)

// notice is something to tell the user about a session: a log line and
// an Event on the node.
type notice struct {
	eventType, reason, message string
}

// session follows one peer's session from poll to poll.
type session struct {
	peer Peer
	// status is the state last seen; State "" before the first poll.
	status PeerStatus
	// downSince is when the session was last seen going down, or the
	// monitor's start.
	downSince time.Time
	// warned is set once this down period was reported as too long.
	warned bool
}

// observe takes the session's state at now and says what to report: its
// coming up, its going down, and, once per down period, its staying down
// for warnAfter, with hint's likely causes.
func (s *session) observe(st PeerStatus, now time.Time, warnAfter time.Duration, hint func() string) []notice {
	prev := s.status
	s.status = st
	var out []notice
	switch {
	case st.Established() && !prev.Established():
		s.warned = false
		out = append(out, notice{corev1.EventTypeNormal, ReasonBGPSessionEstablished,
			fmt.Sprintf("BGP session to %s (AS %d) established", s.peer.Address, s.peer.AS)})
	case !st.Established() && prev.Established():
		s.downSince, s.warned = now, false
		out = append(out, notice{corev1.EventTypeWarning, ReasonBGPSessionDown,
			fmt.Sprintf("BGP session to %s (AS %d) went down (now %s): the peer drops this node's routes unless it keeps them for a graceful restart",
				s.peer.Address, s.peer.AS, st.State)})
	}
	if !st.Established() && !s.warned && now.Sub(s.downSince) >= warnAfter {
		s.warned = true
		out = append(out, notice{corev1.EventTypeWarning, ReasonBGPSessionNotEstablished,
			fmt.Sprintf("BGP session to %s (AS %d) not established for %s (state %s): %s",
				s.peer.Address, s.peer.AS, warnAfter, st.State, hint())})
	}
	return out
}

// sessionMonitor reads the sessions' states, logs their changes, records
// Events on the node and holds the last states for the metrics.
type sessionMonitor struct {
	// peers lists the sessions (Announcer.Peers).
	peers func(context.Context) ([]PeerStatus, error)
	// hint says why a peer's session may stay down (diagnose).
	hint func(Peer) string
	// warnAfter is how long a session may stay down before a warning.
	warnAfter time.Duration
	// recorder records Events on node, a Node referenced by name as the
	// kubelet does (kubectl describe node shows them).
	recorder events.EventRecorder
	node     *corev1.Node
	log      logr.Logger

	mu sync.Mutex
	// sessions are by peer address, one per configured peer.
	sessions map[string]*session
}

func newSessionMonitor(peers []Peer, list func(context.Context) ([]PeerStatus, error), hint func(Peer) string,
	warnAfter time.Duration, recorder events.EventRecorder, node string, log logr.Logger) *sessionMonitor {
	m := &sessionMonitor{peers: list, hint: hint, warnAfter: warnAfter, recorder: recorder, log: log,
		node:     &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node, UID: types.UID(node)}},
		sessions: map[string]*session{}}
	now := time.Now()
	for _, p := range peers {
		m.sessions[p.Address] = &session{peer: p, downSince: now}
	}
	return m
}

// Start polls until ctx ends (a manager Runnable).
func (m *sessionMonitor) Start(ctx context.Context) error {
	tick := time.NewTicker(sessionPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			m.poll(ctx)
		}
	}
}

// poll reads every session once and reports what changed.
func (m *sessionMonitor) poll(ctx context.Context) {
	statuses, err := m.peers(ctx)
	if err != nil {
		m.log.Error(err, "reading the BGP sessions")
		return
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, st := range statuses {
		s := m.sessions[st.Address]
		if s == nil {
			continue
		}
		if st.State != s.status.State {
			m.log.Info("BGP session", "peer", st.Address, "state", st.State, "previous", s.status.State)
		}
		for _, n := range s.observe(st, now, m.warnAfter, func() string { return m.hint(s.peer) }) {
			// Info, not Error: a peer away is the network's state, not a
			// failure of the speaker, and Error lines carry a stack trace.
			m.log.Info(n.message, "peer", st.Address, "reason", n.reason)
			m.recorder.Eventf(m.node, nil, n.eventType, n.reason, "Connect", "%s", n.message)
		}
	}
}

// Sessions are the states last seen, one per configured peer.
func (m *sessionMonitor) Sessions() []PeerStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]PeerStatus, 0, len(m.sessions))
	for addr, s := range m.sessions {
		st := s.status
		st.Address = addr
		out = append(out, st)
	}
	return out
}
