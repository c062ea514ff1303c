// Package ipfixmediator is the node's IPFIX mediator: it receives
// br-int's IPFIX records from ovs-vswitchd on a loopback port, adds the
// source and destination pods' namespace, name and node as ovnet's
// enterprise information elements, and exports the records again to the
// collectors.
package ipfixmediator
