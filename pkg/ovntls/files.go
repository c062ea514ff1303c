package ovntls

import (
	"errors"
	"fmt"
	"strings"
)

// SchemeSSL is the OVSDB remote scheme of a TLS connection ("ssl:HOST:PORT").
const SchemeSSL = "ssl:"

// Files are the PEM files of one side of a mutually authenticated TLS
// connection, as OVN's -C, -c and -p options take them.
type Files struct {
	// CACert holds the certificates of the CA(s) a peer's certificate
	// must chain to.
	CACert string
	// Certificate is this side's certificate, optionally followed by its
	// intermediates; PrivateKey is its key (PKCS#1, PKCS#8 or SEC 1).
	Certificate string
	PrivateKey  string
}

// Enabled reports whether any file is given.
func (f Files) Enabled() bool {
	return f.CACert != "" || f.Certificate != "" || f.PrivateKey != ""
}

// complete rejects a partial set: OVN's servers ask every client for a
// certificate, so TLS without all three files cannot connect.
func (f Files) complete() error {
	var missing []string
	for _, file := range []struct{ name, path string }{
		{"CA certificate", f.CACert}, {"certificate", f.Certificate}, {"private key", f.PrivateKey},
	} {
		if file.path == "" {
			missing = append(missing, file.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("TLS needs a CA certificate, a certificate and a private key; missing: %s",
			strings.Join(missing, ", "))
	}
	return nil
}

// IsSSL reports whether an OVSDB remote is a TLS one.
func IsSSL(remote string) bool { return strings.HasPrefix(remote, SchemeSSL) }

// CheckRemotes says whether files fit remotes: an ssl: remote needs all
// three files, and files given with no ssl: remote would be ignored, so
// both are errors naming what to change. what names the remotes ("the
// northbound database").
func CheckRemotes(what string, remotes []string, f Files) error {
	var ssl, plain []string
	for _, r := range remotes {
		if IsSSL(r) {
			ssl = append(ssl, r)
		} else {
			plain = append(plain, r)
		}
	}
	switch {
	case len(ssl) > 0 && len(plain) > 0:
		return fmt.Errorf("%s: remotes %v mix ssl: with %v; use ssl: for every member", what, ssl, plain)
	case len(ssl) > 0 && !f.Enabled():
		return fmt.Errorf("%s: remote %s is ssl: but no TLS files are given (CA certificate, certificate, private key)", what, ssl[0])
	case len(ssl) == 0 && f.Enabled():
		return fmt.Errorf("%s: TLS files are given but no remote is ssl: (%v); use ssl:HOST:PORT", what, remotes)
	case len(ssl) > 0:
		if err := f.complete(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// errNoFiles is returned when a TLS configuration is asked of empty Files.
var errNoFiles = errors.New("no TLS files given")
