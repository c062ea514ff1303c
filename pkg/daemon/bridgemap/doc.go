// Package bridgemap keeps the node's ovn-bridge-mappings, through which
// ovn-controller finds each ProviderNetwork's bridge, in step with the
// ProviderNetworks, leaving mappings someone else wrote alone.
package bridgemap
