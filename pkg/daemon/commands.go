package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/pkg/ovs"
)

const (
	// portReadyTimeout bounds the wait for ovs-vswitchd to give a pod's
	// port its OpenFlow number, which takes milliseconds: it only catches a
	// hung ovs-vswitchd, well within the plugin's own bound.
	portReadyTimeout = 10 * time.Second
	// rollbackTimeout bounds the removal of a failed ADD's port and veth:
	// one local transaction and one netlink call, done in milliseconds
	// unless ovsdb-server hangs, and then DEL or GC removes them later.
	rollbackTimeout = 10 * time.Second
)

// add wires the pod into OVS and answers with its CNI result.
func (d *Daemon) add(ctx context.Context, req *cni.Request) (*current.Result, error) {
	defer d.locks.lock(req.ContainerID)()
	steps := newStages()
	defer func() { d.log.V(1).Info("ADD steps", append([]any{"container", req.ContainerID}, steps.kv...)...) }()
	ap, err := d.waitAddressed(ctx, req.Pod)
	if err != nil {
		return nil, err
	}
	steps.done("address")
	bw, err := annotation.ParseBandwidth(ap.Pod.Annotations)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBandwidth, err)
	}
	iface := d.podInterface(req, ap.Address)
	hostMAC, err := d.node.createVeth(iface)
	if err != nil {
		if errors.Is(err, errNotNetNS) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %v", errInvalidNetNS, err)
		}
		return nil, err
	}
	steps.done("veth")
	if err := d.plugPort(ctx, req, ap, iface, bw, steps); err != nil {
		d.rollback(ctx, iface.HostName)
		return nil, err
	}
	return d.result(req, iface, hostMAC), nil
}

// plugPort adds the host end to br-int, then configures the pod end while
// ovn-controller binds the port, applies the pod's limits and mirroring,
// and waits for ovn-controller.
func (d *Daemon) plugPort(ctx context.Context, req *cni.Request, ap addressedPod, iface podInterface,
	bw annotation.Bandwidth, steps *stages) error {
	ids := podPortIDs(req, ap)
	ids[keyMirror] = mirrorWanted(ap.Pod.Annotations)
	if err := d.ovs.EnsurePort(ctx, ovs.Port{Bridge: d.cfg.Bridge, Name: iface.HostName, ExternalIDs: ids}); err != nil {
		return err
	}
	steps.done("ovsPort")
	if err := configurePod(iface); err != nil {
		return err
	}
	steps.done("podInterface")
	// A fresh port and veth carry no limits, and mirror0's selection only
	// changes for a pod that asks to be mirrored: the common pod skips both.
	if bw != (annotation.Bandwidth{}) {
		a := attachment{HostName: iface.HostName, Netns: req.Netns, IfName: req.IfName}
		if err := d.applyBandwidth(ctx, a, bw); err != nil {
			return err
		}
	}
	if ids[keyMirror] == annotation.True && !d.cfg.EnableMirror {
		if err := d.syncMirror(ctx); err != nil {
			return err
		}
	}
	steps.done("qosMirror")
	if err := d.waitPortReady(ctx, iface.HostName); err != nil {
		return err
	}
	steps.done("ofport")
	err := d.waitInstalled(ctx, iface.HostName)
	steps.done("ovnInstalled")
	return err
}

// waitAddressed bounds and times the wait for the controller.
func (d *Daemon) waitAddressed(ctx context.Context, pod cni.PodRef) (addressedPod, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.AddressTimeout)
	defer cancel()
	start := time.Now()
	ap, err := d.pods.waitAddressed(ctx, pod)
	d.metrics.addressWait.Observe(time.Since(start).Seconds())
	if errors.Is(err, errAddressTimeout) {
		err = fmt.Errorf("%w (waited %s)", err, d.cfg.AddressTimeout)
	}
	return ap, err
}

// rollback removes what a failed ADD made, so nothing half-made stays
// behind until DEL or GC; the runtime will retry ADD. It runs on a context
// of its own: the request's has often ended already (the plugin gave up,
// which is why ADD failed).
func (d *Daemon) rollback(ctx context.Context, hostName string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	_ = d.unplug(ctx, hostName) // logged by unplug
}

// waitPortReady bounds the wait for ovs-vswitchd to add the port.
func (d *Daemon) waitPortReady(ctx context.Context, hostName string) error {
	ctx, cancel := context.WithTimeout(ctx, portReadyTimeout)
	defer cancel()
	return d.ovs.WaitInterfaceReady(ctx, hostName)
}

