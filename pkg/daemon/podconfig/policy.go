package podconfig

import (
	"context"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// AttachmentsOf lists one pod's attachments on the bridge.
func (c *Configurator) AttachmentsOf(namespace, name string) ([]attachments.Attachment, error) {
	return c.store.OfPod(namespace, name)
}

// Update brings a running pod's attachments to its current limits and
// mirroring, changing nothing that already matches.
func (c *Configurator) Update(ctx context.Context, list []attachments.Attachment, bw annotation.Bandwidth, mirror bool) error {
	for _, a := range list {
		if err := c.applyBandwidth(ctx, a, bw); err != nil {
			return err
		}
		ids := map[string]string{attachments.KeyMirror: attachments.MirrorValue(mirror)}
		if err := c.ovs.EnsurePort(ctx, ovs.Port{Bridge: c.cfg.Bridge, Name: a.HostName, ExternalIDs: ids}); err != nil {
			return err
		}
	}
	return c.SyncMirror(ctx)
}

// applyBandwidth sets both of a pod's limits on the datapath in use.
// Into the pod: a linux-htb QoS on its OVS port, which shapes what OVS
// sends into the veth on either datapath. Out of the pod: OVS ingress
// policing on the kernel datapath (Kube-OVN's mechanism); on the userspace
// datapath, which ignores policing, a token bucket on the pod's end.
func (c *Configurator) applyBandwidth(ctx context.Context, a attachments.Attachment, bw annotation.Bandwidth) error {
	if err := c.ovs.SetPortEgressRate(ctx, a.HostName, bw.Ingress); err != nil {
		return err
	}
	if c.cfg.DatapathType == ovs.DatapathSystem {
		return c.ovs.SetInterfaceIngressPolicing(ctx, a.HostName, bw.Egress)
	}
	have, err := podEgressRate(a.Netns, a.IfName)
	if err != nil || have == bw.Egress {
		return err
	}
	return shapePodEgress(a.Netns, a.IfName, bw.Egress)
}

// SyncMirror makes mirror0 copy all pod traffic when the node mirrors
// everything, and otherwise that of the ports whose pods asked for it.
func (c *Configurator) SyncMirror(ctx context.Context) error {
	c.mirrorMu.Lock()
	defer c.mirrorMu.Unlock()
	want := ovs.Mirror{Name: MirrorPort, OutputPort: MirrorPort, SelectAll: c.cfg.MirrorAll}
	if !want.SelectAll {
		ports, err := c.store.Mirrored()
		if err != nil {
			return err
		}
		want.Ports = ports
	}
	return c.ovs.EnsureMirror(ctx, c.cfg.Bridge, want)
}
