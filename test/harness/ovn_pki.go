package harness

import (
	"net"

	"github.com/ovnet/ovnet/pkg/ovntls"
	"github.com/ovnet/ovnet/test/harness/ovsdbserver"
)

// OVNPKI is a certificate authority for TLS between OVN's databases and
// their clients, made for one test, with the files it issues in a
// directory of the test's.
type OVNPKI struct {
	pki *kubePKI
}

// NewOVNPKI makes a CA of its own: two OVNPKIs trust nothing of each other.
func NewOVNPKI(tb T) *OVNPKI {
	tb.Helper()
	pki, err := newKubePKI(tb.TempDir())
	if err != nil {
		tb.Fatalf("OVN PKI: %v", err)
	}
	return &OVNPKI{pki: pki}
}

// Issue signs a certificate for name, good for serving and connecting on
// loopback (127.0.0.1, localhost), and returns its files with the CA's.
func (p *OVNPKI) Issue(tb T, name string) ovntls.Files {
	tb.Helper()
	err := p.pki.issue(certRequest{name: name, commonName: name, peer: true,
		ips: []net.IP{net.IPv4(127, 0, 0, 1)}, dnsNames: []string{"localhost"}})
	if err != nil {
		tb.Fatalf("OVN PKI: %v", err)
	}
	return ovntls.Files{CACert: p.pki.path("ca.crt"), Certificate: p.pki.path(name + ".crt"),
		PrivateKey: p.pki.path(name + ".key")}
}

// StartNorthboundTLS is StartNorthbound with a pssl: listener too
// (OVSDB.SSLEndpoint) serving with files.
func StartNorthboundTLS(tb T, files ovntls.Files) *OVSDB {
	tb.Helper()
	return ovsdbserver.Start(tb, ovsdbserver.Options{Schema: ovsdbserver.NorthboundSchema, Name: "ovnnb_db",
		Dir: socketDir(tb), TLS: serverTLS(files)})
}

// StartSouthboundTLS is StartSouthbound with a pssl: listener too.
func StartSouthboundTLS(tb T, files ovntls.Files) *OVSDB {
	tb.Helper()
	return ovsdbserver.Start(tb, ovsdbserver.Options{Schema: ovsdbserver.SouthboundSchema, Name: "ovnsb_db",
		Dir: socketDir(tb), TLS: serverTLS(files)})
}

// StartNorthboundClusterTLS is StartNorthboundCluster with TLS
// everywhere: its members serve clients on pssl: alone (and their unix
// sockets) and talk to each other over ssl:, all with files.
func StartNorthboundClusterTLS(tb T, files ovntls.Files) *OVSDBCluster {
	tb.Helper()
	return ovsdbserver.StartCluster(tb, ovsdbserver.ClusterOptions{Schema: ovsdbserver.NorthboundSchema,
		Name: "ovnnb_db", Members: raftMembers, Dir: socketDir(tb), TLS: serverTLS(files)})
}

// StartSouthboundClusterTLS is StartNorthboundClusterTLS for OVN_Southbound.
func StartSouthboundClusterTLS(tb T, files ovntls.Files) *OVSDBCluster {
	tb.Helper()
	return ovsdbserver.StartCluster(tb, ovsdbserver.ClusterOptions{Schema: ovsdbserver.SouthboundSchema,
		Name: "ovnsb_db", Members: raftMembers, Dir: socketDir(tb), TLS: serverTLS(files)})
}

func serverTLS(f ovntls.Files) *ovsdbserver.TLS {
	return &ovsdbserver.TLS{PrivateKey: f.PrivateKey, Certificate: f.Certificate, CACert: f.CACert}
}
