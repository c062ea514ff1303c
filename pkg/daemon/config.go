package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/ovnet/ovnet/pkg/daemon/cniserver"
	"github.com/ovnet/ovnet/pkg/daemon/nodesetup"
	"github.com/ovnet/ovnet/pkg/daemon/podconfig"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
	"github.com/ovnet/ovnet/pkg/ovntls"
	"github.com/ovnet/ovnet/pkg/ovs"
	"github.com/ovnet/ovnet/pkg/servicecidr"
)

// ConflistName is the file the daemon installs into the conflist
// directory.
const ConflistName = cniserver.ConflistName

// Defaults a user of Kube-OVN would recognise.
const (
	DefaultBridge    = "br-int"
	DefaultNodePort  = nodesetup.NodePort
	DefaultMirror    = podconfig.MirrorPort
	DefaultCNIBinDir = "/opt/cni/bin"
	DefaultConfDir   = "/etc/cni/net.d"
	// DefaultAddressTimeout bounds ADD's wait for the controller to
	// address the pod; the kubelet retries after it.
	DefaultAddressTimeout = 60 * time.Second
	// DefaultOVNTimeout bounds ADD's wait for ovn-controller to install
	// the port's flows, which takes well under a second when OVN is up.
	DefaultOVNTimeout = 30 * time.Second
	// DefaultIPFIXMediatorPort is the UDP port on the node's loopback
	// where ovs-vswitchd sends IPFIX to the mediator: next to the daemon's
	// and the speaker's TCP ports (10665 to 10668), away from IPFIX's own
	// 4739, which a collector on the node may hold.
	DefaultIPFIXMediatorPort = 10669
	// fallbackUplinkMTU stands for the uplink's MTU when the node has no
	// default route to take it from: Ethernet's.
	fallbackUplinkMTU = 1500
)

