// Package nbdb is the libovsdb model of the OVN northbound database, generated
// from Debian's OVN 23.03 NB schema 7.0.0 so that it loads against that server
// and every newer one (libovsdb accepts servers whose schema only adds to ours).
package nbdb
