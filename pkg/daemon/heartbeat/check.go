package heartbeat

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ovnet/ovnet/pkg/daemon/nslink"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// unixctlTimeout bounds the question to ovn-controller: its main loop
// answers within milliseconds unless it is stuck.
const unixctlTimeout = time.Second

// Checker looks at the node's data path.
type Checker struct {
	// NetNS holds the node's uplink.
	NetNS *nslink.Namespace
	// OVNRundir is ovn-controller's run directory, holding its pidfile
	// and control socket; empty skips that check.
	OVNRundir string
	// Bridges reads the node's Open_vSwitch database, for an uplink that
	// is an OVS bridge's own device; nil skips that check.
	Bridges Bridges
}

// Bridges tells whether a device is an OVS bridge's internal port and
// what its physical members report (*ovs.Client).
type Bridges interface {
	UplinkOf(name string) (ovs.BridgeUplink, bool, error)
}

// Check reports whether the node forwards egress traffic: the interface
// holding its address is up, and ovn-controller answers. An invalid
// address (a node without InternalIP) skips the uplink check.
func (c *Checker) Check(nodeIP netip.Addr) gatewayhealth.Report {
	var faults []string
	if nodeIP.IsValid() {
		if err := c.uplinkUp(nodeIP); err != nil {
			faults = append(faults, err.Error())
		}
	}
	if c.OVNRundir != "" {
		if err := OVNControllerAnswers(c.OVNRundir); err != nil {
			faults = append(faults, err.Error())
		}
	}
	if len(faults) > 0 {
		return gatewayhealth.Report{Reason: strings.Join(faults, "; ")}
	}
	return gatewayhealth.Report{Ready: true}
}

// uplinkUp finds the uplink and checks that it is up and, where the
// driver reports it, has a carrier; when it is an OVS bridge's internal
// port (br-ex, br-phy), the carrier that matters is that of the bridge's
// physical members.
func (c *Checker) uplinkUp(ip netip.Addr) error {
	link, err := c.uplink(ip)
	if err != nil {
		return err
	}
	attrs := link.Attrs()
	if attrs.Flags&net.FlagUp == 0 {
		return fmt.Errorf("uplink %s is down", attrs.Name)
	}
	switch attrs.OperState {
	case netlink.OperDown, netlink.OperLowerLayerDown, netlink.OperNotPresent:
		return fmt.Errorf("uplink %s has no carrier (%s)", attrs.Name, attrs.OperState)
	}
	return c.bridgeMembersUp(attrs.Name)
}

// uplink is the interface holding the node's address or, where the node's
// namespace does not hold it (the kubelet reports an address of another
// namespace, as in the sandbox), the interface of its default route, the
// way egress leaves.
func (c *Checker) uplink(ip netip.Addr) (netlink.Link, error) {
	family := netlink.FAMILY_V4
	if ip.Is6() {
		family = netlink.FAMILY_V6
	}
	addrs, err := c.NetNS.Link.AddrList(nil, family)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	index := 0
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip {
			index = a.LinkIndex
			break
		}
	}
	if index == 0 {
		routes, err := c.NetNS.Link.RouteList(nil, family)
		if err != nil {
			return nil, fmt.Errorf("list routes: %w", err)
		}
		for _, r := range routes {
			if isDefault(r) {
				index = r.LinkIndex
				break
			}
		}
	}
	if index == 0 {
		return nil, fmt.Errorf("no interface holds the node address %s and there is no default route", ip)
	}
	link, err := c.NetNS.Link.LinkByIndex(index)
	if err != nil {
		return nil, fmt.Errorf("uplink of %s: %w", ip, err)
	}
	return link, nil
}

// bridgeMembersUp checks, when the device is an OVS bridge's internal
// port, that one of the bridge's physical interfaces has its link up: the
// internal port itself stays up when the cable is pulled.
func (c *Checker) bridgeMembersUp(device string) error {
	if c.Bridges == nil {
		return nil
	}
	up, ok, err := c.Bridges.UplinkOf(device)
	if err != nil {
		return fmt.Errorf("uplink %s in OVS: %w", device, err)
	}
	if !ok {
		return nil
	}
	return membersFault(device, up)
}

// membersFault says what is wrong with an OVS bridge's physical members,
// nil when one has its link up.
func membersFault(device string, up ovs.BridgeUplink) error {
	if up.AnyUp() {
		return nil
	}
	if len(up.Members) == 0 {
		return fmt.Errorf("uplink %s is OVS bridge %s's internal port and the bridge has no physical port", device, up.Bridge)
	}
	states := make([]string, 0, len(up.Members))
	for _, m := range up.Members {
		state := m.LinkState
		if state == "" {
			state = "unknown"
		}
		states = append(states, m.Name+" "+state)
	}
	return fmt.Errorf("uplink %s: no physical port of OVS bridge %s has its link up (%s)", device, up.Bridge,
		strings.Join(states, ", "))
}

// OVNControllerAnswers asks ovn-controller for its version over its
// control socket, found through its pidfile: a process that is gone or
// stuck does not answer.
func OVNControllerAnswers(rundir string) error {
	raw, err := os.ReadFile(filepath.Join(rundir, "ovn-controller.pid"))
	if err != nil {
		return fmt.Errorf("ovn-controller is not running: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return fmt.Errorf("ovn-controller pidfile: %w", err)
	}
	sock := filepath.Join(rundir, "ovn-controller."+strconv.Itoa(pid)+".ctl")
	conn, err := net.DialTimeout("unix", sock, unixctlTimeout)
	if err != nil {
		return fmt.Errorf("ovn-controller does not answer: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(unixctlTimeout)); err != nil {
		return fmt.Errorf("ovn-controller socket: %w", err)
	}
	req := map[string]any{"id": 0, "method": "version", "params": []string{}}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return fmt.Errorf("ask ovn-controller: %w", err)
	}
	var reply struct {
		Error any `json:"error"`
	}
	if err := json.NewDecoder(conn).Decode(&reply); err != nil {
		return fmt.Errorf("ovn-controller does not answer: %w", err)
	}
	if reply.Error != nil {
		return fmt.Errorf("ovn-controller answers with an error: %v", reply.Error)
	}
	return nil
}

// isDefault reports whether r is a default route, however the kernel
// reports its destination (none, or a zero-length prefix).
func isDefault(r netlink.Route) bool {
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0
}
