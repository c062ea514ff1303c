// Package vswitch is the libovsdb model of the Open_vSwitch database, generated
// from Debian's OVS 3.1 vswitch schema 8.3.1 so that it loads against that
// server and every newer one (libovsdb accepts servers whose schema only adds to ours).
package vswitch
