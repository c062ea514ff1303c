package ovntls

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"testing"
)

// serverConfig is what ovsdb-server does with -p, -c and -C: present its
// certificate and demand one from the client that chains to the CA.
func serverConfig(t *testing.T, f Files) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(f.Certificate, f.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := f.caPool()
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
}

// handshake runs both ends over a loopback TCP connection and returns the
// certificate the server saw and the client's error. Not net.Pipe: its
// writes block until the peer has read every byte, so a client that
// rejects the server's certificate before reading the server's whole
// flight, and writes its alert, deadlocks against the server still
// writing that flight; the kernel's socket buffers take both.
func handshake(t *testing.T, client, server *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan *x509.Certificate, 1)
	go func() {
		sc, err := ln.Accept()
		if err != nil {
			seen <- nil
			return
		}
		defer sc.Close()
		s := tls.Server(sc, server)
		if s.Handshake() != nil {
			seen <- nil
			return
		}
		seen <- s.ConnectionState().PeerCertificates[0]
		_, _ = s.Write([]byte{1})
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	// TLS 1.3 finishes the client's handshake before the server has
	// checked the client's certificate: the server's verdict comes with
	// the first read.
	c := tls.Client(cc, client)
	err = c.Handshake()
	if err == nil {
		_, err = c.Read(make([]byte, 1))
	}
	if err != nil {
		cc.Close()
	}
	return <-seen, err
}

func TestClientConfigHandshake(t *testing.T) {
	ovnCA, otherCA := newTestCA(t, "ovn-ca"), newTestCA(t, "other-ca")
	server := ovnCA.issue("ovsdb-server", "ovn-nb.kube-system")
	client := ovnCA.issue("ovnet-controller")
	stranger := otherCA.issue("stranger", "ovn-nb.kube-system")
	tests := []struct {
		name       string
		client     Files
		server     Files
		serverName string
		// wantErr is part of the client's error; empty means success.
		wantErr string
	}{
		{"same CA", client, server, "", ""},
		{"same CA, server name in the certificate", client, server, "ovn-nb.kube-system", ""},
		{"same CA, another server name", client, server, "ovn-sb.kube-system", "not ovn-sb.kube-system"},
		{"server of another CA", client, stranger, "", "certificate signed by unknown authority"},
		// The server refuses the client: the client sees the alert.
		{"client of another CA", stranger, Files{CACert: ovnCA.path("ca.crt"), Certificate: server.Certificate,
			PrivateKey: server.PrivateKey}, "", "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ClientConfig(tt.client, tt.serverName)
			if err != nil {
				t.Fatal(err)
			}
			seen, err := handshake(t, cfg, serverConfig(t, tt.server))
			if tt.wantErr == "" {
				if err != nil || seen == nil {
					t.Fatalf("handshake: %v (server saw %v); want success", err, seen)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("handshake error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestClientConfigRotation: files replaced in place (a Secret's update)
// are presented at the next connection.
func TestClientConfigRotation(t *testing.T) {
	ca := newTestCA(t, "ovn-ca")
	server := ca.issue("ovsdb-server")
	client := ca.issue("ovnet-controller")
	cfg, err := ClientConfig(client, "")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := handshake(t, cfg, serverConfig(t, server))
	ca.issue("ovnet-controller") // same paths, a new certificate
	second, _ := handshake(t, cfg, serverConfig(t, server))
	if first == nil || second == nil || first.SerialNumber.Cmp(second.SerialNumber) == 0 {
		t.Fatalf("server saw serials %v then %v; want the rotated certificate the second time", serial(first), serial(second))
	}
}

func serial(c *x509.Certificate) any {
	if c == nil {
		return nil
	}
	return c.SerialNumber
}

func TestClientConfigBadFiles(t *testing.T) {
	ca := newTestCA(t, "ovn-ca")
	good := ca.issue("ovnet-controller")
	other := ca.issue("other")
	notPEM := ca.path("not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(*Files)
		wantErr string
	}{
		{"none", func(f *Files) { *f = Files{} }, "no TLS files"},
		{"no key", func(f *Files) { f.PrivateKey = "" }, "missing: private key"},
		{"no CA", func(f *Files) { f.CACert = "" }, "missing: CA certificate"},
		{"missing certificate", func(f *Files) { f.Certificate = ca.path("absent.crt") }, "absent.crt"},
		{"key of another certificate", func(f *Files) { f.PrivateKey = other.PrivateKey }, "private key does not match"},
		{"CA file without a certificate", func(f *Files) { f.CACert = notPEM }, "no PEM certificate"},
		{"missing CA file", func(f *Files) { f.CACert = ca.path("absent-ca.crt") }, "absent-ca.crt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good
			tt.edit(&f)
			_, err := ClientConfig(f, "")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ClientConfig(%+v) = %v; want an error containing %q", f, err, tt.wantErr)
			}
		})
	}
}
