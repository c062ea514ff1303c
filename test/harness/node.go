package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ovnet/ovnet/pkg/ovs"
	"github.com/ovnet/ovnet/test/harness/ovsdbserver"
)

const (
	// IntegrationBridge is the bridge ovn-controller programs and pods
	// are plugged into; OVN's default name for it.
	IntegrationBridge = "br-int"
	// datapathTap is the tap device the userspace datapath creates for
	// itself, beside one per bridge.
	datapathTap = "ovs-netdev"
	// defaultEncapIP is the tunnel endpoint of a chassis that has no other
	// address; loopback keeps every packet on this machine.
	defaultEncapIP = "127.0.0.1"
	// chassisReadyTimeout bounds the wait for ovn-controller to register
	// its chassis; it takes well under a second, so this only catches hangs.
	chassisReadyTimeout = 30 * time.Second
	// toolTimeout is the --timeout, in seconds, of every ovs-vsctl,
	// ovn-sbctl and appctl call, so a stuck daemon fails the test instead
	// of hanging it.
	toolTimeout = "--timeout=10"
	// exitTimeout is the --timeout of the appctl "exit" calls in cleanup;
	// the signal fallback follows.
	exitTimeout = "--timeout=5"
)

// ChassisOptions says how to start a chassis.
type ChassisOptions struct {
	// Name is the chassis name (system-id) and hostname in the southbound.
	Name string
	// SB is the southbound database the chassis registers with.
	SB *OVSDB
	// NetNS, if set, is the network namespace ovs-vswitchd and
	// ovn-controller run in, created (and deleted) by the harness if it does
	// not exist. Without it they run in the host's, which holds only one
	// ovs-vswitchd, since the datapath's taps have fixed names.
	NetNS string
	// EncapIP is the tunnel endpoint; 127.0.0.1 when empty.
	EncapIP string
	// EncapType is ovn-encap-type, ovs.EncapGeneve (when empty) or
	// ovs.EncapVXLAN.
	EncapType string
	// TSO sets other_config:userspace-tso-enable. Pods keeping tx offload
	// need it for TCP, but OVS 3.1 then drops offloaded packets entering a
	// tunnel, so the default is off and pods turn tx offload off.
	TSO bool
}

// Chassis is one node's Open vSwitch and ovn-controller: an ovsdb-server
// with the Open_vSwitch database, ovs-vswitchd on the userspace datapath
// with br-int, and ovn-controller registered in the southbound.
type Chassis struct {
	// Name is the chassis name in the southbound.
	Name string
	// OVS is the Open_vSwitch database: Endpoint for libovsdb and
	// "ovs-vsctl --db=".
	OVS *OVSDB
	// VswitchdControl and ControllerControl are the unixctl sockets of
	// ovs-vswitchd and ovn-controller, for ovs-appctl/ovn-appctl -t.
	VswitchdControl   string
	ControllerControl string
	// NetNS is the namespace the daemons (and so br-int and the host ends
	// of pod veths) live in; "" for the host's.
	NetNS string
	// LogDir holds every log of the chassis; it is also OVS_RUNDIR, where
	// ovs-vswitchd puts br-int.mgmt for ovn-controller.
	LogDir string
	// VswitchdPID and ControllerPID are gone once the test's cleanups ran;
	// ControllerPID changes when RestartController starts a new one.
	VswitchdPID   int
	ControllerPID int
	// controller is the running ovn-controller, nil after KillController.
	controller *daemon
	vswitchd   *daemon
}

