package speaker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	good := Peer{Address: "172.18.0.254", AS: 64500}
	tests := []struct {
		name string
		cfg  Config
		// wantErr are substrings of the error; none means valid.
		wantErr []string
	}{
		{name: "one eBGP peer", cfg: Config{LocalAS: 64512, Peers: []Peer{good}}},
		{name: "iBGP with graceful restart", cfg: Config{LocalAS: 64512, Peers: []Peer{{Address: "10.0.0.1", AS: 64512, GracefulRestart: true, RestartTime: 300}}}},
		{name: "local AS per peer", cfg: Config{Peers: []Peer{{Address: "10.0.0.1", AS: 64500, LocalAS: 64512, EBGPMultihopTTL: 3, Password: "secret"}}}},
		{name: "no peers", cfg: Config{LocalAS: 64512}, wantErr: []string{"at least one peer"}},
		{name: "bad address", cfg: Config{LocalAS: 64512, Peers: []Peer{{Address: "router", AS: 1}}}, wantErr: []string{`peers[0].address "router"`}},
		{name: "IPv6 peer", cfg: Config{LocalAS: 64512, Peers: []Peer{{Address: "fd00::1", AS: 1}}}, wantErr: []string{"only IPv4"}},
		{name: "twice", cfg: Config{LocalAS: 64512, Peers: []Peer{good, good}}, wantErr: []string{"peers[1].address 172.18.0.254: listed twice"}},
		{name: "no AS", cfg: Config{LocalAS: 64512, Peers: []Peer{{Address: "10.0.0.1"}}}, wantErr: []string{"peers[0].as: missing"}},
		{name: "no local AS", cfg: Config{Peers: []Peer{good}}, wantErr: []string{"no local AS"}},
		{name: "long password", cfg: Config{LocalAS: 64512, Peers: []Peer{{Address: "10.0.0.1", AS: 1, Password: strings.Repeat("x", 81)}}}, wantErr: []string{"at most 80"}},
		{name: "multihop on iBGP", cfg: Config{LocalAS: 64512, Peers: []Peer{{Address: "10.0.0.1", AS: 64512, EBGPMultihopTTL: 2}}}, wantErr: []string{"multihop is for eBGP"}},
		{name: "restart time too long", cfg: Config{LocalAS: 64512, Peers: []Peer{{Address: "10.0.0.1", AS: 1, GracefulRestart: true, RestartTime: 4096}}}, wantErr: []string{"at most 4095"}},
		{name: "restart time alone", cfg: Config{LocalAS: 64512, Peers: []Peer{{Address: "10.0.0.1", AS: 1, RestartTime: 60}}}, wantErr: []string{"without gracefulRestart"}},
		{name: "every error named", cfg: Config{Peers: []Peer{{Address: "x"}}}, wantErr: []string{"address", "as: missing", "no local AS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %v, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name, file string
		wantErr    string
	}{
		{name: "valid", file: "localAS: 64512\npeers:\n- address: 172.18.0.254\n  as: 64500\n  gracefulRestart: true\n"},
		{name: "misspelt field", file: "localAS: 64512\npeers:\n- address: 172.18.0.254\n  as: 64500\n  gracefulRestrat: true\n", wantErr: "unknown field"},
		{name: "invalid", file: "localAS: 64512\npeers: []\n", wantErr: "at least one peer"},
		{name: "not YAML", file: "peers: [", wantErr: "speaker configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "speaker.yaml")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadConfig: %v", err)
				}
				if p := cfg.Peers[0]; p.AS != 64500 || !p.GracefulRestart || p.restartTime() != DefaultRestartTime {
					t.Errorf("peer %+v, restart time %d", p, p.restartTime())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadConfig = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("LoadConfig of a missing file: no error")
	}
}
