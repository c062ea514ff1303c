package ovntls

import (
	"strings"
	"testing"
)

func TestCheckRemotes(t *testing.T) {
	all := Files{CACert: "/tls/ca.crt", Certificate: "/tls/tls.crt", PrivateKey: "/tls/tls.key"}
	tests := []struct {
		name    string
		remotes []string
		files   Files
		// wantErr is part of the error; empty means none.
		wantErr string
	}{
		{"tcp without TLS", []string{"tcp:10.0.0.1:6641"}, Files{}, ""},
		{"unix without TLS", []string{"unix:/run/ovn/ovnnb_db.sock"}, Files{}, ""},
		{"ssl with TLS", []string{"ssl:10.0.0.1:6641"}, all, ""},
		{"ssl Raft cluster with TLS", []string{"ssl:10.0.0.1:6641", "ssl:10.0.0.2:6641", "ssl:10.0.0.3:6641"}, all, ""},
		{"ssl without TLS", []string{"ssl:10.0.0.1:6641"}, Files{}, "is ssl: but no TLS files"},
		{"ssl with a partial set", []string{"ssl:10.0.0.1:6641"}, Files{CACert: "/tls/ca.crt"}, "missing: certificate, private key"},
		{"TLS without ssl", []string{"tcp:10.0.0.1:6641"}, all, "no remote is ssl:"},
		{"ssl mixed with tcp", []string{"ssl:10.0.0.1:6641", "tcp:10.0.0.2:6641"}, all, "mix ssl: with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRemotes("the northbound database", tt.remotes, tt.files)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckRemotes(%v, %+v) = %v; want nil", tt.remotes, tt.files, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckRemotes(%v, %+v) = %v; want an error containing %q", tt.remotes, tt.files, err, tt.wantErr)
			}
		})
	}
}
