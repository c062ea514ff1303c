package harness

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// certValidity outlives any test or sandbox session.
const certValidity = 365 * 24 * time.Hour

// kubePKI is a cluster's certificate authority and the files made from
// it, all in dir, named like kubeadm's (ca.crt, apiserver.crt, sa.key...).
type kubePKI struct {
	dir    string
	caCert *x509.Certificate
	caKey  crypto.Signer

	// mu guards serial: nodes are issued certificates at once.
	mu     sync.Mutex
	serial int64
}

// certRequest says what a certificate is for: a server, a client, or a
// peer (both).
type certRequest struct {
	// name is the file name without extension.
	name string
	// commonName and organization are the user and group a client
	// certificate authenticates as.
	commonName   string
	organization []string
	// ips and dnsNames are a serving certificate's subject alternative names.
	ips      []net.IP
	dnsNames []string
	server   bool
	// peer is a certificate for both ends, as OVN's daemons use theirs:
	// ovsdb-server serves with it, ovn-northd and ovn-controller connect
	// with it, and OpenSSL checks the purpose on either side.
	peer bool
}

// newKubePKI makes a self-signed CA in dir.
func newKubePKI(dir string) (*kubePKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ovnet-test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	p := &kubePKI{dir: dir, caCert: cert, caKey: key, serial: 1}
	if err := p.writeKeyPair("ca", der, key); err != nil {
		return nil, err
	}
	return p, nil
}

// path is the file name in the PKI directory.
func (p *kubePKI) path(name string) string { return filepath.Join(p.dir, name) }

// CACert is the PEM of the CA certificate.
func (p *kubePKI) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.caCert.Raw})
}

// issue signs a certificate for req and writes <name>.crt and <name>.key.
func (p *kubePKI) issue(req certRequest) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("key for %s: %w", req.name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: p.nextSerial(),
		Subject:      pkix.Name{CommonName: req.commonName, Organization: req.organization},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		IPAddresses:  req.ips,
		DNSNames:     req.dnsNames,
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if req.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if req.peer {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, key.Public(), p.caKey)
	if err != nil {
		return fmt.Errorf("certificate for %s: %w", req.name, err)
	}
	return p.writeKeyPair(req.name, der, key)
}

// nextSerial is the serial number of the next certificate.
func (p *kubePKI) nextSerial() *big.Int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serial++
	return big.NewInt(p.serial)
}

// writeKeyPair writes <name>.crt and <name>.key.
func (p *kubePKI) writeKeyPair(name string, der []byte, key crypto.Signer) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("key of %s: %w", name, err)
	}
	if err := os.WriteFile(p.path(name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("writing %s.crt: %w", name, err)
	}
	if err := os.WriteFile(p.path(name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("writing %s.key: %w", name, err)
	}
	return nil
}

// serviceAccountKeys writes sa.key and sa.pub, the key pair that signs
// and verifies ServiceAccount tokens (RSA: every client verifies RS256).
func (p *kubePKI) serviceAccountKeys() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("service account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("service account key: %w", err)
	}
	if err := os.WriteFile(p.path("sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return fmt.Errorf("writing sa.key: %w", err)
	}
	if err := os.WriteFile(p.path("sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return fmt.Errorf("writing sa.pub: %w", err)
	}
	return nil
}

// kubeconfig writes a kubeconfig file at path for the client certificate
// <user>.crt, reaching the API server at server.
func (p *kubePKI) kubeconfig(path, server, user string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["ovnet"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.caPEM()}
	cert, err := os.ReadFile(p.path(user + ".crt"))
	if err != nil {
		return fmt.Errorf("kubeconfig for %s: %w", user, err)
	}
	key, err := os.ReadFile(p.path(user + ".key"))
	if err != nil {
		return fmt.Errorf("kubeconfig for %s: %w", user, err)
	}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts["ovnet"] = &clientcmdapi.Context{Cluster: "ovnet", AuthInfo: user}
	cfg.CurrentContext = "ovnet"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("kubeconfig for %s: %w", user, err)
	}
	return nil
}
