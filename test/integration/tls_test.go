package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/kubectlovnet"
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
		e.refused(e.nb.SSLEndpoint, e.nb.LogFile, strangerTrusting)
	})
	t.Run("server of another CA refused by ovnet", func(t *testing.T) {
		err := connectNorthbound(e.nb.SSLEndpoint, stranger)
		if err == nil || !strings.Contains(err.Error(), "unknown authority") {
			t.Fatalf("connecting with another CA's certificate to trust: %v; want the server refused as of an unknown authority", err)
		}
	})
	t.Run("ovn-nbctl of another CA refused", func(t *testing.T) {
		before := verifyFailures(t, e.nb.LogFile)
		out, err := exec.Command("ovn-nbctl", "--db="+e.nb.SSLEndpoint, "--timeout=5", "-p", strangerTrusting.PrivateKey,
			"-c", strangerTrusting.Certificate, "-C", strangerTrusting.CACert, "ls-list").CombinedOutput()
		if err == nil {
			t.Fatalf("ovn-nbctl with a certificate of another CA listed the switches:\n%s", out)
		}
		// ovn-nbctl gives up at the server's alert, which the server may
		// send before it writes its log line.
		e.refusalLogged(e.nb.LogFile, before)
	})
	t.Run("kubectl ovnet over ssl", func(t *testing.T) {
		k := kubectlOvnet{bin: harness.Build(t, "./cmd/kubectl-ovnet", "kubectl-ovnet"), kubeconfig: e.api.Kubeconfig}
		op := pki.Issue(t, "kubectl")
		tlsFlags := []string{"--ovn-ca-cert=" + op.CACert, "--ovn-cert=" + op.Certificate, "--ovn-private-key=" + op.PrivateKey}
		out := k.run(t, append(tlsFlags, "--nb="+e.nb.SSLEndpoint, "nbctl", "ls-list")...)
		if !strings.Contains(out, "(secure)") {
			t.Errorf("nbctl ls-list over ssl:\n%s\nwant switch secure", out)
		}
		out = k.run(t, append(tlsFlags, "--sb="+sb.SSLEndpoint, "sbctl",
			"--bare", "--columns=logical_port", "find", "Port_Binding", "logical_port=web.secure")...)
		if strings.TrimSpace(out) != "web.secure" {
			t.Errorf("sbctl over ssl: %q, want web.secure", out)
		}
		out, err := k.tryRun("--nb="+e.nb.SSLEndpoint, "nbctl", "ls-list")
		if err == nil || !strings.Contains(out, "is ssl: but no TLS files are given") {
			t.Errorf("nbctl to ssl: without TLS files: err %v, output:\n%s", err, out)
		}
		out, err = k.tryRun(append(tlsFlags, "--nb="+e.nb.Endpoint, "nbctl", "ls-list")...)
		if err == nil || !strings.Contains(out, "TLS files are given but no remote is ssl:") {
			t.Errorf("nbctl to unix: with TLS files: err %v, output:\n%s", err, out)
		}
	})
	t.Run("kubectl ovnet finds ssl: Services", func(t *testing.T) {
		e.chartService("ovn-nb", 6641, "10.0.0.2")
		e.chartService("ovn-sb", 6642, "10.0.0.2")
		defer e.deleteChartServices()
		for _, name := range []string{"ovn-nb", "ovn-sb"} {
			var svc corev1.Service
			if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: metav1.NamespaceSystem, Name: name}, &svc); err != nil {
				t.Fatal(err)
			}
			svc.Annotations = map[string]string{kubectlovnet.SchemeAnnotation: "ssl"}
			if err := e.c.Update(e.ctx, &svc); err != nil {
				t.Fatal(err)
			}
		}
		files := ovntls.Files{CACert: "/tls/ca.crt", Certificate: "/tls/tls.crt", PrivateKey: "/tls/tls.key"}
		o := &kubectlovnet.Options{Getenv: func(string) string { return "" }, TLS: files}
		nb, sb, err := o.Databases(e.ctx, e.c)
		if err != nil {
			t.Fatal(err)
		}
		if want := (kubectlovnet.Database{Remote: "ssl:10.0.0.2:6641", Source: "service kube-system/ovn-nb endpoints", TLS: files}); nb != want {
			t.Errorf("NB %+v, want %+v", nb, want)
		}
		if sb.Remote != "ssl:10.0.0.2:6642" || sb.TLS != files {
			t.Errorf("SB %+v, want ssl:10.0.0.2:6642 with the files", sb)
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

// certificateRefused is what ovsdb-server (OpenSSL) logs when a client's
// certificate does not chain to its CA.
const certificateRefused = "SSL_accept: error:0A000086:SSL routines::certificate verify failed"

// refused checks that the ovsdb-server at endpoint, logging to logFile,
// refuses ovnet's northbound client with files: the connection fails and
// the server logs the refusal of the certificate.
func (e *env) refused(endpoint, logFile string, files ovntls.Files) {
	e.t.Helper()
	before := verifyFailures(e.t, logFile)
	if err := connectNorthbound(endpoint, files); err == nil {
		e.t.Fatalf("a client certificate of another CA connected to %s", endpoint)
	}
	e.refusalLogged(logFile, before)
}

// refusalLogged waits for the ovsdb-server logging to logFile to log one
// more refused certificate than the before it had counted.
func (e *env) refusalLogged(logFile string, before int) {
	e.t.Helper()
	e.eventually("the refusal of the certificate in "+logFile, func() error {
		if n := verifyFailures(e.t, logFile); n <= before {
			return fmt.Errorf("%d lines %q, as before the connection", n, certificateRefused)
		}
		return nil
	})
}

// verifyFailures counts the refused client certificates in an
// ovsdb-server's log.
func verifyFailures(t *testing.T, logFile string) int {
	t.Helper()
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(log), certificateRefused)
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
