package harness

import "strings"

// knownAbort is a way a program this harness runs is known to die that is
// not ovnet's doing, with what a reader of the failure needs to know.
type knownAbort struct {
	// signature is a line fragment the program's log or stderr holds.
	signature string
	explain   string
}

// knownAborts lists the defects of Debian's packages seen in these
// suites. Naming them in the failure saves the next reader the hunt.
var knownAborts = []knownAbort{{
	signature: "conntrack.c:1063",
	explain: "known defect of Open vSwitch 3.1.0's userspace conntrack (fixed upstream in 3.1.3, " +
		"\"conntrack: Remove nat_conn introducing key directionality\"): a late packet of a NATed " +
		"connection whose entry expired but was not yet swept aborts ovs-vswitchd; OVN commits pod " +
		"connections with ct(commit,nat) on switches with load balancers. The harness's own nodes run " +
		"Debian 13's ovs-vswitchd 3.5 (hack/install-ovs.sh), as the image does; see README " +
		"\"Known limitations\"",
}}

// explainExit returns the explanation of a known abort found in a
// program's log tail, or "" when none matches.
func explainExit(logTail string) string {
	for _, k := range knownAborts {
		if strings.Contains(logTail, k.signature) {
			return "\n*** " + k.explain + " ***"
		}
	}
	return ""
}
