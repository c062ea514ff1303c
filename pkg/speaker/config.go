package speaker

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"sigs.k8s.io/yaml"
)

const (
	// maxPasswordLen is TCP MD5's key length limit (TCP_MD5SIG_MAXKEYLEN):
	// a longer password would be refused by the kernel at connect time.
	maxPasswordLen = 80
	// maxRestartTime is the largest restart time the graceful restart
	// capability can carry (12 bits, RFC 4724).
	maxRestartTime = 4095
	// DefaultRestartTime is how long, in seconds, peers keep the speaker's
	// routes after it went away with graceful restart on: long enough for
	// a DaemonSet rollout to replace the pod.
	DefaultRestartTime = 120
)

// Config is the speaker's configuration file (the chart renders it from
// speaker.* values into a Secret, since it may hold passwords).
type Config struct {
	// LocalAS is the cluster's AS number, used for every peer that does
	// not name its own.
	LocalAS uint32 `json:"localAS"`
	// Peers are the routers each node's speaker connects to.
	Peers []Peer `json:"peers"`
}

// Peer is one BGP neighbour.
type Peer struct {
	// Address is the neighbour's IPv4 address.
	Address string `json:"address"`
	// AS is the neighbour's AS number; equal to the local AS makes iBGP.
	AS uint32 `json:"as"`
	// LocalAS overrides Config.LocalAS for this neighbour.
	LocalAS uint32 `json:"localAS,omitempty"`
	// Password turns on TCP MD5 authentication (RFC 2385).
	Password string `json:"password,omitempty"`
	// EBGPMultihopTTL, when set, allows an eBGP neighbour that is not on
	// a directly connected network, this many hops away.
	EBGPMultihopTTL uint8 `json:"ebgpMultihopTTL,omitempty"`
	// GracefulRestart advertises the capability (RFC 4724): the
	// neighbour keeps the routes across a speaker restart.
	GracefulRestart bool `json:"gracefulRestart,omitempty"`
	// RestartTime is how long, in seconds, the neighbour keeps them;
	// DefaultRestartTime when zero.
	RestartTime uint16 `json:"restartTime,omitempty"`
}

// LoadConfig reads and checks a configuration file; unknown fields are
// refused, so a misspelt option is not silently ignored.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("speaker configuration: %w", err)
	}
	var cfg Config
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("speaker configuration %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("speaker configuration %s: %w", path, err)
	}
	return &cfg, nil
}

// Validate refuses a configuration the speaker could not act on in full,
// naming every bad field.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Peers) == 0 {
		errs = append(errs, errors.New("peers: at least one peer is needed"))
	}
	seen := map[netip.Addr]bool{}
	for i, p := range c.Peers {
		field := fmt.Sprintf("peers[%d]", i)
		addr, err := netip.ParseAddr(p.Address)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s.address %q: not an IP address", field, p.Address))
		case !addr.Is4():
			errs = append(errs, fmt.Errorf("%s.address %s: only IPv4 peers are supported", field, addr))
		case seen[addr]:
			errs = append(errs, fmt.Errorf("%s.address %s: listed twice", field, addr))
		}
		seen[addr] = true
		if p.AS == 0 {
			errs = append(errs, fmt.Errorf("%s.as: missing (AS 0 is reserved)", field))
		}
		if p.LocalAS == 0 && c.LocalAS == 0 {
			errs = append(errs, fmt.Errorf("%s: no local AS (set localAS or %s.localAS)", field, field))
		}
		if len(p.Password) > maxPasswordLen {
			errs = append(errs, fmt.Errorf("%s.password: %d characters, TCP MD5 takes at most %d", field, len(p.Password), maxPasswordLen))
		}
		if p.EBGPMultihopTTL > 0 && p.as(c) == p.AS {
			errs = append(errs, fmt.Errorf("%s.ebgpMultihopTTL: the peer is iBGP (AS %d on both ends), multihop is for eBGP", field, p.AS))
		}
		if p.RestartTime > maxRestartTime {
			errs = append(errs, fmt.Errorf("%s.restartTime: %d s, the capability carries at most %d", field, p.RestartTime, maxRestartTime))
		}
		if p.RestartTime > 0 && !p.GracefulRestart {
			errs = append(errs, fmt.Errorf("%s.restartTime: set without gracefulRestart", field))
		}
	}
	return errors.Join(errs...)
}

// as is the local AS the speaker uses towards p.
func (p Peer) as(c *Config) uint32 {
	if p.LocalAS != 0 {
		return p.LocalAS
	}
	return c.LocalAS
}

// restartTime is the restart time advertised to p.
func (p Peer) restartTime() uint32 {
	if p.RestartTime != 0 {
		return uint32(p.RestartTime)
	}
	return DefaultRestartTime
}
