package nbdb

// The schema is a checked-in copy rather than /usr/share/ovn/ovn-nb.ovsschema
// so that regenerating does not depend on the OVN version of the machine.
//go:generate go run github.com/ovn-org/libovsdb/cmd/modelgen -p nbdb -o . ovn-nb.ovsschema
