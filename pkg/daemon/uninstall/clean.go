package uninstall

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/daemon/bridgemap"
	"github.com/ovnet/ovnet/pkg/daemon/cniserver"
	"github.com/ovnet/ovnet/pkg/daemon/heartbeat"
	"github.com/ovnet/ovnet/pkg/daemon/nodenat"
	"github.com/ovnet/ovnet/pkg/daemon/nodesetup"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
	"github.com/ovnet/ovnet/pkg/daemon/podconfig"
	"github.com/ovnet/ovnet/pkg/ovs"
)

const (
	// ovnControllerExitTimeout bounds the wait for ovn-controller to stop
	// before br-int goes: a running ovn-controller recreates br-int at
	// once. In the chart its container stops together with the daemon's
	// and exits within a second.
	ovnControllerExitTimeout = 20 * time.Second
	// ovnControllerPoll is how often that wait asks.
	ovnControllerPoll = 200 * time.Millisecond
	// linksGoneTimeout bounds the wait for ovs-vswitchd to remove the
	// devices of br-int's internal ports once the bridge is deleted; it
	// takes milliseconds, but on uninstall vswitchd is told to stop at
	// the same time, and one it did not remove is deleted here.
	linksGoneTimeout = 10 * time.Second
)

// Config says what the node holds of ovnet's: the daemon's own settings.
type Config struct {
	// Bridge is the integration bridge.
	Bridge string
	// CNIBinDir and CNIConfDir hold the plugin and the conflist.
	CNIBinDir  string
	CNIConfDir string
	// Socket is the daemon's CNI socket; its directory goes too when
	// nothing else is in it.
	Socket string
	// OVNRundir is ovn-controller's run directory: Clean waits there for
	// ovn-controller to stop before it deletes br-int. Empty skips the wait.
	OVNRundir string
}

// Node removes ovnet from one node.
type Node struct {
	cfg   Config
	ovs   *ovs.Client
	netns *nslink.Namespace
	log   logr.Logger
}

// New returns the clean-up of the node whose Open_vSwitch database c
// reaches and whose network namespace is netns.
func New(cfg Config, c *ovs.Client, netns *nslink.Namespace, log logr.Logger) *Node {
	return &Node{cfg: cfg, ovs: c, netns: netns, log: log}
}

// Step is one part of the clean-up and how it went.
type Step struct {
	Name string
	// Note says what was left and why, when something was on purpose.
	Note string
	Err  error
}

// Clean removes everything ovnet put on the node, in an order that keeps
// the node consistent at each step: first the conflist, so the runtime
// stops sending pods to ovnet, last the socket. Every step runs even when
// an earlier one failed; each is logged, and their errors are joined. A
// second Clean finds nothing to do and succeeds.
func (n *Node) Clean(ctx context.Context) ([]Step, error) {
	steps := []struct {
		name string
		do   func(context.Context) (string, error)
	}{
		{"CNI conflist", n.removeConflist},
		{"CNI plugin", n.removePlugin},
		{"pod interfaces", n.removePodInterfaces},
		{"OVN settings in Open_vSwitch", n.removeExternalIDs},
		{"provider network bridge mappings", n.removeBridgeMappings},
		{"OVN TLS settings in Open_vSwitch", n.removeSSL},
		{"ovn-controller stopped", n.waitOVNControllerGone},
		{"bridge " + n.cfg.Bridge, n.deleteBridge},
		{"routes", n.removeRoutes},
		{"nftables tables ip and ip6 " + nodenat.TableName, n.deleteTables},
		{"socket", n.removeSocket},
	}
	var done []Step
	var errs []error
	for _, s := range steps {
		note, err := s.do(ctx)
		done = append(done, Step{Name: s.name, Note: note, Err: err})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			n.log.Error(err, "uninstall step failed", "step", s.name)
			continue
		}
		n.log.Info("uninstall step done", "step", s.name, "note", note)
	}
	return done, errors.Join(errs...)
}

func (n *Node) removeConflist(context.Context) (string, error) {
	return "", removeFile(filepath.Join(n.cfg.CNIConfDir, cniserver.ConflistName))
}

func (n *Node) removePlugin(context.Context) (string, error) {
	return "", removeFile(filepath.Join(n.cfg.CNIBinDir, cni.PluginType))
}