// StartChassis starts a chassis registered in opts.SB and waits until the
// southbound lists it. tb.Cleanup stops ovn-controller ("exit", which
// removes the chassis from SB), then ovs-vswitchd ("exit --cleanup", which
// removes its taps), then the database, then the namespace if it made it;
// opts.SB must therefore have been started before, so it is stopped after.
func StartChassis(tb T, opts ChassisOptions) *Chassis {
	tb.Helper()
	if opts.Name == "" || opts.SB == nil {
		tb.Fatalf("StartChassis: Name and SB are required, got %+v", opts)
	}
	if os.Geteuid() != 0 {
		tb.Fatalf("StartChassis needs root (ovs-vswitchd opens taps and raw sockets): %s", netnsHint)
	}
	vswitchdProgram(tb)
	for _, tool := range []string{"ovn-controller", "ovs-vsctl", "ovs-appctl", "ovn-appctl", "ovn-sbctl", "ip"} {
		lookPath(tb, tool)
	}
	if opts.EncapIP == "" {
		opts.EncapIP = defaultEncapIP
	}
	if opts.EncapType == "" {
		opts.EncapType = ovs.EncapGeneve
	}
	if err := ovs.CheckEncapType(opts.EncapType); err != nil {
		tb.Fatalf("StartChassis %s: %v", opts.Name, err)
	}
	c := startVswitch(tb, opts.Name, opts.NetNS, opts.TSO)
	// Without --no-wait, ovs-vsctl returns once ovs-vswitchd made br-int.
	c.Vsctl(tb, "--may-exist", "add-br", IntegrationBridge,
		"--", "set", "Bridge", IntegrationBridge, "datapath_type=netdev", "fail_mode=secure",
		"other_config:disable-in-band=true",
		"--", "set", "Open_vSwitch", ".",
		"external_ids:system-id="+opts.Name,
		"external_ids:hostname="+opts.Name,
		"external_ids:ovn-remote="+opts.SB.Endpoint,
		"external_ids:ovn-encap-type="+opts.EncapType,
		"external_ids:ovn-encap-ip="+opts.EncapIP,
		"external_ids:ovn-bridge-datapath-type=netdev")
	// One cleanup for every ovn-controller the test runs, registered after
	// ovs-vswitchd's, so it stops first.
	tb.Cleanup(func() {
		if c.controller != nil {
			c.controller.stop(tb)
		}
	})
	c.startController(tb)
	c.waitRegistered(tb, opts.SB, c.controller)
	return c
}

// startVswitch starts the Open vSwitch half of a chassis in netns (made
// if it does not exist): ovsdb-server and ovs-vswitchd on the userspace
// datapath, no bridge yet.
func startVswitch(tb T, name, netns string, tso bool) *Chassis {
	tb.Helper()
	if netns != "" && !netnsExists(netns) {
		addNetNS(tb, netns)
	}
	c := &Chassis{Name: name, NetNS: netns}
	c.OVS = startOVSDB(tb, "conf", ovsdbserver.OpenvSwitchSchema)
	c.LogDir = filepath.Dir(c.OVS.Socket)
	c.VswitchdControl = filepath.Join(c.LogDir, "ovs-vswitchd.ctl")

	c.requireNoDatapath(tb)
	// Registered before ovs-vswitchd's stop, so it runs after it.
	tb.Cleanup(func() { c.checkNoDatapath(tb) })

	c.Vsctl(tb, "--no-wait", "init")
	c.Vsctl(tb, "--no-wait", "set", "Open_vSwitch", ".",
		"other_config:userspace-tso-enable="+strconv.FormatBool(tso))
	// One cleanup for every ovs-vswitchd the test runs (KillVswitchd and
	// RestartVswitchd replace it).
	tb.Cleanup(func() {
		if c.vswitchd != nil {
			c.vswitchd.stop(tb)
		}
	})
	c.startVswitchd(tb)
	return c
}

// Vsctl runs ovs-vsctl against the chassis's database and returns its
// output, failing the test on error.
func (c *Chassis) Vsctl(tb T, args ...string) string {
	tb.Helper()
	return mustTool(tb, append([]string{"ovs-vsctl", "--db=" + c.OVS.Endpoint, toolTimeout}, args...)...)
}

// BridgeMappings is the chassis's ovn-bridge-mappings ("physnet:br-phy,..."),
// empty when it has none.
func (c *Chassis) BridgeMappings(tb T) string {
	tb.Helper()
	out := c.Vsctl(tb, "--if-exists", "get", "Open_vSwitch", ".", "external_ids:ovn-bridge-mappings")
	return strings.Trim(strings.TrimSpace(out), `"`)
}

