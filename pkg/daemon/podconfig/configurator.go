package podconfig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
	"github.com/ovnet/ovnet/pkg/ovs"
)

const (
	// MirrorPort is the internal port, and the Mirror, that receives
	// mirrored pod traffic.
	MirrorPort = "mirror0"
	// portReadyTimeout bounds the wait for ovs-vswitchd to give a pod's
	// port its OpenFlow number, which takes milliseconds: it only catches a
	// hung ovs-vswitchd, well within the plugin's own bound.
	portReadyTimeout = 10 * time.Second
)

var (
	// ErrInvalidNetNS marks a pod netns path that is no network namespace.
	ErrInvalidNetNS = errors.New("invalid network namespace")
	// ErrInterfaceMismatch marks a CHECK finding: the pod's interface is
	// not as Plug left it.
	ErrInterfaceMismatch = errors.New("pod interface differs from its allocation")
)

// Config is what the configurator is told at start.
type Config struct {
	// Bridge is the integration bridge pod ports go on.
	Bridge string
	// DatapathType is ovs.DatapathSystem or ovs.DatapathNetdev; it decides
	// how traffic out of a pod is limited and whether checksum offload is
	// turned off.
	DatapathType string
	// MTU of pod interfaces.
	MTU int
	// UnderlayMTU is the MTU of underlay Subnets' pod interfaces, whose
	// packets cross no tunnel: the uplink's, read at each ADD, as the
	// uplink may be set up after the daemon starts; nil: MTU.
	UnderlayMTU func() int
	// MirrorAll mirrors every pod's traffic to mirror0; otherwise only
	// that of pods that ask for it.
	MirrorAll bool
}

// Configurator wires pods into OVS through the node's namespace.
type Configurator struct {
	cfg Config
	// ovs is the Open_vSwitch database client.
	ovs *ovs.Client
	// node is the namespace holding br-int and the host ends of veths.
	node *nslink.Namespace
	// store reads the attachments back from OVSDB.
	store *attachments.Store
	// mirrorMu serialises mirror0's selection, read-modify-write.
	mirrorMu sync.Mutex
}

// New returns a configurator working through c in node.
func New(cfg Config, c *ovs.Client, node *nslink.Namespace) *Configurator {
	return &Configurator{cfg: cfg, ovs: c, node: node, store: attachments.NewStore(c, cfg.Bridge)}
}

// Pod is the desired network of one pod interface.
type Pod struct {
	// Attachment names the interface and records the pod on its port;
	// HostName is derived from ContainerID and IfName when empty.
	Attachment attachments.Attachment
	// Address is what the controller allocated.
	Address annotation.Address
	// Bandwidth is the pod's limits, zero for none.
	Bandwidth annotation.Bandwidth
	// Underlay says the pod's Subnet is bridged to a physical network:
	// its packets to other nodes cross no tunnel, so its interface takes
	// Config.UnderlayMTU.
	Underlay bool
	// Step, when set, is told each step's end, for timing.
	Step func(name string)
}

// Plugged is what Plug made, for the CNI result.
type Plugged struct {
	HostName string
	HostMAC  net.HardwareAddr
	MTU      int
}

// Plug creates the veth, adds the host end to the bridge, then configures
// the pod end while ovn-controller binds the port, applies the pod's
// limits and mirroring, and waits until ovs-vswitchd has added the port.
// On error, what was made stays for Unplug to remove.
func (c *Configurator) Plug(ctx context.Context, p Pod) (Plugged, error) {
	step := p.Step
	if step == nil {
		step = func(string) {}
	}
	iface := c.podInterface(p)
	hostMAC, err := c.createVeth(iface)
	if err != nil {
		if errors.Is(err, nslink.ErrNotNetNS) || errors.Is(err, os.ErrNotExist) {
			return Plugged{}, fmt.Errorf("%w: %v", ErrInvalidNetNS, err)
		}
		return Plugged{}, err
	}
	step("veth")
	a := p.Attachment
	a.HostName = iface.HostName
	if err := c.ovs.EnsurePort(ctx, ovs.Port{Bridge: c.cfg.Bridge, Name: a.HostName, ExternalIDs: a.ExternalIDs()}); err != nil {
		return Plugged{}, err
	}
	step("ovsPort")
	if err := configurePod(iface); err != nil {
		return Plugged{}, err
	}
	step("podInterface")
	// A fresh port and veth carry no limits, and mirror0's selection only
	// changes for a pod that asks to be mirrored: the common pod skips both.
	if p.Bandwidth != (annotation.Bandwidth{}) {
		if err := c.applyBandwidth(ctx, a, p.Bandwidth); err != nil {
			return Plugged{}, err
		}
	}
	if a.Mirror && !c.cfg.MirrorAll {
		if err := c.SyncMirror(ctx); err != nil {
			return Plugged{}, err
		}
	}
	step("qosMirror")
	if err := c.waitPortReady(ctx, a.HostName); err != nil {
		return Plugged{}, err
	}
	step("ofport")
	return Plugged{HostName: a.HostName, HostMAC: hostMAC, MTU: iface.MTU}, nil
}

// waitPortReady bounds the wait for ovs-vswitchd to add the port.
func (c *Configurator) waitPortReady(ctx context.Context, hostName string) error {
	ctx, cancel := context.WithTimeout(ctx, portReadyTimeout)
	defer cancel()
	return c.ovs.WaitInterfaceReady(ctx, hostName)
}

// WaitInstalled waits until ovn-controller has installed the port's
// flows; ctx bounds the wait.
func (c *Configurator) WaitInstalled(ctx context.Context, hostName string) error {
	return c.ovs.WaitOVNInstalled(ctx, hostName)
}

// Unplug removes one attachment's OVS port (with its QoS) and veth;
// whatever is already gone is fine.
func (c *Configurator) Unplug(ctx context.Context, hostName string) error {
	err := c.ovs.DeletePort(ctx, c.cfg.Bridge, hostName)
	if linkErr := c.unplugLink(hostName); linkErr != nil {
		err = errors.Join(err, linkErr)
	}
	return err
}

// Check verifies what Plug made: both veth ends, the pod's MAC, address
// and route as allocated, and the OVS port added by ovs-vswitchd.
func (c *Configurator) Check(_ context.Context, p Pod) error {
	iface := c.podInterface(p)
	if err := c.checkPod(iface); err != nil {
		return err
	}
	st, err := c.ovs.InterfaceState(iface.HostName)
	if err != nil || st.OFPort <= 0 {
		return fmt.Errorf("%w: OVS port %s: ofport %d, %v", ErrInterfaceMismatch, iface.HostName, st.OFPort, err)
	}
	return nil
}

// Attachments lists the pod interfaces plugged on the bridge.
func (c *Configurator) Attachments() ([]attachments.Attachment, error) {
	return c.store.List()
}

// podInterface is the veth pair p asks for.
func (c *Configurator) podInterface(p Pod) podInterface {
	a := p.Attachment
	hostName := a.HostName
	if hostName == "" {
		hostName = attachments.HostInterfaceName(a.ContainerID, a.IfName)
	}
	mtu := c.cfg.MTU
	if p.Underlay && c.cfg.UnderlayMTU != nil {
		mtu = c.cfg.UnderlayMTU()
	}
	return podInterface{HostName: hostName, Netns: a.Netns, IfName: a.IfName, Address: p.Address, MTU: mtu,
		TxChecksumOff: c.cfg.DatapathType == ovs.DatapathNetdev}
}
