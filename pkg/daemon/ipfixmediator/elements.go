package ipfixmediator

// EnterpriseNumber is the Private Enterprise Number ovnet's information
// elements are defined under. ovnet has none of its own registered with
// IANA; 32473 is the number RFC 5612 reserves for documentation and
// examples, which no vendor's collector gives a meaning of its own, so
// ovnet's elements collide with no one's. A registered number replaces it
// here.
const EnterpriseNumber uint32 = 32473

// Element is the number of one of ovnet's information elements under
// EnterpriseNumber. Each is a string (RFC 7011 abstract type string,
// UTF-8), sent with variable length: empty when the address is no pod's
// the node knows of.
type Element uint16

// ovnet's information elements; the numbers are fixed once published.
const (
	SourcePodNamespace      Element = 1
	SourcePodName           Element = 2
	SourceNodeName          Element = 3
	DestinationPodNamespace Element = 4
	DestinationPodName      Element = 5
	DestinationNodeName     Element = 6
)

// Elements are ovnet's information elements in the order they follow
// ovs-vswitchd's own fields in every record.
var Elements = []Element{SourcePodNamespace, SourcePodName, SourceNodeName,
	DestinationPodNamespace, DestinationPodName, DestinationNodeName}

// Name is the element's name, in IPFIX's camel case.
func (e Element) Name() string {
	switch e {
	case SourcePodNamespace:
		return "sourcePodNamespace"
	case SourcePodName:
		return "sourcePodName"
	case SourceNodeName:
		return "sourceNodeName"
	case DestinationPodNamespace:
		return "destinationPodNamespace"
	case DestinationPodName:
		return "destinationPodName"
	case DestinationNodeName:
		return "destinationNodeName"
	}
	return "unknown"
}

// IANA's information elements the mediator reads a record's addresses
// from (RFC 7012).
const (
	ieSourceIPv4Address      = 8
	ieDestinationIPv4Address = 12
	ieSourceIPv6Address      = 27
	ieDestinationIPv6Address = 28
)
