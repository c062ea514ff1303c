package v1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// GatewayType says where traffic leaving the cluster from a subnet leaves.
// The controller, not the schema, checks the value, so that a namespace
// annotation with a bad value gives the Subnet a condition that says why.
type GatewayType string

const (
	// GatewayDistributed sends egress traffic out of the node the pod runs on.
	GatewayDistributed GatewayType = "distributed"
	// GatewayCentralized sends egress traffic out of the subnet's gateway node.
	GatewayCentralized GatewayType = "centralized"
)

// SubnetFinalizer is the controller's finalizer on Subnets; the uninstall
// hook removes it once the controller is gone.
const SubnetFinalizer = "ovnet.io/subnet"

// SubnetSpec is the desired configuration of one logical switch. Values are
// checked by the controller as well as by the schema, because a namespace's
// annotations reach a Subnet without passing a human; what the controller
// refuses is reported as a condition, never silently applied.
type SubnetSpec struct {
	// CIDR is the subnet's address range, e.g. 10.16.0.0/16 or fd00:10:16::/64.
	// +kubebuilder:validation:MinLength=1
	CIDR string `json:"cidr"`
	// Gateway is the router port address; defaults to the first address of CIDR.
	// +optional
	Gateway string `json:"gateway,omitempty"`
	// ExcludeIPs are addresses never handed out: "a.b.c.d" or "a.b.c.d..a.b.c.e".
	// +optional
	ExcludeIPs []string `json:"excludeIPs,omitempty"`
	// Namespaces whose pods are placed in this subnet by default.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
	// Private isolates the subnet: only traffic from within it and from Allow is accepted.
	// +optional
	Private bool `json:"private,omitempty"`
	// Allow lists CIDRs that may reach a private subnet.
	// +optional
	Allow []string `json:"allow,omitempty"`
	// GatewayType selects distributed or centralized egress.
	// +optional
	// +kubebuilder:default=distributed
	GatewayType GatewayType `json:"gatewayType,omitempty"`
	// GatewayNode names the node(s) of a centralized gateway, comma
	// separated, in order of preference: egress leaves through the first
	// ready one.
	// +optional
	GatewayNode string `json:"gatewayNode,omitempty"`
	// NATOutgoing masquerades pod addresses on egress; false exposes pod IPs.
	// +optional
	// +kubebuilder:default=true
	NATOutgoing *bool `json:"natOutgoing,omitempty"`
	// Provider makes the subnet an underlay subnet: the name of the
	// ProviderNetwork its switch is bridged to by a localnet port. Its pods
	// take addresses of that physical network and the Gateway, a router
	// on it, as their default route; the switch is not attached to the
	// cluster router.
	// +optional
	Provider string `json:"provider,omitempty"`
	// Vlan is the 802.1Q tag of an underlay subnet's traffic on the
	// provider network; 0 or unset sends it untagged.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4094
	Vlan int `json:"vlan,omitempty"`
	// U2OInterconnection attaches an underlay subnet's switch to the
	// cluster router as well, at U2OInterconnectionIP, so that its pods
	// and overlay pods reach each other through OVN, with their own
	// addresses, rather than through a node. The physical router (or the
	// pods) must route the overlay CIDRs to that address (of each family
	// of a dual-stack subnet).
	// +optional
	U2OInterconnection bool `json:"u2oInterconnection,omitempty"`
	// U2OInterconnectionIP is the cluster router's address on the
	// underlay subnet, one per family of a dual-stack subnet, comma
	// separated; a family not given takes its CIDR's last address that is
	// neither the IPv4 broadcast nor the gateway. Pods never get them.
	// +optional
	U2OInterconnectionIP string `json:"u2oInterconnectionIP,omitempty"`
}

// MaxVlan is the highest 802.1Q VLAN id (4095 is reserved).
const MaxVlan = 4094

// Underlay says whether the subnet is bridged to a provider network.
func (s *SubnetSpec) Underlay() bool { return s.Provider != "" }

