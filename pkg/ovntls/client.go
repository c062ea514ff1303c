package ovntls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ClientConfig is the crypto/tls configuration of a client of an OVN
// database. It presents Certificate and PrivateKey and accepts a server
// whose certificate chains to CACert. Like OVN's own daemons (OpenSSL with
// the CA and nothing else), it checks no host name unless serverName is
// given: OVN certificates (ovs-pki's among them) usually name no host,
// and the chart reaches the databases by a ClusterIP no certificate can
// know in advance. With serverName, the server's certificate must name it
// in its subject alternative names.
//
// The files are read now, so a wrong path or a key that does not match
// its certificate fails at start, and again at every connection, so a
// Secret's rotated files are used at the next reconnect without a restart.
func ClientConfig(f Files, serverName string) (*tls.Config, error) {
	if !f.Enabled() {
		return nil, errNoFiles
	}
	if err := f.complete(); err != nil {
		return nil, err
	}
	if _, err := f.keyPair(); err != nil {
		return nil, err
	}
	if _, err := f.caPool(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return f.keyPair()
		},
		// The chain is checked in VerifyConnection against CACert alone
		// (never the system's roots), with the host name only when asked.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return f.verifyServer(cs, serverName)
		},
	}, nil
}

// keyPair reads the certificate and its key.
func (f Files) keyPair() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(f.Certificate, f.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s with key %s: %w", f.Certificate, f.PrivateKey, err)
	}
	return &cert, nil
}

// caPool reads the CA certificates.
func (f Files) caPool() (*x509.CertPool, error) {
	pem, err := os.ReadFile(f.CACert)
	if err != nil {
		return nil, fmt.Errorf("TLS CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("TLS CA certificate %s: no PEM certificate in it", f.CACert)
	}
	return pool, nil
}

// verifyServer checks the server's chain against CACert, and its name
// when serverName is set.
func (f Files) verifyServer(cs tls.ConnectionState, serverName string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("TLS: the server sent no certificate")
	}
	roots, err := f.caPool()
	if err != nil {
		return err
	}
	intermediates := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, DNSName: serverName,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return fmt.Errorf("TLS: server certificate %q: %w", leaf.Subject.CommonName, err)
	}
	return nil
}
