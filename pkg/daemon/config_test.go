package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovnet/ovnet/pkg/ovntls"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// Overlay pods and ovn0 leave room for the tunnel; underlay pods, whose
// packets cross none, take the uplink's MTU whatever --mtu says.
func TestPodMTU(t *testing.T) {
	tests := []struct {
		name         string
		cfg          Config
		uplink       int
		haveUplink   bool
		want         int
		wantUnderlay int
	}{
		{"geneve", Config{EncapType: "geneve", EncapIP: "10.0.0.3"}, 1500, true, 1400, 1500},
		{"vxlan", Config{EncapType: "vxlan", EncapIP: "10.0.0.3"}, 1500, true, 1450, 1500},
		{"vxlan over IPv6", Config{EncapType: "vxlan", EncapIP: "fd00::3"}, 1500, true, 1430, 1500},
		{"vxlan, jumbo uplink", Config{EncapType: "vxlan", EncapIP: "10.0.0.3"}, 9000, true, 8950, 9000},
		{"geneve, no default route", Config{EncapType: "geneve"}, 0, false, 1400, 1500},
		{"vxlan, no default route", Config{EncapType: "vxlan"}, 0, false, 1450, 1500},
		{"configured", Config{EncapType: "vxlan", MTU: 1300}, 1500, true, 1300, 1500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.podMTU(tt.uplink, tt.haveUplink); got != tt.want {
				t.Errorf("podMTU(%d, %v) = %d, want %d", tt.uplink, tt.haveUplink, got, tt.want)
			}
			if got := underlayMTU(tt.uplink, tt.haveUplink); got != tt.wantUnderlay {
				t.Errorf("underlayMTU(%d, %v) = %d, want %d", tt.uplink, tt.haveUplink, got, tt.wantUnderlay)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{NodeName: "n1", OVSDB: "unix:/run/openvswitch/db.sock", Socket: "/run/ovnet/daemon.sock"}
	tlsFiles := selfSignedFiles(t)
	tests := []struct {
		name string
		edit func(*Config)
		// wantErr is part of the error; empty means none.
		wantErr string
	}{
		{"defaults", nil, ""},
		{"netdev", func(c *Config) { c.DatapathType = "netdev" }, ""},
		{"unknown datapath", func(c *Config) { c.DatapathType = "dpdk" }, "datapath type"},
		{"no node", func(c *Config) { c.NodeName = "" }, "node name"},
		{"relative socket", func(c *Config) { c.Socket = "daemon.sock" }, "absolute path"},
		{"relative netns", func(c *Config) { c.NetNS = "node1" }, "absolute path"},
		{"tiny MTU", func(c *Config) { c.MTU = 100 }, "MTU"},
		{"vxlan", func(c *Config) { c.EncapType = "vxlan" }, ""},
		{"unknown encap", func(c *Config) { c.EncapType = "stt" }, `encap type "stt": want geneve or vxlan`},
		{"ovn remote without encap ip", func(c *Config) { c.OVNRemote = "tcp:10.0.0.1:6642" }, "encap IP"},
		{"ssl remote with TLS", func(c *Config) {
			c.OVNRemote, c.EncapIP, c.OVNTLS = "ssl:10.0.0.1:6642,ssl:10.0.0.2:6642", "10.0.0.3", tlsFiles
		}, ""},
		{"ssl remote without TLS", func(c *Config) { c.OVNRemote, c.EncapIP = "ssl:10.0.0.1:6642", "10.0.0.3" }, "no TLS files"},
		{"TLS with a tcp remote", func(c *Config) {
			c.OVNRemote, c.EncapIP, c.OVNTLS = "tcp:10.0.0.1:6642", "10.0.0.3", tlsFiles
		}, "no remote is ssl:"},
		{"TLS without a remote", func(c *Config) { c.OVNTLS = tlsFiles }, "need --ovn-remote"},
		{"IPFIX", func(c *Config) {
			c.IPFIX = ovs.IPFIX{Targets: []string{"192.0.2.5:4739", "[2001:db8::5]:4739"}, Sampling: 1}
		}, ""},
		{"IPFIX to a name", func(c *Config) {
			c.IPFIX = ovs.IPFIX{Targets: []string{"collector:4739"}, Sampling: 400}
		}, `target "collector:4739": want IP:port`},
		{"IPFIX pod names", func(c *Config) {
			c.IPFIX, c.IPFIXPodNames = ovs.IPFIX{Targets: []string{"192.0.2.5:4739"}, Sampling: 1}, true
		}, ""},
		{"IPFIX pod names, a collector on the node's loopback at another port", func(c *Config) {
			c.IPFIX, c.IPFIXPodNames = ovs.IPFIX{Targets: []string{"127.0.0.1:4739"}, Sampling: 1}, true
		}, ""},
		{"IPFIX pod names without targets", func(c *Config) { c.IPFIXPodNames = true }, "no IPFIX targets"},
		{"IPFIX pod names, a collector at the mediator's port", func(c *Config) {
			c.IPFIX, c.IPFIXPodNames, c.IPFIXMediatorPort = ovs.IPFIX{Targets: []string{"127.0.0.2:4740"}, Sampling: 1}, true, 4740
		}, "the mediator itself listens on 127.0.0.1:4740"},
		{"IPFIX mediator port out of range", func(c *Config) {
			c.IPFIX, c.IPFIXPodNames, c.IPFIXMediatorPort = ovs.IPFIX{Targets: []string{"192.0.2.5:4739"}, Sampling: 1}, true, 70000
		}, "port 70000: want 1 to 65535"},
		{"IPFIX without a port", func(c *Config) { c.IPFIX = ovs.IPFIX{Targets: []string{"192.0.2.5"}, Sampling: 400} }, "want IP:port"},
		{"IPFIX sampling 0", func(c *Config) { c.IPFIX = ovs.IPFIX{Targets: []string{"192.0.2.5:4739"}} }, "sampling 0"},
		{"IPFIX long timeout", func(c *Config) {
			c.IPFIX = ovs.IPFIX{Targets: []string{"192.0.2.5:4739"}, Sampling: 1, CacheActiveTimeout: 5000}
		}, "cache active timeout 5000"},
		{"IPFIX negative flows", func(c *Config) {
			c.IPFIX = ovs.IPFIX{Targets: []string{"192.0.2.5:4739"}, Sampling: 1, CacheMaxFlows: -1}
		}, "cache max flows -1"},
		{"sFlow", func(c *Config) {
			c.SFlow = ovs.SFlow{Targets: []string{"192.0.2.5:6343"}, Sampling: 400, Polling: 30, Header: 128, Agent: "eth0"}
		}, ""},
		{"sFlow polling 0", func(c *Config) {
			c.SFlow = ovs.SFlow{Targets: []string{"192.0.2.5:6343"}, Sampling: 400, Header: 128}
		}, "polling 0 s"},
		{"TLS key missing", func(c *Config) {
			c.OVNRemote, c.EncapIP, c.OVNTLS = "ssl:10.0.0.1:6642", "10.0.0.3", tlsFiles
			c.OVNTLS.PrivateKey = filepath.Join(t.TempDir(), "absent.key")
		}, "absent.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			if tt.edit != nil {
				tt.edit(&c)
			}
			err := c.withDefaults().validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validate(%+v) = %v, want nil", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("validate(%+v) = %v, want an error containing %q", c, err, tt.wantErr)
			}
		})
	}
}

// selfSignedFiles writes a self-signed certificate, its key, and the
// certificate again as the CA.
func selfSignedFiles(t *testing.T) ovntls.Files {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "n1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := ovntls.Files{CACert: filepath.Join(dir, "ca.crt"), Certificate: filepath.Join(dir, "tls.crt"),
		PrivateKey: filepath.Join(dir, "tls.key")}
	for path, block := range map[string]*pem.Block{f.CACert: {Type: "CERTIFICATE", Bytes: der},
		f.Certificate: {Type: "CERTIFICATE", Bytes: der}, f.PrivateKey: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}