// waitInstalled bounds and times the wait for ovn-controller.
func (d *Daemon) waitInstalled(ctx context.Context, hostName string) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.OVNTimeout)
	defer cancel()
	start := time.Now()
	err := d.ovs.WaitOVNInstalled(ctx, hostName)
	d.metrics.ovnWait.Observe(time.Since(start).Seconds())
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (waited %s; is ovn-controller running and is the logical port's chassis this node?): %v",
			errOVNTimeout, d.cfg.OVNTimeout, err)
	}
	return err
}

func (d *Daemon) podInterface(req *cni.Request, addr annotation.Address) podInterface {
	return podInterface{HostName: hostInterfaceName(req.ContainerID, req.IfName), Netns: req.Netns,
		IfName: req.IfName, Address: addr, MTU: d.mtu, TxChecksumOff: d.cfg.DatapathType == ovs.DatapathNetdev}
}

// result is the CNI 1.1 answer to ADD.
func (d *Daemon) result(req *cni.Request, iface podInterface, hostMAC net.HardwareAddr) *current.Result {
	podIndex := 1
	return &current.Result{
		CNIVersion: cni.SpecVersion,
		Interfaces: []*current.Interface{
			{Name: iface.HostName, Mac: hostMAC.String()},
			{Name: req.IfName, Mac: iface.Address.MAC.String(), Sandbox: req.Netns, Mtu: iface.MTU},
		},
		IPs: []*current.IPConfig{{Address: *ipNet(iface.Address.Prefix()), Gateway: iface.Address.Gateway.AsSlice(),
			Interface: &podIndex}},
		Routes: []*types.Route{{Dst: *defaultDst(iface.Address.Gateway), GW: iface.Address.Gateway.AsSlice()}},
	}
}

// del removes the port and the veth; whatever is already gone is fine.
func (d *Daemon) del(ctx context.Context, req *cni.Request) error {
	defer d.locks.lock(req.ContainerID)()
	return d.unplug(ctx, hostInterfaceName(req.ContainerID, req.IfName))
}

// unplug removes one attachment's OVS port (with its QoS) and veth.
func (d *Daemon) unplug(ctx context.Context, hostName string) error {
	err := d.ovs.DeletePort(ctx, d.cfg.Bridge, hostName)
	if linkErr := d.node.unplug(hostName); linkErr != nil {
		err = errors.Join(err, linkErr)
	}
	if err != nil {
		d.log.Error(err, "unplug", "interface", hostName)
	}
	return err
}

// check verifies what ADD made: both veth ends, the pod's MAC, address
// and route as allocated, and the OVS port bound to the pod's logical port.
func (d *Daemon) check(ctx context.Context, req *cni.Request) error {
	ap, found, err := d.pods.read(ctx, podKey(req.Pod), req.Pod.UID)
	if err != nil {
		return err
	}
	if ap.Pod == nil {
		return fmt.Errorf("%w: pod %s/%s %s", errPodInterface, req.Pod.Namespace, req.Pod.Name, found)
	}
	iface := d.podInterface(req, ap.Address)
	if err := d.node.checkPod(iface); err != nil {
		return err
	}
	st, err := d.ovs.InterfaceState(iface.HostName)
	if err != nil || st.OFPort <= 0 {
		return fmt.Errorf("%w: OVS port %s: ofport %d, %v", errPodInterface, iface.HostName, st.OFPort, err)
	}
	return nil
}

// gc removes the attachments the runtime no longer lists.
func (d *Daemon) gc(ctx context.Context, req *cni.Request) error {
	valid := map[types.GCAttachment]bool{}
	for _, a := range req.ValidAttachments {
		valid[a] = true
	}
	ports, err := d.ovs.ListPorts(d.cfg.Bridge)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range ports {
		a, ok := attachmentOf(p)
		if !ok || valid[types.GCAttachment{ContainerID: a.ContainerID, IfName: a.IfName}] {
			continue
		}
		d.log.Info("collecting stale attachment", "interface", a.HostName, "container", a.ContainerID, "pod", a.Pod)
		unlock := d.locks.lock(a.ContainerID)
		errs = append(errs, d.unplug(ctx, a.HostName))
		unlock()
	}
	return errors.Join(errs...)
}

// status reports whether ADD could be served now.
func (d *Daemon) status(ctx context.Context) error {
	if err := d.ovs.Ping(ctx); err != nil {
		return fmt.Errorf("%w: the Open_vSwitch database at %s does not answer: %v", errNotReady, d.cfg.OVSDB, err)
	}
	if _, err := d.ovs.ListPorts(d.cfg.Bridge); err != nil {
		return fmt.Errorf("%w: %v", errNotReady, err)
	}
	if err := d.apiReachable(ctx); err != nil {
		return fmt.Errorf("%w: the API server does not answer: %v", errNotReady, err)
	}
	return nil
}
