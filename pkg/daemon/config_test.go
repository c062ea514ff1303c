package daemon

import (
	"testing"
)

func TestConfigValidate(t *testing.T) {
	good := Config{NodeName: "n1", OVSDB: "unix:/run/openvswitch/db.sock", Socket: "/run/ovnet/daemon.sock"}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr bool
	}{
		{"defaults", nil, false},
		{"netdev", func(c *Config) { c.DatapathType = "netdev" }, false},
		{"unknown datapath", func(c *Config) { c.DatapathType = "dpdk" }, true},
		{"no node", func(c *Config) { c.NodeName = "" }, true},
		{"relative socket", func(c *Config) { c.Socket = "daemon.sock" }, true},
		{"relative netns", func(c *Config) { c.NetNS = "node1" }, true},
		{"tiny MTU", func(c *Config) { c.MTU = 100 }, true},
		{"ovn remote without encap ip", func(c *Config) { c.OVNRemote = "tcp:10.0.0.1:6642" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			if tt.edit != nil {
				tt.edit(&c)
			}
			if err := c.withDefaults().validate(); (err != nil) != tt.wantErr {
				t.Fatalf("validate(%+v) = %v, want error %v", c, err, tt.wantErr)
			}
		})
	}
}
