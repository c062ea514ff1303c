package ovnname

import (
	"crypto/sha256"
	"encoding/hex"
)

// Name prefixes of the NetworkPolicy rows. OVN identifiers allow letters,
// digits, '_' and '.', and ovn-controller silently ignores an ACL whose
// match names "@pg-x", so names are a prefix plus a hash of the object's
// namespace/name; the readable name goes into external_ids.
const (
	prefixPolicyGroup = "ovnet_np_"
	prefixAddressSet  = "ovnet_as_"
	prefixPeerSet     = "ovnet_ps_"
	// suffixIPv6 marks the IPv6 set of a pair whose IPv4 set has the bare name.
	suffixIPv6        = "_ip6"
	prefixDenyIngress = "ovnet_deny_in_"
	prefixDenyEgress  = "ovnet_deny_out_"
	// hashChars of hex (64 bits) make a collision among a cluster's
	// policies as unlikely as a hardware fault.
	hashChars = 16
	// maxACLName is the length OVN allows in an ACL's name column.
	maxACLName = 63
	// aclNameHash is the hash that replaces the tail of a too long name.
	aclNameHash = 8
)

// Direction is a NetworkPolicy direction, from the selected pod's point of view.
type Direction string

// The two directions.
const (
	Ingress Direction = "Ingress"
	Egress  Direction = "Egress"
)

func hashOf(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// PolicyPortGroup is the port group of the pods a policy selects.
func PolicyPortGroup(namespace, policy string) string {
	return prefixPolicyGroup + hashOf(namespace+"/"+policy, hashChars)
}

// PolicyAddressSet names one of a policy's address sets; key says which
// (direction, rule, and for named ports the port).
func PolicyAddressSet(namespace, policy, key string) string {
	return prefixAddressSet + hashOf(namespace+"/"+policy+"/"+key, hashChars)
}

// PeerAddressSet names the address set shared by every policy peer whose
// selectors have the canonical text key.
func PeerAddressSet(key string) string {
	return prefixPeerSet + hashOf(key, hashChars)
}

// PeerAddressSetIPv6 names the IPv6 twin of PeerAddressSet(key): an OVN
// address set holds one family, and the pair reads as a pair.
func PeerAddressSetIPv6(key string) string {
	return PeerAddressSet(key) + suffixIPv6
}

// DenyPortGroup is the port group of a namespace's pods isolated in dir.
func DenyPortGroup(namespace string, dir Direction) string {
	if dir == Ingress {
		return prefixDenyIngress + hashOf(namespace, hashChars)
	}
	return prefixDenyEgress + hashOf(namespace, hashChars)
}

// PolicyACL names a policy's ACLs, "<namespace>/<policy>", so a log line
// says which policy let a packet through.
func PolicyACL(namespace, policy string) string {
	return acl(namespace + "/" + policy)
}

// DenyACL names a namespace's default deny ACL of a direction,
// "<namespace>/ingressDefaultDeny"; policy names are lower case, so no
// policy's ACL name can be mistaken for it.
func DenyACL(namespace string, dir Direction) string {
	return IsolationACL(namespace, dir, "DefaultDeny")
}

// IsolationACL names another ACL of a namespace's isolation in dir, such
// as "<namespace>/ingressAllowARP".
func IsolationACL(namespace string, dir Direction, what string) string {
	return acl(namespace + "/" + lowerFirst(string(dir)) + what)
}

// PrivateSubnetACL names the ACLs of a private subnet.
func PrivateSubnetACL(subnet string) string { return acl("subnet/" + subnet + "/private") }

// acl shortens a name longer than OVN allows to its head plus a hash of
// the whole, keeping distinct names distinct.
func acl(full string) string {
	if len(full) <= maxACLName {
		return full
	}
	return full[:maxACLName-aclNameHash-1] + "~" + hashOf(full, aclNameHash)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}
