package daemon

import (
	"sync"

	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// External IDs on a pod's OVS interface. iface-id binds it to the logical
// port; the rest record the attachment, so GC, live QoS changes and a
// restarted daemon find everything in OVSDB without state of their own.
const (
	keyIfaceID     = "iface-id"
	keyAttachedMAC = "attached-mac"
	keyPod         = "ovnet.io/pod"
	keyContainerID = "ovnet.io/container-id"
	keyIfName      = "ovnet.io/ifname"
	keyNetns       = "ovnet.io/netns"
	keyIP          = "ovnet.io/ip"
	// keyMirror is "true" when the pod asked for its traffic on mirror0.
	keyMirror = "ovnet.io/mirror"
)

// attachment is one pod interface as recorded on its OVS port.
type attachment struct {
	HostName    string
	ContainerID string
	IfName      string
	Netns       string
	// Pod is "<namespace>/<name>".
	Pod string
}

// attachmentOf reads an OVS port back; ok is false for ports that are not
// pod attachments (ovn0, mirror0, the bridge's own).
func attachmentOf(p ovs.PortInfo) (attachment, bool) {
	id := p.ExternalIDs[keyContainerID]
	if id == "" {
		return attachment{}, false
	}
	return attachment{HostName: p.Name, ContainerID: id, IfName: p.ExternalIDs[keyIfName],
		Netns: p.ExternalIDs[keyNetns], Pod: p.ExternalIDs[keyPod]}, true
}

// podPortIDs are the external IDs of a freshly added pod port.
func podPortIDs(req *cni.Request, ap addressedPod) map[string]string {
	return map[string]string{
		keyIfaceID:     ovnname.PodPort(req.Pod.Namespace, req.Pod.Name),
		keyAttachedMAC: ap.Address.MAC.String(),
		keyPod:         req.Pod.Namespace + "/" + req.Pod.Name,
		keyContainerID: req.ContainerID,
		keyIfName:      req.IfName,
		keyNetns:       req.Netns,
		keyIP:          ap.Address.IP.String(),
	}
}

// keyedMutex serialises the commands of one container: a runtime may
// retry ADD while DEL of the previous attempt still runs.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*refMutex
}

type refMutex struct {
	sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*refMutex{}
	}
	m := k.locks[key]
	if m == nil {
		m = &refMutex{}
		k.locks[key] = m
	}
	m.refs++
	k.mu.Unlock()
	m.Lock()
	return func() {
		m.Unlock()
		k.mu.Lock()
		if m.refs--; m.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
