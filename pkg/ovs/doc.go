// Package ovs converges the node's Open_vSwitch database (bridges, pod ports,
// QoS and mirrors) over OVSDB from the generated vswitch models, reading the
// libovsdb cache instead of running ovs-vsctl, and names the tunnel types
// ovn-controller reads from it (ovn-encap-type) with what each costs a
// packet.
package ovs
