package netpol

// ACL priorities, the one place they are decided. OVN applies, per packet
// and direction, the highest-priority ACL that matches; replies of a
// connection an allow-related ACL admitted bypass the ACLs altogether.
//
//	priority | ACL                                     | where
//	---------+-----------------------------------------+-------------------------------
//	  3000   | private subnet: drop traffic into it    | the subnet's switch, to-lport
//	         | from outside subnet, allow CIDRs, join  |
//	  1100   | isolated pod: allow ARP / ND            | namespace deny groups
//	  1100   | isolated pod: allow-related from the    | both deny groups, to-lport
//	         | join subnet (kubelet probes via ovn0);  |
//	         | in the egress group it also makes OVN   |
//	         | track connections, so replies of an     |
//	         | egress-isolated pod are let out         |
//	  1001   | NetworkPolicy rule: allow-related       | the policy's port group
//	  1000   | isolated pod: drop (default deny)       | namespace deny groups
//	   100   | private subnet: allow-related, so the   | the subnet's switch, to-lport
//	         | switch tracks connections and replies   |
//	         | to its pods' own connections come back  |
//
// A private subnet is a fence around the policies: its drop outranks every
// policy allow, so no policy opens a private subnet to outsiders. Policy
// allows outrank the default deny, and the allows of several policies
// selecting one pod add up (their union is allowed).
const (
	PriorityPrivateDrop   = 3000
	PriorityIsolatedAllow = 1100
	PriorityPolicyAllow   = 1001
	PriorityDefaultDeny   = 1000
	PriorityPrivateTrack  = 100
)
