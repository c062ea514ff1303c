package netpol

import (
	"crypto/sha256"
	"encoding/hex"
)

// Name prefixes of the rows this package describes. OVN identifiers allow
// letters, digits, '_' and '.', and ovn-controller silently ignores an ACL
// whose match names "@pg-x", so names are a prefix plus a hash of the
// object's namespace/name; the readable name goes into external_ids.
const (
	prefixPolicyGroup = "ovnet_np_"
	prefixAddressSet  = "ovnet_as_"
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

const (
	Ingress Direction = "Ingress"
	Egress  Direction = "Egress"
)

func hashOf(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// PolicyPortGroupName is the port group of the pods a policy selects.
func PolicyPortGroupName(namespace, policy string) string {
	return prefixPolicyGroup + hashOf(namespace+"/"+policy, hashChars)
}

// addressSetName names one of a policy's address sets; key says which
// (direction, rule, and for named ports the port).
func addressSetName(namespace, policy, key string) string {
	return prefixAddressSet + hashOf(namespace+"/"+policy+"/"+key, hashChars)
}

// DenyPortGroupName is the port group of a namespace's pods isolated in dir.
func DenyPortGroupName(namespace string, dir Direction) string {
	if dir == Ingress {
		return prefixDenyIngress + hashOf(namespace, hashChars)
	}
	return prefixDenyEgress + hashOf(namespace, hashChars)
}

// PolicyACLName names a policy's ACLs, "<namespace>/<policy>", so a log
// line says which policy let a packet through.
func PolicyACLName(namespace, policy string) string {
	return aclName(namespace + "/" + policy)
}

// DenyACLName names a namespace's default deny ACL of a direction,
// "<namespace>/ingressDefaultDeny"; policy names are lower case, so no
// policy's ACL name can be mistaken for it.
func DenyACLName(namespace string, dir Direction) string {
	return aclName(namespace + "/" + lowerFirst(string(dir)) + "DefaultDeny")
}

// aclName shortens a name longer than OVN allows to its head plus a hash
// of the whole, keeping distinct names distinct.
func aclName(full string) string {
	if len(full) <= maxACLName {
		return full
	}
	return full[:maxACLName-aclNameHash-1] + "~" + hashOf(full, aclNameHash)
}
