package v1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ProviderNetworkSpec names the Open vSwitch bridge through which every
// node reaches one physical network. The bridge, holding the node's uplink
// and the node's own address, is the node's to set up (as br-phy is in the
// test harness); ovnet maps the network's name to it in ovn-controller's
// ovn-bridge-mappings, where a Subnet's localnet port finds it.
type ProviderNetworkSpec struct {
	// Bridge is the OVS bridge on each node that holds the uplink to the
	// physical network; defaults to br-<name>.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.-]+$`
	Bridge string `json:"bridge,omitempty"`
}

// BridgeName is the bridge the provider network maps to: the spec's, or
// br-<name>.
func (p *ProviderNetwork) BridgeName() string {
	if p.Spec.Bridge != "" {
		return p.Spec.Bridge
	}
	return "br-" + p.Name
}

// ProviderNetwork is a physical network every node reaches through an OVS
// bridge; an underlay Subnet names it in spec.provider.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="Bridge",type=string,JSONPath=`.spec.bridge`
type ProviderNetwork struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ProviderNetworkSpec `json:"spec,omitempty"`
}

// ProviderNetworkList is a list of ProviderNetworks.
// +kubebuilder:object:root=true
type ProviderNetworkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProviderNetwork `json:"items"`
}
