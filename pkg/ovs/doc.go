// Package ovs converges the node's Open_vSwitch database (bridges, pod ports,
// QoS and mirrors) over OVSDB from the generated vswitch models, reading the
// libovsdb cache instead of running ovs-vsctl.
package ovs
