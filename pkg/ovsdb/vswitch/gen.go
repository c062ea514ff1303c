package vswitch

// The schema is a checked-in copy rather than /usr/share/openvswitch/vswitch.ovsschema
// so that regenerating does not depend on the OVS version of the machine.
//go:generate go run github.com/ovn-org/libovsdb/cmd/modelgen -p vswitch -o . vswitch.ovsschema
