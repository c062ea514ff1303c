package harness

// OVNCentral is the cluster-wide half of OVN: the northbound and southbound
// databases and the ovn-northd translating one into the other.
type OVNCentral struct {
	NB, SB *OVSDB
	Northd *Northd
}

// StartOVNCentral starts NB, SB and ovn-northd, stopped by tb.Cleanup.
// Start it before any chassis, so that the chassis leave SB before SB stops.
func StartOVNCentral(tb T) *OVNCentral {
	tb.Helper()
	nb := StartNorthbound(tb)
	sb := StartSouthbound(tb)
	return &OVNCentral{NB: nb, SB: sb, Northd: StartNorthd(tb, nb, sb)}
}