// Condition types and reasons reported in SubnetStatus.Conditions.
const (
	// ConditionReady is true when the subnet is valid and programmed in OVN.
	ConditionReady = "Ready"
	// ConditionValidated is false when the spec was refused; its message says why.
	ConditionValidated = "Validated"
	// ConditionAddressesPending is true while pods wait for an address in
	// the subnet (a fixed address outside it or taken, a bad MAC or pool,
	// the subnet full); its message names them and why.
	ConditionAddressesPending = "AddressesPending"
	// ConditionIgnoredFields is present while part of an accepted spec is
	// not acted on (excludes outside the CIDR, gateway settings not yet
	// implemented); its message says which and why.
	ConditionIgnoredFields = "IgnoredFields"
	// ConditionGatewayReady says where egress leaves: true with the
	// active gateway node (or distributed), false while no listed gateway
	// node is ready.
	ConditionGatewayReady = "GatewayReady"
	// ConditionExcludedInUse is present while pods hold addresses that an
	// exclude added after their allocation covers; its message names them.
	ConditionExcludedInUse = "ExcludedAddressesInUse"

	ReasonProgrammed         = "Programmed"
	ReasonInvalidSpec        = "InvalidSpec"
	ReasonOverlap            = "Overlap"
	ReasonAllocationsOutside = "AllocationsOutside"
	ReasonNorthboundError    = "NorthboundError"
	ReasonInUse              = "InUse"
	ReasonPodsWaiting        = "PodsWaiting"
	ReasonNoneWaiting        = "NoneWaiting"
	ReasonNotActedOn         = "NotActedOn"
	ReasonHeldBeforeExclude  = "HeldBeforeExclude"
	ReasonInvalidGateway     = "InvalidGateway"
	ReasonUnknownGatewayNode = "UnknownGatewayNode"
	ReasonDistributed        = "Distributed"
	ReasonGatewayActive      = "GatewayActive"
	ReasonNoGatewayReady     = "NoGatewayReady"
	// ReasonUnknownProvider refuses an underlay subnet whose
	// ProviderNetwork does not exist.
	ReasonUnknownProvider = "UnknownProvider"
	// ReasonGatewayChanged is the Event reason when egress moves.
	ReasonGatewayChanged = "GatewayChanged"
)

// SubnetStatus reports what the controller made of the spec.
type SubnetStatus struct {
	// Gateway is the gateway in force, the spec's or the default.
	// +optional
	Gateway string `json:"gateway,omitempty"`
	// U2OInterconnectionIP is the cluster router's address on an
	// underlay subnet with u2oInterconnection in force, one per family,
	// IPv4 first, comma separated; empty otherwise.
	// +optional
	U2OInterconnectionIP string `json:"u2oInterconnectionIP,omitempty"`
	// ActiveGateway is the gateway node a centralized subnet's egress
	// leaves through now; empty for a distributed subnet. Always sent, so
	// that a merge patch clears it.
	// +optional
	ActiveGateway string `json:"activeGateway"`
	// UsedIPs is the number of addresses allocated to pods and nodes.
	// +optional
	UsedIPs int64 `json:"usedIPs"`
	// AvailableIPs is the number of addresses still free (saturated at the
	// int64 maximum); in a dual-stack subnet, of the family with fewer, so
	// the number of pods that still fit.
	// +optional
	AvailableIPs int64 `json:"availableIPs"`
	// V4UsedIPs and V4AvailableIPs count the IPv4 addresses, V6UsedIPs and
	// V6AvailableIPs the IPv6 ones, as Kube-OVN reports them.
	// +optional
	V4UsedIPs int64 `json:"v4UsedIPs"`
	// +optional
	V4AvailableIPs int64 `json:"v4AvailableIPs"`
	// +optional
	V6UsedIPs int64 `json:"v6UsedIPs"`
	// +optional
	V6AvailableIPs int64 `json:"v6AvailableIPs"`
	// ObservedGeneration is the spec generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Validated and Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Subnet is a logical switch with its address range, attached to the cluster router.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="CIDR",type=string,JSONPath=`.spec.cidr`
// +kubebuilder:printcolumn:name="Gateway",type=string,JSONPath=`.status.gateway`
// +kubebuilder:printcolumn:name="Egress",type=string,JSONPath=`.status.activeGateway`
// +kubebuilder:printcolumn:name="Used",type=integer,JSONPath=`.status.usedIPs`
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=`.status.availableIPs`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
type Subnet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SubnetSpec   `json:"spec"`
	Status SubnetStatus `json:"status,omitempty"`
}

// SubnetList is a list of Subnets.
// +kubebuilder:object:root=true
type SubnetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Subnet `json:"items"`
}