// rundirEnv points the daemons' run directory at LogDir: ovs-vswitchd
// creates br-int.mgmt there and ovn-controller connects to it, so two
// chassis must not share the default /var/run/openvswitch.
func (c *Chassis) rundirEnv() []string {
	return []string{"OVS_RUNDIR=" + c.LogDir, "OVN_RUNDIR=" + c.LogDir}
}

func (c *Chassis) startVswitchd(tb T) {
	tb.Helper()
	logFile := filepath.Join(c.LogDir, "ovs-vswitchd.log")
	d := spawn(tb, daemonSpec{
		name: "ovs-vswitchd",
		argv: inNetNS(c.NetNS, vswitchdProgram(tb), c.OVS.Endpoint,
			"--disable-system",
			"--pidfile="+filepath.Join(c.LogDir, "ovs-vswitchd.pid"),
			"--unixctl="+c.VswitchdControl,
			"--log-file="+logFile,
			"-vconsole:off", "--no-chdir"),
		logFile:    logFile,
		stderrFile: filepath.Join(c.LogDir, "ovs-vswitchd.stderr"),
		env:        c.rundirEnv(),
		// --cleanup deletes the datapath's ports: the userspace datapath
		// makes its taps persistent, so they would outlive the process.
		shutdown: func() error {
			_, err := toolOutput("ovs-appctl", "-t", c.VswitchdControl, exitTimeout, "exit", "--cleanup")
			return err
		},
	})
	d.waitForSocket(tb, c.VswitchdControl)
	c.vswitchd = d
	c.VswitchdPID = d.pid()
}

// KillVswitchd kills ovs-vswitchd with SIGKILL, as a crash would: the
// node's datapath is gone with it (userspace), its taps and database stay.
// RestartVswitchd starts another.
func (c *Chassis) KillVswitchd(tb T) { c.killPart(tb, &c.vswitchd) }

// RestartVswitchd starts ovs-vswitchd again after KillVswitchd, as a
// supervisor would, and waits until it answers on its control socket.
func (c *Chassis) RestartVswitchd(tb T) {
	c.restartPart(tb, c.vswitchd, "ovs-vswitchd", c.startVswitchd)
}

// killPart kills the chassis's process in *part with SIGKILL and forgets it.
func (c *Chassis) killPart(tb T, part **daemon) {
	tb.Helper()
	if *part == nil {
		tb.Fatalf("chassis %s: the process is not running", c.Name)
	}
	(*part).kill()
	*part = nil
}

// restartPart starts a killed or stopped process of the chassis again.
func (c *Chassis) restartPart(tb T, part *daemon, name string, start func(T)) {
	tb.Helper()
	if part != nil {
		tb.Fatalf("%s of %s is running (pid %d)", name, c.Name, part.pid())
	}
	start(tb)
}

// RequireVswitchd fails the test at once, with the log's tail and the
// known cause if there is one, when ovs-vswitchd has died: every packet
// check after that would fail with a less telling message.
func (c *Chassis) RequireVswitchd(tb T) {
	tb.Helper()
	if c.vswitchd == nil {
		tb.Fatalf("chassis %s: ovs-vswitchd is not running", c.Name)
	}
	if msg, gone := c.vswitchd.exited(); gone {
		tb.Fatalf("chassis %s: %s", c.Name, msg)
	}
}

// FlushConntrack empties the userspace datapath's connection tracker.
// Suites that replay traffic for minutes call it between phases: it
// drops entries that expired but were not yet swept, which Open vSwitch
// 3.1.0 aborts on when a late packet meets one (see knownAborts).
func (c *Chassis) FlushConntrack(tb T) {
	tb.Helper()
	mustTool(tb, "ovs-appctl", "-t", c.VswitchdControl, toolTimeout, "dpctl/flush-conntrack")
}

// PurgeDatapathFlows drops ovs-vswitchd's cached datapath flows, so the
// next packets are judged by the OpenFlow tables as they are now.
func (c *Chassis) PurgeDatapathFlows(tb T) {
	tb.Helper()
	mustTool(tb, "ovs-appctl", "-t", c.VswitchdControl, toolTimeout, "revalidator/purge")
}

