// Command ovnet-daemon is the per-node agent: it serves the ovnet CNI
// plugin on a unix socket and wires pods into Open vSwitch.
package main

import (
	"context"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/pkg/daemon"
	"github.com/ovnet/ovnet/pkg/daemon/cniserver"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
	"github.com/ovnet/ovnet/pkg/memlimit"
	"github.com/ovnet/ovnet/pkg/ovs"
	"github.com/ovnet/ovnet/pkg/servicecidr"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == cleanupCommand {
		os.Exit(cleanup(os.Args[2:]))
	}
	os.Exit(serve())
}

// serve runs the daemon until SIGTERM and returns the exit code.
func serve() int {
	var opts daemon.Options
	cfg := &opts.Config
	hostname, _ := os.Hostname()
	flag.StringVar(&cfg.NodeName, "node-name", envOr("NODE_NAME", hostname), "Kubernetes node this daemon serves (env NODE_NAME)")
	flag.StringVar(&cfg.OVSDB, "ovs-db", "unix:/var/run/openvswitch/db.sock", "Open_vSwitch database endpoint")
	flag.StringVar(&cfg.Socket, "socket", cni.DefaultSocket, "unix socket the CNI plugin posts to")
	flag.StringVar(&cfg.DatapathType, "datapath-type", ovs.DatapathSystem, "br-int's datapath: system (kernel module) or netdev (userspace)")
	flag.StringVar(&cfg.NetNS, "netns", "", "network namespace of br-int, ovn0 and the pods' host interfaces (default: the daemon's own)")
	flag.StringVar(&cfg.Bridge, "bridge", daemon.DefaultBridge, "integration bridge")
	flag.IntVar(&cfg.MTU, "mtu", 0, "MTU of overlay pod interfaces and ovn0 (default: the uplink's MTU less the tunnel's overhead, see --encap-type); underlay pods take the uplink's")
	flag.BoolVar(&cfg.EnableMirror, "enable-mirror", false, "mirror all pod traffic to mirror0 (otherwise only pods annotated ovn.kubernetes.io/mirror=true)")
	flag.StringVar(&cfg.PluginBinary, "cni-plugin", defaultPlugin(), "CNI plugin binary to install; empty installs nothing")
	flag.StringVar(&cfg.CNIBinDir, "cni-bin-dir", daemon.DefaultCNIBinDir, "directory the plugin is installed into")
	flag.StringVar(&cfg.CNIConfDir, "cni-conf-dir", daemon.DefaultConfDir, "directory "+daemon.ConflistName+" is written to")
	flag.StringVar(&cfg.OVNRemote, "ovn-remote", "", "OVN southbound database; when set, the daemon writes the Open_vSwitch external_ids OVN needs")
	flag.StringVar(&cfg.OVNTLS.CACert, "ovn-ca-cert", "", "CA certificate (PEM) of an ssl: --ovn-remote, written with --ovn-cert and --ovn-private-key into the Open_vSwitch SSL row ovn-controller reads (paths as ovn-controller sees them)")
	flag.StringVar(&cfg.OVNTLS.Certificate, "ovn-cert", "", "certificate (PEM) ovn-controller presents to an ssl: --ovn-remote")
	flag.StringVar(&cfg.OVNTLS.PrivateKey, "ovn-private-key", "", "private key (PEM) of --ovn-cert")
	flag.StringVar(&cfg.EncapType, "encap-type", ovs.EncapGeneve, "tunnel between nodes, geneve or vxlan: written as ovn-encap-type with --ovn-remote, and the pod MTU leaves room for it (100 bytes for Geneve, 50 for VXLAN, 70 over IPv6)")
	flag.StringVar(&cfg.EncapIP, "encap-ip", os.Getenv("POD_IP"), "tunnel endpoint address of this node (with --ovn-remote; env POD_IP)")
	encapInterface := flag.String("encap-interface", "", "take the tunnel endpoint address from this interface, waiting until it has one (overrides --encap-ip; the userspace datapath's tunnel bridge)")
	encapWait := flag.Duration("encap-interface-timeout", 2*time.Minute, "how long to wait for --encap-interface's address")
	cfg.ServiceCIDRs = []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}
	flag.Func("service-cidr", "Service CIDRs, comma-separated, at most one per family (kube-apiserver --service-cluster-ip-range; default 10.96.0.0/12), "+
		"each of the join network's family routed through ovn0 so the node reaches ClusterIPs; empty routes none", func(s string) error {
		var err error
		cfg.ServiceCIDRs, err = servicecidr.Parse(s)
		return err
	})
	flag.StringVar(&cfg.OVNRundir, "ovn-rundir", "/var/run/ovn", "ovn-controller's run directory (pidfile, control socket): checked on gateway nodes, and waited on to stop before an uninstall deletes br-int; empty skips both")
	flag.StringVar(&cfg.GatewayLeaseNamespace, "gateway-lease-namespace", gatewayhealth.DefaultNamespace, "namespace of the gateway heartbeat Leases (the controller's --gateway-lease-namespace)")
	flag.StringVar(&cfg.PodName, "pod-name", os.Getenv("POD_NAME"), "the daemon's own Pod (env POD_NAME): on exit the node is cleaned when that Pod's DaemonSet is gone; empty never cleans")
	flag.StringVar(&cfg.PodNamespace, "pod-namespace", os.Getenv("POD_NAMESPACE"), "namespace of --pod-name (env POD_NAMESPACE)")
	flag.StringVar(&cfg.OVSHandshakeDir, "ovs-handshake-dir", "", "directory shared with the Open vSwitch container: the daemon holds a shared flock on it while it runs, marks it while it stops, and marks it uninstalled once it cleaned the node, so that container waits for the clean-up and removes its database (the chart's /run/openvswitch); empty: none")
	flag.Func("netns-dirs", "comma-separated directories the container runtime pins pod network namespaces in; a CNI netns path elsewhere is refused (default "+
		strings.Join(cniserver.DefaultNetnsDirs, ",")+"; /proc/<pid>/ns/net is always accepted)", func(s string) error {
		cfg.NetnsDirs = strings.Split(s, ",")
		return nil
	})
	flag.Func("ipfix-targets", "comma-separated IPFIX collectors (IP:port, UDP) that br-int exports flow records to; empty exports none", func(s string) error {
		cfg.IPFIX.Targets = splitList(s)
		return nil
	})
	flag.IntVar(&cfg.IPFIX.Sampling, "ipfix-sampling", defaultIPFIXSampling, "with --ipfix-targets, sample one packet in this many (1: every packet)")
	flag.IntVar(&cfg.IPFIX.CacheActiveTimeout, "ipfix-cache-active-timeout", defaultIPFIXActiveTimeout,
		"with --ipfix-targets, seconds a flow's packets are aggregated into one record before it is sent (0: one record per sampled packet)")
	flag.IntVar(&cfg.IPFIX.CacheMaxFlows, "ipfix-cache-max-flows", 0, "with --ipfix-targets, at most this many flows aggregated at once (0: no bound)")
	flag.BoolVar(&cfg.IPFIXPodNames, "ipfix-pod-names", false, "with --ipfix-targets, br-int exports to the daemon's IPFIX mediator on 127.0.0.1:--ipfix-mediator-port, "+
		"which exports the records to the targets with the source and destination pods' namespace, name and node added (every pod of the cluster is watched)")
	flag.IntVar(&cfg.IPFIXMediatorPort, "ipfix-mediator-port", daemon.DefaultIPFIXMediatorPort, "with --ipfix-pod-names, the UDP port on the node's 127.0.0.1 the mediator receives br-int's records on")
	flag.Func("sflow-targets", "comma-separated sFlow collectors (IP:port, UDP) that br-int sends packet samples and port counters to; empty sends none", func(s string) error {
		cfg.SFlow.Targets = splitList(s)
		return nil
	})
	flag.IntVar(&cfg.SFlow.Sampling, "sflow-sampling", defaultSFlowSampling, "with --sflow-targets, sample one packet in this many (1: every packet)")
	flag.IntVar(&cfg.SFlow.Polling, "sflow-polling", defaultSFlowPolling, "with --sflow-targets, seconds between two sends of every port's counters")
	flag.IntVar(&cfg.SFlow.Header, "sflow-header", defaultSFlowHeader, "with --sflow-targets, bytes of a sampled packet sent to the collectors")
	flag.StringVar(&cfg.SFlow.Agent, "sflow-agent", "",
		"with --sflow-targets, the interface whose address (or the address) samples name as their agent (default: the address ovs-vswitchd reaches the first target from)")
	flag.DurationVar(&cfg.AddressTimeout, "address-timeout", daemon.DefaultAddressTimeout, "how long ADD waits for the pod's address")
	flag.DurationVar(&cfg.OVNTimeout, "ovn-timeout", daemon.DefaultOVNTimeout, "how long ADD waits for ovn-controller to install the port")
	flag.StringVar(&opts.MetricsAddr, "metrics-address", ":10665", "address of /metrics; 0 disables")
	flag.StringVar(&opts.ProbeAddr, "health-probe-address", ":10666", "address of /healthz and /readyz; 0 disables")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	log := zap.New(zap.UseFlagOptions(&zapOpts))
	ctrl.SetLogger(log)
	memlimit.Apply(log.WithName("memlimit"), memlimit.Host)
	opts.Logger = log
	// Refused before anything else is read or waited for (the wait for
	// --encap-interface can be long).
	if err := ovs.CheckEncapType(cfg.EncapType); err != nil {
		log.Error(err, "cannot start")
		return 2
	}
	if err := cfg.CheckFlowExport(); err != nil {
		log.Error(err, "cannot start")
		return 2
	}
	opts.REST = ctrl.GetConfigOrDie()
	if *encapInterface != "" {
		ctx, cancel := context.WithTimeout(context.Background(), *encapWait)
		addr, err := daemon.EncapAddress(ctx, *encapInterface)
		cancel()
		if err != nil {
			log.Error(err, "cannot start")
			os.Exit(2)
		}
		cfg.EncapIP = addr.String()
		log.Info("tunnel endpoint", "interface", *encapInterface, "address", cfg.EncapIP)
	}
	d, err := daemon.New(opts)
	if err != nil {
		log.Error(err, "cannot start")
		return 2
	}
	if err := d.Run(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "daemon stopped")
		return 1
	}
	return 0
}

// IPFIX defaults: OVS's own sampling, and records of long flows sent once
// a minute, as collectors of NetFlow-style exporters expect.
const (
	defaultIPFIXSampling      = 400
	defaultIPFIXActiveTimeout = 60
)

// sFlow defaults: Open vSwitch's own, written out so that the row says
// what runs.
const (
	defaultSFlowSampling = 400
	defaultSFlowPolling  = 30
	defaultSFlowHeader   = 128
)

// splitList splits a comma-separated flag, dropping empty items.
func splitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// defaultPlugin is the plugin binary shipped beside the daemon's.
func defaultPlugin() string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(self), cni.PluginType)
}
