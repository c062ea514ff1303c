package v1

import "strings"

// ListsGatewayNode reports whether the spec is a centralized gateway
// naming node among its gateway nodes.
func (s *SubnetSpec) ListsGatewayNode(node string) bool {
	if s.GatewayType != GatewayCentralized {
		return false
	}
	for _, name := range strings.Split(s.GatewayNode, ",") {
		if strings.TrimSpace(name) == node {
			return true
		}
	}
	return false
}
