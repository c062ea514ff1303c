package controller

import (
	"strings"
	"testing"

	"github.com/ovnet/ovnet/pkg/ovntls"
)

// northboundTLS refuses TLS settings that would not be acted on and
// endpoints that need settings not given, before anything connects.
func TestNorthboundTLS(t *testing.T) {
	files := ovntls.Files{CACert: "/tls/ca.crt", Certificate: "/tls/tls.crt", PrivateKey: "/tls/tls.key"}
	tests := []struct {
		name string
		opts Options
		// wantErr is part of the error; empty means none and no TLS.
		wantErr string
	}{
		{"tcp", Options{NorthboundEndpoints: []string{"tcp:10.0.0.1:6641"}}, ""},
		{"ssl without files", Options{NorthboundEndpoints: []string{"ssl:10.0.0.1:6641"}}, "no TLS files"},
		{"files without ssl", Options{NorthboundEndpoints: []string{"tcp:10.0.0.1:6641"}, NorthboundTLS: files}, "no remote is ssl:"},
		{"server name without ssl", Options{NorthboundEndpoints: []string{"tcp:10.0.0.1:6641"}, NorthboundServerName: "ovn"},
			"a TLS server name (ovn) needs ssl: remotes"},
		{"files that do not exist", Options{NorthboundEndpoints: []string{"ssl:10.0.0.1:6641"}, NorthboundTLS: files},
			"northbound database: TLS certificate /tls/tls.crt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := northboundTLS(tt.opts)
			if tt.wantErr == "" {
				if err != nil || cfg != nil {
					t.Fatalf("northboundTLS = %v, %v; want no TLS and no error", cfg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("northboundTLS error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}
