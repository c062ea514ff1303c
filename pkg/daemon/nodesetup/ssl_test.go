package nodesetup_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ovnet/ovnet/pkg/daemon/nodesetup"
	"github.com/ovnet/ovnet/pkg/ovntls"
	"github.com/ovnet/ovnet/pkg/ovs"
	"github.com/ovnet/ovnet/test/harness/ovsdbserver"
)

// TestEnsureBridgeSSL follows the daemon through TLS on, unchanged, and
// off, against a real Open_vSwitch database: the SSL row ovn-controller
// reads appears with the files and the daemon's mark, a restart with
// nothing changed keeps it, and without TLS it goes; someone else's SSL
// row is never removed.
func TestEnsureBridgeSSL(t *testing.T) {
	ctx, client, vsctl := openVswitchDB(t)
	files := ovntls.Files{CACert: "/etc/ovnet/ovn-tls/ca.crt", Certificate: "/etc/ovnet/ovn-tls/tls.crt",
		PrivateKey: "/etc/ovnet/ovn-tls/tls.key"}
	cfg := nodesetup.Config{NodeName: "n1", Bridge: "br-int", DatapathType: "netdev", OVNRemote: "ssl:10.0.0.1:6642",
		EncapType: "geneve", EncapIP: "10.0.0.3", OVNTLS: files}
	withTLS := "Private key: /etc/ovnet/ovn-tls/tls.key\nCertificate: /etc/ovnet/ovn-tls/tls.crt\nCA Certificate: /etc/ovnet/ovn-tls/ca.crt\nBootstrap: false"

	for _, step := range []struct {
		name   string
		cfg    nodesetup.Config
		before func()
		// ssl is `ovs-vsctl get-ssl` afterwards; remote ovn-remote.
		ssl, remote string
	}{
		{"TLS on", cfg, nil, withTLS, `"ssl:10.0.0.1:6642"`},
		{"restart", cfg, nil, withTLS, `"ssl:10.0.0.1:6642"`},
		{"TLS off", withoutTLS(cfg), nil, "", `"tcp:10.0.0.1:6642"`},
		{"someone else's row kept", withoutTLS(cfg), func() { vsctl("set-ssl", "/own.key", "/own.crt", "/own-ca.crt") },
			"Private key: /own.key\nCertificate: /own.crt\nCA Certificate: /own-ca.crt\nBootstrap: false", `"tcp:10.0.0.1:6642"`},
	} {
		if step.before != nil {
			step.before()
		}
		if err := nodesetup.New(step.cfg, client, nil).EnsureBridge(ctx); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := vsctl("get-ssl"); got != step.ssl {
			t.Errorf("%s: get-ssl:\n%s\nwant:\n%s", step.name, got, step.ssl)
		}
		if got := vsctl("get", "Open_vSwitch", ".", "external_ids:ovn-remote"); got != step.remote {
			t.Errorf("%s: ovn-remote %s, want %s", step.name, got, step.remote)
		}
	}
	if rows := vsctl("--bare", "--columns=_uuid", "list", "SSL"); len(strings.Fields(rows)) != 1 {
		t.Errorf("SSL rows %q, want the one set-ssl made", rows)
	}
}

func withoutTLS(cfg nodesetup.Config) nodesetup.Config {
	cfg.OVNRemote, cfg.OVNTLS = "tcp:10.0.0.1:6642", ovntls.Files{}
	return cfg
}

// openVswitchDB starts a real Open_vSwitch database, initialised, and
// returns a context bounding the test, a client and ovs-vsctl on it.
func openVswitchDB(t *testing.T) (context.Context, *ovs.Client, func(args ...string) string) {
	t.Helper()
	db := ovsdbserver.Start(t, ovsdbserver.Options{Schema: ovsdbserver.OpenvSwitchSchema})
	vsctl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ovs-vsctl", append([]string{"--db=" + db.Endpoint, "--no-wait", "--timeout=10"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ovs-vsctl %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	vsctl("init")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	client, err := ovs.Connect(ctx, ovs.Config{Endpoint: db.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return ctx, client, vsctl
}
