package attachments

import (
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// Store reads the attachments on the integration bridge from the
// Open_vSwitch database client's cache: no round trip, no state of its own.
type Store struct {
	ovs    *ovs.Client
	bridge string
}

// NewStore reads the attachments of bridge through c.
func NewStore(c *ovs.Client, bridge string) *Store {
	return &Store{ovs: c, bridge: bridge}
}

// List returns every pod attachment on the bridge.
func (s *Store) List() ([]Attachment, error) {
	return s.filter(func(Attachment, ovs.PortInfo) bool { return true })
}

// OfPod returns the pod's attachments: those bound to its logical port.
func (s *Store) OfPod(namespace, name string) ([]Attachment, error) {
	port := ovnname.PodPort(namespace, name)
	return s.filter(func(_ Attachment, p ovs.PortInfo) bool { return p.ExternalIDs[KeyIfaceID] == port })
}

// Mirrored returns the names of the ports whose pods asked for mirroring.
func (s *Store) Mirrored() ([]string, error) {
	list, err := s.filter(func(a Attachment, _ ovs.PortInfo) bool { return a.Mirror })
	var names []string
	for _, a := range list {
		names = append(names, a.HostName)
	}
	return names, err
}

func (s *Store) filter(keep func(Attachment, ovs.PortInfo) bool) ([]Attachment, error) {
	ports, err := s.ovs.ListPorts(s.bridge)
	if err != nil {
		return nil, err
	}
	var out []Attachment
	for _, p := range ports {
		if a, ok := FromPort(p); ok && keep(a, p) {
			out = append(out, a)
		}
	}
	return out, nil
}