// removeBridgeMappings removes the ovn-bridge-mappings entries the daemon
// wrote for ProviderNetworks; an operator's stay.
func (n *Node) removeBridgeMappings(ctx context.Context) (string, error) {
	return "", bridgemap.Write(ctx, n.ovs, nil)
}

// removeExternalIDs removes OVN's settings only when the daemon wrote
// them (its mark is there): otherwise they are someone else's.
func (n *Node) removeExternalIDs(ctx context.Context) (string, error) {
	ids, err := n.ovs.OpenvSwitchExternalIDs()
	if err != nil {
		return "", err
	}
	if ids[nodesetup.OwnerKey] != nodesetup.OwnerDaemon {
		for _, k := range nodesetup.OVNExternalIDKeys {
			if _, ok := ids[k]; ok {
				return "set by someone else, not ovnet: kept", nil
			}
		}
		return "none", nil
	}
	keys := append([]string{nodesetup.OwnerKey}, nodesetup.OVNExternalIDKeys...)
	return "", n.ovs.RemoveOpenvSwitchExternalIDs(ctx, keys)
}

// removeSSL removes the SSL row the daemon wrote for ovn-controller;
// someone else's stays.
func (n *Node) removeSSL(ctx context.Context) (string, error) {
	ssl, err := n.ovs.SSL()
	switch {
	case err != nil:
		return "", err
	case ssl == nil:
		return "none", nil
	case ssl.ExternalIDs[nodesetup.OwnerKey] != nodesetup.OwnerDaemon:
		return "set by someone else, not ovnet: kept", nil
	}
	return "", n.ovs.DeleteSSL(ctx)
}

// waitOVNControllerGone waits, bounded, until ovn-controller stops
// answering: while it runs it recreates br-int.
func (n *Node) waitOVNControllerGone(ctx context.Context) (string, error) {
	if n.cfg.OVNRundir == "" {
		return "no ovn-controller run directory given: not checked", nil
	}
	ctx, cancel := context.WithTimeout(ctx, ovnControllerExitTimeout)
	defer cancel()
	for heartbeat.OVNControllerAnswers(n.cfg.OVNRundir) == nil {
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("ovn-controller still answers in %s after %s: it will recreate %s; stop it and run ovnet-daemon cleanup again",
				n.cfg.OVNRundir, ovnControllerExitTimeout, n.cfg.Bridge)
		case <-time.After(ovnControllerPoll):
		}
	}
	return "", nil
}

// deleteBridge deletes the bridge's rows, then makes sure the devices of
// its internal ports (the bridge's own, ovn0, mirror0) are gone.
func (n *Node) deleteBridge(ctx context.Context) (string, error) {
	if err := n.ovs.DeleteBridge(ctx, n.cfg.Bridge); err != nil {
		return "", err
	}
	return n.removeInternalLinks(ctx, []string{n.cfg.Bridge, nodesetup.NodePort, podconfig.MirrorPort})
}

func (n *Node) deleteTables(context.Context) (string, error) {
	var errs []error
	for _, f := range nodenat.Families {
		errs = append(errs, nodenat.NewTable(int(n.netns.NS), nodesetup.NodePort, f).Delete())
	}
	return "", errors.Join(errs...)
}

// removeSocket removes the socket, then its directory when it is empty.
// A directory that is a mount point (the chart's hostPath, seen from the
// daemon's container) cannot be removed from inside: it stays, empty.
func (n *Node) removeSocket(context.Context) (string, error) {
	if err := removeFile(n.cfg.Socket); err != nil {
		return "", err
	}
	dir := filepath.Dir(n.cfg.Socket)
	err := os.Remove(dir)
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
		return "", nil
	case errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.EEXIST):
		return dir + " holds other files: kept", nil
	case errors.Is(err, syscall.EBUSY):
		return dir + " is a mount point here: left empty", nil
	}
	return "", fmt.Errorf("remove %s: %w", dir, err)
}

// removeFile removes path; a file already gone is not an error.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// podHostInterfaces are the host ends of the pods' veths on the bridge;
// none once the bridge is gone.
func (n *Node) podHostInterfaces() ([]string, error) {
	list, err := attachments.NewStore(n.ovs, n.cfg.Bridge).List()
	if errors.Is(err, ovs.ErrBridgeNotFound) {
		return nil, nil
	}
	var names []string
	for _, a := range list {
		names = append(names, a.HostName)
	}
	return names, err
}
