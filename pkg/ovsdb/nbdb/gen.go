package nbdb

// The schema is a checked-in copy rather than /usr/share/ovn/ovn-nb.ovsschema
// so that regenerating does not depend on the OVN version of the machine.
// -extended adds DeepCopy, CloneModel and Equals: without them libovsdb
// copies every row it hands out of its cache through JSON, which profiles
// of the controller under load showed among its largest costs.
//go:generate go run github.com/ovn-org/libovsdb/cmd/modelgen -extended -p nbdb -o . ovn-nb.ovsschema