// Config is everything the daemon is told at start.
type Config struct {
	// NodeName is the Kubernetes node this daemon serves.
	NodeName string
	// OVSDB is the Open_vSwitch database endpoint.
	OVSDB string
	// Socket is the unix socket the CNI plugin posts to.
	Socket string
	// DatapathType is ovs.DatapathSystem or ovs.DatapathNetdev.
	DatapathType string
	// NetNS is the network namespace holding br-int, ovn0 and the host
	// ends of pod veths; empty for the daemon's own (hostNetwork).
	NetNS string
	// Bridge is the integration bridge ovn-controller programs.
	Bridge string
	// MTU of overlay pod interfaces and ovn0; 0 derives it from the
	// uplink. Underlay pods take the uplink's (underlayMTU).
	MTU int
	// EnableMirror mirrors all pod traffic to mirror0; without it only
	// pods annotated ovn.kubernetes.io/mirror=true are mirrored.
	EnableMirror bool
	// CNI installation: the plugin binary to copy into CNIBinDir and the
	// directory the conflist goes to. Empty PluginBinary skips both.
	PluginBinary string
	CNIBinDir    string
	CNIConfDir   string
	// OVN settings written into Open_vSwitch external_ids when OVNRemote
	// is set; left to someone else otherwise.
	OVNRemote string
	// EncapType is the tunnel between nodes, ovs.EncapGeneve or
	// ovs.EncapVXLAN; the pod MTU leaves room for it.
	EncapType string
	EncapIP   string
	// OVNTLS are the files of an ssl: OVNRemote, which the daemon writes
	// into the Open_vSwitch SSL row for ovn-controller: the paths must be
	// the same in ovn-controller's file system as in the daemon's, which
	// checks them at start.
	OVNTLS ovntls.Files
	// IPFIX is br-int's IPFIX exporter; none when it has no targets.
	IPFIX ovs.IPFIX
	// IPFIXPodNames puts the daemon's IPFIX mediator between br-int and
	// IPFIX.Targets: ovs-vswitchd exports to 127.0.0.1:IPFIXMediatorPort
	// and the daemon exports the records with pod names to the targets.
	IPFIXPodNames     bool
	IPFIXMediatorPort int
	// SFlow is br-int's sFlow agent; none when it has no targets.
	SFlow ovs.SFlow
	// ServiceCIDRs are the Service ranges, at most one per family (the API
	// server's dual-stack --service-cluster-ip-range); each of a family the
	// join network has is routed through ovn0, so the node reaches
	// ClusterIPs. None routes none.
	ServiceCIDRs []netip.Prefix
	// OVNRundir is ovn-controller's run directory, where a gateway node
	// checks that it answers; empty skips the check.
	OVNRundir string
	// GatewayLeaseNamespace holds the gateway heartbeat Leases.
	GatewayLeaseNamespace string
	// PodName and PodNamespace are the daemon's own Pod: on exit the
	// daemon cleans the node when that Pod's DaemonSet is gone (see
	// pkg/daemon/uninstall). Empty PodName never cleans.
	PodName      string
	PodNamespace string
	// OVSHandshakeDir is a directory the Open vSwitch container mounts
	// too (see uninstall.Handshake): on uninstall it waits there for the
	// daemon's clean-up, then removes its database. Empty: no handshake.
	OVSHandshakeDir string
	// NetnsDirs are where the container runtime pins pod network
	// namespaces; ADD and CHECK refuse a netns path elsewhere (except a
	// process's /proc/<pid>/ns/net). cniserver.DefaultNetnsDirs when empty.
	NetnsDirs []string
	// AddressTimeout and OVNTimeout bound ADD's two waits.
	AddressTimeout time.Duration
	OVNTimeout     time.Duration
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if c.DatapathType == "" {
		c.DatapathType = ovs.DatapathSystem
	}
	if c.EncapType == "" {
		c.EncapType = ovs.EncapGeneve
	}
	if c.AddressTimeout == 0 {
		c.AddressTimeout = DefaultAddressTimeout
	}
	if c.OVNTimeout == 0 {
		c.OVNTimeout = DefaultOVNTimeout
	}
	if c.CNIBinDir == "" {
		c.CNIBinDir = DefaultCNIBinDir
	}
	if c.CNIConfDir == "" {
		c.CNIConfDir = DefaultConfDir
	}
	if c.GatewayLeaseNamespace == "" {
		c.GatewayLeaseNamespace = gatewayhealth.DefaultNamespace
	}
	if c.IPFIXMediatorPort == 0 {
		c.IPFIXMediatorPort = DefaultIPFIXMediatorPort
	}
	return c
}

