// Package ovntls owns the TLS settings of ovnet's connections to the OVN
// databases: the CA certificate, certificate and private key files given
// on the command line, which remotes need them (OVSDB's "ssl:"), and the
// crypto/tls configuration that checks a server the way OVN's own daemons
// do.
package ovntls
