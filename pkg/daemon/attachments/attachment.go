package attachments

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// External IDs on a pod's OVS interface. iface-id binds it to the logical
// port; the rest record the attachment.
const (
	KeyIfaceID     = "iface-id"
	KeyAttachedMAC = "attached-mac"
	keyPod         = "ovnet.io/pod"
	keyContainerID = "ovnet.io/container-id"
	keyIfName      = "ovnet.io/ifname"
	keyNetns       = "ovnet.io/netns"
	keyIP          = "ovnet.io/ip"
	// KeyMirror is MirrorOn when the pod asked for its traffic on mirror0.
	KeyMirror = "ovnet.io/mirror"
	// MirrorOn and MirrorOff are KeyMirror's values.
	MirrorOn  = "true"
	MirrorOff = "false"
)

const (
	// hostSuffix ends every host-side veth name, as in Kube-OVN, so an
	// operator can tell pod ports at a glance.
	hostSuffix = "_h"
	// hostHashLen hex digits of the hash keep the name at 14 bytes, under
	// IFNAMSIZ's 15.
	hostHashLen = 12
)

// HostInterfaceName derives the host end of a pod's veth from the
// attachment, so DEL and GC find it without any state: a hash rather than
// a prefix of the container ID, since runtimes other than containerd use
// IDs that share prefixes, and one container may have several interfaces.
func HostInterfaceName(containerID, ifName string) string {
	sum := sha256.Sum256([]byte(containerID + "\x00" + ifName))
	return hex.EncodeToString(sum[:])[:hostHashLen] + hostSuffix
}

// Attachment is one pod interface as recorded on its OVS port.
type Attachment struct {
	// HostName is the host end of the veth and the OVS port's name.
	HostName    string
	ContainerID string
	IfName      string
	Netns       string
	// Namespace and Name are the pod's.
	Namespace string
	Name      string
	// MAC and IP are the pod's, as allocated.
	MAC string
	IP  string
	// Mirror says the pod asked for its traffic on mirror0.
	Mirror bool
}

// Pod is "<namespace>/<name>", for logs.
func (a Attachment) Pod() string { return a.Namespace + "/" + a.Name }

// ExternalIDs is the record written on a freshly added pod port.
func (a Attachment) ExternalIDs() map[string]string {
	return map[string]string{
		KeyIfaceID:     ovnname.PodPort(a.Namespace, a.Name),
		KeyAttachedMAC: a.MAC,
		keyPod:         a.Pod(),
		keyContainerID: a.ContainerID,
		keyIfName:      a.IfName,
		keyNetns:       a.Netns,
		keyIP:          a.IP,
		KeyMirror:      MirrorValue(a.Mirror),
	}
}

// MirrorValue is KeyMirror's value for a pod that does or does not ask
// to be mirrored.
func MirrorValue(mirrored bool) string {
	if mirrored {
		return MirrorOn
	}
	return MirrorOff
}

// FromPort reads an OVS port back; ok is false for ports that are not
// pod attachments (ovn0, mirror0, the bridge's own).
func FromPort(p ovs.PortInfo) (Attachment, bool) {
	ids := p.ExternalIDs
	if ids[keyContainerID] == "" {
		return Attachment{}, false
	}
	a := Attachment{HostName: p.Name, ContainerID: ids[keyContainerID], IfName: ids[keyIfName], Netns: ids[keyNetns],
		MAC: ids[KeyAttachedMAC], IP: ids[keyIP], Mirror: ids[KeyMirror] == MirrorOn}
	a.Namespace, a.Name = splitPod(ids[keyPod])
	return a, true
}

// splitPod undoes Pod(): a namespace has no "/", so the first one splits.
func splitPod(s string) (namespace, name string) {
	namespace, name, _ = strings.Cut(s, "/")
	return namespace, name
}