// validate rejects a configuration the daemon cannot work with.
func (c Config) validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("node name is required"))
	}
	if c.OVSDB == "" {
		errs = append(errs, errors.New("Open_vSwitch database endpoint is required"))
	}
	if c.Socket == "" || !filepath.IsAbs(c.Socket) {
		errs = append(errs, fmt.Errorf("socket %q must be an absolute path", c.Socket))
	}
	if c.DatapathType != ovs.DatapathSystem && c.DatapathType != ovs.DatapathNetdev {
		errs = append(errs, fmt.Errorf("datapath type %q: want %s or %s", c.DatapathType, ovs.DatapathSystem, ovs.DatapathNetdev))
	}
	if err := ovs.CheckEncapType(c.EncapType); err != nil {
		errs = append(errs, err)
	}
	if c.NetNS != "" && !filepath.IsAbs(c.NetNS) {
		errs = append(errs, fmt.Errorf("netns %q must be an absolute path", c.NetNS))
	}
	if c.MTU < 0 || (c.MTU > 0 && c.MTU < 576) {
		errs = append(errs, fmt.Errorf("MTU %d is below IPv4's minimum of 576", c.MTU))
	}
	if c.OVSHandshakeDir != "" && !filepath.IsAbs(c.OVSHandshakeDir) {
		errs = append(errs, fmt.Errorf("OVS handshake directory %q must be an absolute path", c.OVSHandshakeDir))
	}
	if c.PodName != "" && c.PodNamespace == "" {
		errs = append(errs, errors.New("pod namespace is required with a pod name"))
	}
	if c.OVNRemote != "" && c.EncapIP == "" {
		errs = append(errs, errors.New("encap IP is required when the daemon manages ovn-remote"))
	}
	if err := c.validateTLS(); err != nil {
		errs = append(errs, err)
	}
	if err := servicecidr.Check(c.ServiceCIDRs); err != nil {
		errs = append(errs, err)
	}
	if err := c.CheckFlowExport(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CheckFlowExport refuses an IPFIX exporter or sFlow agent that
// ovs-vswitchd would not run; one without targets is none, and passes.
func (c Config) CheckFlowExport() error {
	var errs []error
	if len(c.IPFIX.Targets) > 0 {
		errs = append(errs, ovs.CheckIPFIX(c.IPFIX))
	}
	if len(c.SFlow.Targets) > 0 {
		errs = append(errs, ovs.CheckSFlow(c.SFlow))
	}
	if c.IPFIXPodNames {
		errs = append(errs, c.checkIPFIXMediator())
	}
	return errors.Join(errs...)
}

// checkIPFIXMediator refuses a mediator with nothing to export to, a port
// that is none, and a collector at the mediator's own address, which
// would receive its own records back without end.
func (c Config) checkIPFIXMediator() error {
	if len(c.IPFIX.Targets) == 0 {
		return errors.New("IPFIX pod names: no IPFIX targets to export them to")
	}
	if c.IPFIXMediatorPort < 1 || c.IPFIXMediatorPort > 65535 {
		return fmt.Errorf("IPFIX mediator port %d: want 1 to 65535", c.IPFIXMediatorPort)
	}
	own := c.ipfixMediatorAddr()
	for _, t := range c.IPFIX.Targets {
		if ap, err := netip.ParseAddrPort(t); err == nil && ap.Port() == own.Port() && ap.Addr().IsLoopback() {
			return fmt.Errorf("IPFIX target %s: the mediator itself listens on %s (--ipfix-mediator-port); give it another port", t, own)
		}
	}
	return nil
}

// ipfixMediatorAddr is where ovs-vswitchd sends records to the mediator.
func (c Config) ipfixMediatorAddr() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(c.IPFIXMediatorPort))
}

// podMTU is the MTU of pod interfaces and ovn0: the one configured, else
// the uplink's less what the tunnel between nodes adds.
func (c Config) podMTU(uplink int, haveUplink bool) int {
	if c.MTU != 0 {
		return c.MTU
	}
	ip, err := netip.ParseAddr(c.EncapIP)
	ipv6 := err == nil && ip.Is6() && !ip.Is4In6()
	return underlayMTU(uplink, haveUplink) - ovs.EncapOverhead(c.EncapType, ipv6)
}

// underlayMTU is the MTU of underlay pods' interfaces: the uplink's
// (Ethernet's when the node has no default route), the provider bridge
// holding the uplink and their packets crossing no tunnel. --mtu does
// not change it: it sizes packets that a tunnel carries.
func underlayMTU(uplink int, haveUplink bool) int {
	if !haveUplink {
		return fallbackUplinkMTU
	}
	return uplink
}

// validateTLS checks the OVN TLS files fit ovn-remote and can be read: a
// wrong path would otherwise show only in ovn-controller's log, as a
// southbound that never connects.
func (c Config) validateTLS() error {
	if c.OVNRemote == "" {
		if c.OVNTLS.Enabled() {
			return errors.New("OVN TLS files need --ovn-remote: the daemon writes them for ovn-controller beside it")
		}
		return nil
	}
	// ovn-remote lists a Raft cluster's members comma-separated.
	remotes := strings.Split(c.OVNRemote, ",")
	if err := ovntls.CheckRemotes("southbound database (ovn-remote)", remotes, c.OVNTLS); err != nil {
		return err
	}
	if !c.OVNTLS.Enabled() {
		return nil
	}
	if _, err := ovntls.ClientConfig(c.OVNTLS, ""); err != nil {
		return fmt.Errorf("southbound database (ovn-remote): %w", err)
	}
	return nil
}
