package cniserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
	"github.com/ovnet/ovnet/pkg/daemon/podconfig"
	"github.com/ovnet/ovnet/pkg/daemon/podrecord"
)

// rollbackTimeout bounds the removal of a failed ADD's port and veth:
// one local transaction and one netlink call, done in milliseconds
// unless ovsdb-server hangs, and then DEL or GC removes them later.
const rollbackTimeout = 10 * time.Second

// add wires the pod in and answers with its CNI result. Every wait is
// bounded: the address by AddressTimeout, ovs-vswitchd and each OVSDB
// transaction by the configurator, OVN by OVNTimeout.
func (s *Server) add(ctx context.Context, req *cni.Request) (*current.Result, error) {
	defer s.locks.lock(req.ContainerID)()
	steps := newStages()
	defer func() { s.log.V(1).Info("ADD steps", append([]any{"container", req.ContainerID}, steps.kv...)...) }()
	rec, err := s.waitAddressed(ctx, req.Pod)
	if err != nil {
		return nil, err
	}
	steps.done("address")
	bw, err := annotation.ParseBandwidth(rec.Pod.Annotations)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBandwidth, err)
	}
	underlay, err := s.underlay(ctx, rec.Address.LogicalSwitch)
	if err != nil {
		return nil, err
	}
	pod := podconfig.Pod{Attachment: attachmentOf(req, rec), Address: rec.Address, Bandwidth: bw, Underlay: underlay, Step: steps.done}
	plugged, err := s.conf.Plug(ctx, pod)
	if err == nil {
		err = s.waitInstalled(ctx, plugged.HostName)
		steps.done("ovnInstalled")
	}
	if err != nil {
		// A path that is no network namespace fails before anything is
		// made, and an earlier ADD's interface must then stay.
		if !errors.Is(err, podconfig.ErrInvalidNetNS) {
			s.rollback(ctx, pod.Attachment.HostName)
		}
		return nil, err
	}
	return result(req, rec.Address, plugged), nil
}

// underlay reports whether the pod's Subnet is an underlay one.
func (s *Server) underlay(ctx context.Context, subnet string) (bool, error) {
	if s.cfg.Underlay == nil {
		return false, nil
	}
	return s.cfg.Underlay(ctx, subnet)
}

// attachmentOf is the record ADD writes on the pod's port.
func attachmentOf(req *cni.Request, rec podrecord.Record) attachments.Attachment {
	return attachments.Attachment{HostName: attachments.HostInterfaceName(req.ContainerID, req.IfName),
		ContainerID: req.ContainerID, IfName: req.IfName, Netns: req.Netns,
		Namespace: req.Pod.Namespace, Name: req.Pod.Name, MAC: rec.Address.MAC.String(), IP: rec.Address.IP.String(),
		Mirror: rec.Pod.Annotations[annotation.Mirror] == annotation.True}
}

// rollback removes what a failed ADD made, so nothing half-made stays
// behind until DEL or GC; the runtime will retry ADD. It runs on a context
// of its own: the request's has often ended already (the plugin gave up,
// which is why ADD failed).
func (s *Server) rollback(ctx context.Context, hostName string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	_ = s.unplug(ctx, hostName) // logged by unplug
}

// waitAddressed bounds and times the wait for the controller.
func (s *Server) waitAddressed(ctx context.Context, pod cni.PodRef) (podrecord.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AddressTimeout)
	defer cancel()
	start := time.Now()
	rec, err := s.pods.Wait(ctx, pod)
	s.metrics.addressWait.Observe(time.Since(start).Seconds())
	if errors.Is(err, podrecord.ErrNotAddressed) {
		err = fmt.Errorf("%w (waited %s)", err, s.cfg.AddressTimeout)
	}
	return rec, err
}

// waitInstalled bounds and times the wait for ovn-controller.
func (s *Server) waitInstalled(ctx context.Context, hostName string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OVNTimeout)
	defer cancel()
	start := time.Now()
	err := s.conf.WaitInstalled(ctx, hostName)
	s.metrics.ovnWait.Observe(time.Since(start).Seconds())
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (waited %s; is ovn-controller running and is the logical port's chassis this node?): %v",
			errOVNTimeout, s.cfg.OVNTimeout, err)
	}
	return err
}

// result is the CNI 1.1 answer to ADD.
func result(req *cni.Request, addr annotation.Address, plugged podconfig.Plugged) *current.Result {
	podIndex := 1
	res := &current.Result{
		CNIVersion: cni.SpecVersion,
		Interfaces: []*current.Interface{
			{Name: plugged.HostName, Mac: plugged.HostMAC.String()},
			{Name: req.IfName, Mac: addr.MAC.String(), Sandbox: req.Netns, Mtu: plugged.MTU},
		},
	}
	// One entry per family, IPv4 first: the kubelet's status.podIPs.
	for _, fam := range addr.Families() {
		res.IPs = append(res.IPs, &current.IPConfig{Address: *nslink.IPNet(fam.Prefix), Gateway: fam.Gateway.AsSlice(),
			Interface: &podIndex})
		res.Routes = append(res.Routes, &types.Route{Dst: *nslink.DefaultDst(fam.Gateway), GW: fam.Gateway.AsSlice()})
	}
	return res
}

// del removes the port and the veth; whatever is already gone is fine.
func (s *Server) del(ctx context.Context, req *cni.Request) error {
	defer s.locks.lock(req.ContainerID)()
	return s.unplug(ctx, attachments.HostInterfaceName(req.ContainerID, req.IfName))
}

// unplug removes one attachment, logging a failure once here.
func (s *Server) unplug(ctx context.Context, hostName string) error {
	err := s.conf.Unplug(ctx, hostName)
	if err != nil {
		s.log.Error(err, "unplug", "interface", hostName)
	}
	return err
}

// check verifies what ADD made: both veth ends, the pod's MAC, address
// and route as allocated, and the OVS port bound to the pod's logical port.
func (s *Server) check(ctx context.Context, req *cni.Request) error {
	rec, found, err := s.pods.Lookup(req.Pod)
	if err != nil {
		return err
	}
	if rec.Pod == nil {
		return fmt.Errorf("%w: pod %s/%s %s", podconfig.ErrInterfaceMismatch, req.Pod.Namespace, req.Pod.Name, found)
	}
	return s.conf.Check(ctx, podconfig.Pod{Attachment: attachmentOf(req, rec), Address: rec.Address})
}

// gc removes the attachments the runtime no longer lists.
func (s *Server) gc(ctx context.Context, req *cni.Request) error {
	valid := map[types.GCAttachment]bool{}
	for _, a := range req.ValidAttachments {
		valid[a] = true
	}
	plugged, err := s.conf.Attachments()
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range plugged {
		if valid[types.GCAttachment{ContainerID: a.ContainerID, IfName: a.IfName}] {
			continue
		}
		s.log.Info("collecting stale attachment", "interface", a.HostName, "container", a.ContainerID, "pod", a.Pod())
		unlock := s.locks.lock(a.ContainerID)
		errs = append(errs, s.unplug(ctx, a.HostName))
		unlock()
	}
	return errors.Join(errs...)
}
