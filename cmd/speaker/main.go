// Command ovnet-speaker announces, over BGP, the Subnets, pods and
// Services annotated ovn.kubernetes.io/bgp=true, with its node's address
// as next hop (pkg/speaker).
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ovnet/ovnet/pkg/memlimit"
	"github.com/ovnet/ovnet/pkg/speaker"
)

func main() { os.Exit(run()) }

// run announces until SIGTERM and returns the exit code: 2 for a
// configuration refused at start, 1 for a failure later.
func run() int {
	configPath := flag.String("config", "/etc/ovnet/speaker.yaml", "speaker configuration: localAS and peers (see the README's BGP section)")
	nodeName := flag.String("node-name", os.Getenv("NODE_NAME"), "Kubernetes node this speaker runs on (env NODE_NAME; default the host name)")
	nodeIP := flag.String("node-ip", os.Getenv("NODE_IP"), "the node's IPv4 address (router ID, next hop of IPv4 routes) and optionally, after a comma, its IPv6 address (next hop of IPv6 routes) (env NODE_IP)")
	warnAfter := flag.Duration("session-warning-after", speaker.DefaultSessionWarningAfter, "how long a BGP session may stay down before a Warning Event on the node")
	metricsAddr := flag.String("metrics-address", ":10667", "address of /metrics; 0 disables")
	probeAddr := flag.String("health-probe-address", ":10668", "address of /healthz; 0 disables")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	log := zap.New(zap.UseFlagOptions(&zapOpts))
	ctrl.SetLogger(log)
	memlimit.Apply(log.WithName("memlimit"), memlimit.Host)
	if *nodeName == "" {
		*nodeName, _ = os.Hostname()
	}
	cfg, err := speaker.LoadConfig(*configPath)
	if err != nil {
		log.Error(err, "cannot start")
		return 2
	}
	hops, err := speaker.ParseNextHops(*nodeIP)
	if err != nil {
		log.Error(err, "cannot start: --node-ip (env NODE_IP) must be the node's IPv4 address, and optionally its IPv6 one")
		return 2
	}
	if *warnAfter <= 0 {
		log.Error(nil, "cannot start: --session-warning-after must be positive", "value", *warnAfter)
		return 2
	}
	opts := speaker.Options{Config: cfg, NodeName: *nodeName, NextHops: hops, SessionWarningAfter: *warnAfter,
		REST: ctrl.GetConfigOrDie(), Logger: log, MetricsAddr: *metricsAddr, ProbeAddr: *probeAddr}
	if err := speaker.Run(ctrl.SetupSignalHandler(), opts); err != nil {
		log.Error(err, "speaker stopped")
		return 1
	}
	return 0
}
