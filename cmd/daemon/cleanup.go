package main

import (
	"context"
	"flag"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/pkg/daemon"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
	"github.com/ovnet/ovnet/pkg/daemon/uninstall"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// cleanupCommand is the subcommand that removes ovnet from the node.
const cleanupCommand = "cleanup"

// cleanupTimeout bounds the whole clean-up, ovn-controller's exit included.
const cleanupTimeout = 60 * time.Second

// cleanup removes everything ovnet put on this node, as the daemon does
// on exit when its DaemonSet is gone; for an operator, or a hook Job, on
// a node whose daemon did not. ovn-controller must be stopped (it would
// recreate br-int). Each step is printed; the exit code is 1 when one
// failed.
func cleanup(args []string) int {
	fs := flag.NewFlagSet("ovnet-daemon "+cleanupCommand, flag.ExitOnError)
	var cfg uninstall.Config
	ovsdb := fs.String("ovs-db", "unix:/var/run/openvswitch/db.sock", "Open_vSwitch database endpoint")
	netnsPath := fs.String("netns", "", "network namespace of br-int and ovn0 (default: this process's own)")
	fs.StringVar(&cfg.Bridge, "bridge", daemon.DefaultBridge, "integration bridge to delete")
	fs.StringVar(&cfg.Socket, "socket", cni.DefaultSocket, "the daemon's CNI socket to remove (and its directory, when empty)")
	fs.StringVar(&cfg.CNIBinDir, "cni-bin-dir", daemon.DefaultCNIBinDir, "directory the plugin was installed into")
	fs.StringVar(&cfg.CNIConfDir, "cni-conf-dir", daemon.DefaultConfDir, "directory of "+daemon.ConflistName)
	fs.StringVar(&cfg.OVNRundir, "ovn-rundir", "/var/run/ovn", "ovn-controller's run directory: the clean-up waits for it to stop; empty skips the wait")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	_ = fs.Parse(args) // ExitOnError
	log := zap.New(zap.UseFlagOptions(&zapOpts))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	netns, err := nslink.Open(*netnsPath)
	if err != nil {
		log.Error(err, "cannot clean up")
		return 2
	}
	defer netns.Close()
	client, err := ovs.Connect(ctx, ovs.Config{Endpoint: *ovsdb, Logger: log})
	if err != nil {
		log.Error(err, "cannot clean up")
		return 2
	}
	defer client.Close()
	steps, err := uninstall.New(cfg, client, netns, log).Clean(ctx)
	for _, s := range steps {
		fmt.Println(stepLine(s))
	}
	if err != nil {
		return 1
	}
	return 0
}

// stepLine is one step as printed: "ok   name (note)" or "FAIL name: error".
func stepLine(s uninstall.Step) string {
	if s.Err != nil {
		return fmt.Sprintf("FAIL %s: %v", s.Name, s.Err)
	}
	if s.Note != "" {
		return fmt.Sprintf("ok   %s (%s)", s.Name, s.Note)
	}
	return "ok   " + s.Name
}
