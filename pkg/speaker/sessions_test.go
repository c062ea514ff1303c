package speaker

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSessionObserve walks a session through polls and checks what the
// speaker reports at each: its coming up, its going down, and one warning
// per down period that lasts the warning delay.
func TestSessionObserve(t *testing.T) {
	const warnAfter = 30 * time.Second
	type poll struct {
		after time.Duration // since the start
		state string
		// want are the reasons reported at this poll.
		want []string
	}
	tests := []struct {
		name  string
		polls []poll
	}{
		{name: "up at once", polls: []poll{
			{time.Second, "active", nil},
			{2 * time.Second, "established", []string{ReasonBGPSessionEstablished}},
			{40 * time.Second, "established", nil}}},
		{name: "never up: one warning", polls: []poll{
			{time.Second, "active", nil},
			{29 * time.Second, "connect", nil},
			{30 * time.Second, "active", []string{ReasonBGPSessionNotEstablished}},
			{90 * time.Second, "active", nil}}},
		{name: "down, back, down for long", polls: []poll{
			{time.Second, "established", []string{ReasonBGPSessionEstablished}},
			{50 * time.Second, "idle", []string{ReasonBGPSessionDown}},
			{60 * time.Second, "established", []string{ReasonBGPSessionEstablished}},
			{70 * time.Second, "active", []string{ReasonBGPSessionDown}},
			{99 * time.Second, "active", nil},
			{100 * time.Second, "active", []string{ReasonBGPSessionNotEstablished}},
			{200 * time.Second, "active", nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			s := &session{peer: Peer{Address: "172.18.0.254", AS: 64500}, downSince: start}
			for _, p := range tt.polls {
				notices := s.observe(PeerStatus{Address: s.peer.Address, State: p.state}, start.Add(p.after), warnAfter,
					func() string { return "the hint" })
				var got []string
				for _, n := range notices {
					got = append(got, n.reason)
					if !strings.Contains(n.message, "172.18.0.254") {
						t.Errorf("%s: message %q does not name the peer", n.reason, n.message)
					}
					if n.reason == ReasonBGPSessionNotEstablished && !strings.Contains(n.message, "the hint") {
						t.Errorf("%s: message %q without the hint", n.reason, n.message)
					}
				}
				if !slices.Equal(got, p.want) {
					t.Errorf("at %s in %s: reported %v, want %v", p.after, p.state, got, p.want)
				}
			}
		})
	}
}

func TestDiagnose(t *testing.T) {
	cfg := &Config{LocalAS: 64512}
	node := netip.MustParseAddr("172.18.0.1")
	router := netip.MustParseAddr("172.18.0.254")
	tests := []struct {
		name    string
		peer    Peer
		gateway netip.Addr
		// want are substrings of the hint; not, substrings it must lack.
		want, not []string
	}{
		{name: "eBGP behind a router without multihop", peer: Peer{Address: "198.51.100.10", AS: 64500}, gateway: router,
			want: []string{"through router 172.18.0.254", "set ebgpMultihopTTL"}},
		{name: "eBGP behind a router with multihop", peer: Peer{Address: "198.51.100.10", AS: 64500, EBGPMultihopTTL: 2}, gateway: router,
			want: []string{"session for 172.18.0.1 with AS 64512", "at most 2 hops away", "expects no TCP MD5"}, not: []string{"set ebgpMultihopTTL"}},
		{name: "iBGP behind a router", peer: Peer{Address: "198.51.100.10", AS: 64512}, gateway: router,
			not: []string{"ebgpMultihopTTL", "multihop"}},
		{name: "on the node's network, with a password", peer: Peer{Address: "172.18.0.254", AS: 64500, Password: "x"},
			want: []string{"TCP MD5 password is the one configured here", "TCP port 179"}, not: []string{"ebgpMultihopTTL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diagnose(cfg, tt.peer, node, tt.gateway)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("hint %q lacks %q", got, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("hint %q has %q", got, n)
				}
			}
		})
	}
}
