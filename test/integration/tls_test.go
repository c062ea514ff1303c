package integration

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovntls"
	"github.com/ovnet/ovnet/test/harness"
)

// refusalTimeout bounds a connection the server must refuse; a refusal
// takes one handshake, milliseconds.
const refusalTimeout = 10 * time.Second

// TestTLS runs the controller and ovn-northd against NB and SB that
// listen on pssl: alone for them, with a CA made here: a namespace's
// subnet and a pod become NB rows over TLS, ovn-northd translates them
// into SB over TLS, and clients whose certificates come from another CA
// are refused, ovnet's and OVN's own.
func TestTLS(t *testing.T) {
	pki := harness.NewOVNPKI(t)
	server := pki.Issue(t, "ovsdb-server")
	e := &env{t: t, ctx: context.Background()}
	e.api = harness.StartAPIServer(t, harness.APIServerOptions{})
	e.nb = harness.StartNorthboundTLS(t, server)
	sb := harness.StartSouthboundTLS(t, server)
	// The view reads NB over its unix socket: what it sees, the
	// controller wrote over ssl:, the only remote it is given.
	e.view = harness.WatchNorthbound(t, e.nb.Endpoint)
	c, err := client.New(e.api.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	e.ctrl = harness.StartControllerTLS(t, e.api, e.nb, pki.Issue(t, "ovnet-controller"), harness.DefaultNetwork())
	harness.StartNorthdTLS(t, e.nb, sb, pki.Issue(t, "ovn-northd"))

	e.namespace("secure", map[string]string{annotation.CIDR: "10.77.0.0/24"})
	e.checkSubnetRows("secure", "10.77.0.0/24", "10.77.0.1/24")
	p := e.addressed(e.pod("secure", "web", nil).Namespace, "web")
	e.checkPort(p)
	e.eventually("ovn-northd's port binding of web.secure in SB", func() error {
		out, err := sbOutput(sb, "--bare", "--columns=logical_port", "find", "Port_Binding", "logical_port=web.secure")
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "web.secure" {
			return fmt.Errorf("SB has no Port_Binding web.secure yet (%q)", out)
		}
		return nil
	})

	// A stranger's certificate comes from another CA; it trusts the
	// servers' CA, so what refuses it is the server.
	stranger := harness.NewOVNPKI(t).Issue(t, "stranger")
	strangerTrusting := stranger
	strangerTrusting.CACert = server.CACert
	t.Run("ovnet client of another CA refused by the server", func(t *testing.T) {
		err := connectNorthbound(e.nb.SSLEndpoint, strangerTrusting)
		if err == nil || !strings.Contains(err.Error(), "remote error: tls: unknown certificate authority") {
			t.Fatalf("a client certificate of another CA connecting to %s: %v; want ovsdb-server's alert, unknown certificate authority",
				e.nb.SSLEndpoint, err)
		}
	})
	t.Run("server of another CA refused by ovnet", func(t *testing.T) {
		err := connectNorthbound(e.nb.SSLEndpoint, stranger)
		if err == nil || !strings.Contains(err.Error(), "unknown authority") {
			t.Fatalf("connecting with another CA's certificate to trust: %v; want the server refused as of an unknown authority", err)
		}
	})
	t.Run("ovn-nbctl of another CA refused", func(t *testing.T) {
		out, err := exec.Command("ovn-nbctl", "--db="+e.nb.SSLEndpoint, "--timeout=5", "-p", strangerTrusting.PrivateKey,
			"-c", strangerTrusting.Certificate, "-C", strangerTrusting.CACert, "ls-list").CombinedOutput()
		if err == nil {
			t.Fatalf("ovn-nbctl with a certificate of another CA listed the switches:\n%s", out)
		}
	})
	t.Run("ovn-sbctl of the CA accepted", func(t *testing.T) {
		// The control case of the refusals: the same call with a
		// certificate of the servers' CA gets through.
		good := pki.Issue(t, "operator")
		out, err := exec.Command("ovn-sbctl", "--db="+sb.SSLEndpoint, "--timeout=5",
			"-p", good.PrivateKey, "-c", good.Certificate, "-C", good.CACert,
			"--bare", "--columns=logical_port", "find", "Port_Binding", "logical_port=web.secure").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "web.secure" {
			t.Fatalf("ovn-sbctl over ssl: %v: %s", err, out)
		}
	})
}

// connectNorthbound connects ovnet's northbound client to endpoint with
// files and disconnects: nil means the connection and its first
// transactions (the schema, the monitor) went through.
func connectNorthbound(endpoint string, files ovntls.Files) error {
	ctx, cancel := context.WithTimeout(context.Background(), refusalTimeout)
	defer cancel()
	cfg, err := ovntls.ClientConfig(files, "")
	if err != nil {
		return err
	}
	nb, err := ovn.Connect(ctx, ovn.Config{Endpoints: []string{endpoint}, TLS: cfg, Logger: logr.Discard()})
	if err != nil {
		return err
	}
	nb.Close()
	return nil
}

// sbOutput runs ovn-sbctl against sb's unix socket and returns its output.
func sbOutput(sb *harness.OVSDB, args ...string) (string, error) {
	out, err := exec.Command("ovn-sbctl", append([]string{"--db=" + sb.Endpoint, "--timeout=10"}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ovn-sbctl %v: %w: %s", args, err, out)
	}
	return string(out), nil
}
