package nodesetup

import (
	"context"
	"net/netip"
	"time"

	"github.com/ovnet/ovnet/pkg/daemon/nslink"
	"github.com/ovnet/ovnet/pkg/ovntls"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// NodePort is the node's internal port on the join switch.
const NodePort = "ovn0"

// OwnerKey marks the Open_vSwitch row's external_ids the daemon wrote (the
// keys of OVNExternalIDKeys), so uninstall removes them, and only them:
// without the mark they were set by someone else (an operator, the
// packaging) and stay.
const OwnerKey = "ovnet.io/owner"

// OwnerDaemon is OwnerKey's value.
const OwnerDaemon = "ovnet-daemon"

// OVNExternalIDKeys are the Open_vSwitch external_ids the daemon writes
// when it manages OVN's settings.
var OVNExternalIDKeys = []string{"system-id", "hostname", "ovn-remote", "ovn-encap-type", "ovn-encap-ip",
	"ovn-bridge", "ovn-bridge-datapath-type"}

// portReadyTimeout bounds the wait for ovs-vswitchd to create an
// internal port's device, which takes milliseconds.
const portReadyTimeout = 10 * time.Second

// Config is what the node set-up is told at start.
type Config struct {
	// NodeName is the Kubernetes node, OVN's chassis and node-<node>'s.
	NodeName string
	// Bridge is the integration bridge; DatapathType its datapath.
	Bridge       string
	DatapathType string
	// OVN settings written into Open_vSwitch external_ids when OVNRemote
	// is set; left to someone else otherwise.
	OVNRemote string
	EncapType string
	EncapIP   string
	// OVNTLS are the files of an ssl: OVNRemote, written into the
	// Open_vSwitch SSL row ovn-controller reads; the paths are
	// ovn-controller's.
	OVNTLS ovntls.Files
	// IPFIX is the bridge's IPFIX exporter; none when it has no targets.
	IPFIX ovs.IPFIX
	// SFlow is the bridge's sFlow agent; none when it has no targets.
	SFlow ovs.SFlow
	// ServiceCIDRs are routed through ovn0, each of the join network's
	// family; none routes none.
	ServiceCIDRs []netip.Prefix
	// MTU of ovn0.
	MTU int
}

// Node sets up the node's bridge and ports over OVSDB and its links and
// routes over netlink.
type Node struct {
	cfg Config
	// ovs is the Open_vSwitch database client.
	ovs *ovs.Client
	// netns is the namespace holding br-int and ovn0.
	netns *nslink.Namespace
}

// New returns the set-up of one node.
func New(cfg Config, c *ovs.Client, netns *nslink.Namespace) *Node {
	return &Node{cfg: cfg, ovs: c, netns: netns}
}

// EnsureBridge creates br-int and the Open_vSwitch settings OVN needs when
// the daemon manages them: external_ids and, for an ssl: remote, the SSL
// row ovn-controller takes its files from. It converges: a restart with
// nothing changed writes nothing.
func (n *Node) EnsureBridge(ctx context.Context) error {
	br := ovs.Bridge{Name: n.cfg.Bridge, DatapathType: n.cfg.DatapathType, FailMode: ovs.FailModeSecure,
		OtherConfig: map[string]string{"disable-in-band": "true"}}
	if err := n.ovs.EnsureBridge(ctx, br); err != nil {
		return err
	}
	if err := n.syncFlowExport(ctx); err != nil {
		return err
	}
	if n.cfg.OVNRemote == "" {
		return nil
	}
	// The SSL row is in place before ovn-controller sees an ssl:
	// ovn-remote, and goes only once it sees another remote, so it never
	// tries a connection it has no files for.
	if !n.cfg.OVNTLS.Enabled() {
		if err := n.ovs.SetOpenvSwitchExternalIDs(ctx, n.ovnExternalIDs()); err != nil {
			return err
		}
		return removeOwnSSL(ctx, n.ovs)
	}
	err := n.ovs.SetSSL(ctx, ovs.SSL{PrivateKey: n.cfg.OVNTLS.PrivateKey, Certificate: n.cfg.OVNTLS.Certificate,
		CACert: n.cfg.OVNTLS.CACert, ExternalIDs: map[string]string{OwnerKey: OwnerDaemon}})
	if err != nil {
		return err
	}
	return n.ovs.SetOpenvSwitchExternalIDs(ctx, n.ovnExternalIDs())
}

// syncFlowExport gives the bridge the IPFIX exporter and sFlow agent
// configured, marked as the daemon's; one configured without targets
// removes the daemon's own row and leaves one someone else set.
func (n *Node) syncFlowExport(ctx context.Context) error {
	mark := map[string]string{OwnerKey: OwnerDaemon}
	ipfix, sflow := n.cfg.IPFIX, n.cfg.SFlow
	ipfix.ExternalIDs, sflow.ExternalIDs = mark, mark
	if err := n.ovs.SetIPFIX(ctx, n.cfg.Bridge, ipfix); err != nil {
		return err
	}
	return n.ovs.SetSFlow(ctx, n.cfg.Bridge, sflow)
}

// removeOwnSSL deletes the Open_vSwitch SSL row when the daemon wrote it
// (its mark is there), as after TLS was turned off; anyone else's stays.
func removeOwnSSL(ctx context.Context, c *ovs.Client) error {
	ssl, err := c.SSL()
	if err != nil || ssl == nil || ssl.ExternalIDs[OwnerKey] != OwnerDaemon {
		return err
	}
	return c.DeleteSSL(ctx)
}

// ovnExternalIDs are the Open_vSwitch external_ids OVN reads, marked as
// the daemon's: the keys of OVNExternalIDKeys and OwnerKey.
func (n *Node) ovnExternalIDs() map[string]string {
	return map[string]string{
		"system-id":                n.cfg.NodeName,
		"hostname":                 n.cfg.NodeName,
		"ovn-remote":               n.cfg.OVNRemote,
		"ovn-encap-type":           n.cfg.EncapType,
		"ovn-encap-ip":             n.cfg.EncapIP,
		"ovn-bridge":               n.cfg.Bridge,
		"ovn-bridge-datapath-type": n.cfg.DatapathType,
		OwnerKey:                   OwnerDaemon,
	}
}

// BringUp waits for ovs-vswitchd to create an internal port's device and
// sets it up: tcpdump on a down mirror0 sees nothing.
func (n *Node) BringUp(ctx context.Context, name string) error {
	readyCtx, cancel := context.WithTimeout(ctx, portReadyTimeout)
	defer cancel()
	if err := n.ovs.WaitInterfaceReady(readyCtx, name); err != nil {
		return err
	}
	return n.netns.SetUp(name)
}