// startController runs ovn-controller; stopping it is StartChassis's
// cleanup.
func (c *Chassis) startController(tb T) {
	tb.Helper()
	logFile := filepath.Join(c.LogDir, "ovn-controller.log")
	d := spawn(tb, daemonSpec{
		name: "ovn-controller",
		argv: inNetNS(c.NetNS, "ovn-controller", c.OVS.Endpoint,
			"--pidfile="+filepath.Join(c.LogDir, "ovn-controller.pid"),
			"--log-file="+logFile,
			"-vconsole:off", "--no-chdir"),
		logFile:    logFile,
		stderrFile: filepath.Join(c.LogDir, "ovn-controller.stderr"),
		env:        c.rundirEnv(),
		// "exit" without --restart deletes the chassis from SB and the
		// flows from br-int, as a node leaving the cluster does.
		shutdown: func() error {
			_, err := toolOutput("ovn-appctl", "-t", c.ControllerControl, exitTimeout, "exit")
			return err
		},
	})
	// ovn-controller 23.03 has no --unixctl: its socket is named after
	// its PID in OVN_RUNDIR, and ip netns exec keeps the PID.
	c.controller = d
	c.ControllerPID = d.pid()
	c.ControllerControl = filepath.Join(c.LogDir, "ovn-controller."+strconv.Itoa(c.ControllerPID)+".ctl")
	d.waitForSocket(tb, c.ControllerControl)
}

// KillController kills ovn-controller with SIGKILL, as a crash would: it
// leaves its flows in br-int and its chassis in the southbound, and its
// pidfile and control socket behind. RestartController starts another.
func (c *Chassis) KillController(tb T) { c.killPart(tb, &c.controller) }

// StopController stops ovn-controller as its container's stop would,
// with its shutdown ("exit"); RestartController starts another.
func (c *Chassis) StopController(tb T) {
	tb.Helper()
	if c.controller == nil {
		tb.Fatalf("ovn-controller of %s is not running", c.Name)
	}
	c.controller.stop(tb)
	c.controller = nil
}

// RestartController starts ovn-controller again after KillController, as
// a supervisor would, and waits until it answers on its control socket.
func (c *Chassis) RestartController(tb T) {
	c.restartPart(tb, c.controller, "ovn-controller", c.startController)
}

// waitRegistered polls SB until it lists the chassis.
func (c *Chassis) waitRegistered(tb T, sb *OVSDB, controller *daemon) {
	tb.Helper()
	controller.waitFor(tb, chassisReadyTimeout, "chassis "+c.Name+" in SB", func() error {
		out, err := toolOutput("ovn-sbctl", "--db="+sb.Endpoint, toolTimeout,
			"--bare", "--columns=name", "find", "Chassis", "name="+c.Name)
		if err != nil {
			return err
		}
		if got := strings.TrimSpace(out); got != c.Name {
			return fmt.Errorf("SB lists %q", got)
		}
		return nil
	})
}

// requireNoDatapath fails when the namespace already has an ovs-vswitchd's
// taps: a second one there would fight the first over them.
func (c *Chassis) requireNoDatapath(tb T) {
	tb.Helper()
	found, err := presentLinks(c.NetNS, IntegrationBridge, datapathTap)
	if err != nil {
		tb.Fatalf("%v (%s)", err, netnsHint)
	}
	if len(found) > 0 {
		tb.Fatalf("namespace %q already has %v: another ovs-vswitchd runs there (one per namespace); give the chassis its own NetNS",
			c.NetNS, found)
	}
}

// checkNoDatapath reports taps that ovs-vswitchd left behind.
func (c *Chassis) checkNoDatapath(tb T) {
	tb.Helper()
	found, err := presentLinks(c.NetNS, IntegrationBridge, datapathTap)
	if err != nil {
		tb.Errorf("after ovs-vswitchd stopped: %v", err)
		return
	}
	if len(found) > 0 {
		tb.Errorf("ovs-vswitchd left %v in namespace %q", found, c.NetNS)
	}
}
