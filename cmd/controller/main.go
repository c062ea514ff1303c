// Command ovnet-controller is ovnet's cluster-wide controller: IPAM and the
// OVN northbound database for Subnets, Namespaces, Pods and Nodes.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
	"github.com/ovnet/ovnet/pkg/memlimit"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/servicecidr"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == uninstallCommand {
		os.Exit(runUninstall(os.Args[2:]))
	}
	var (
		opts        controller.Options
		nbAddress   string
		serviceCIDR string
		apiQPS      float64
		apiBurst    int
	)
	cfg := &opts.Network
	flag.StringVar(&nbAddress, "nb-address", "tcp:127.0.0.1:6641", "OVN northbound database; comma-separated for a Raft cluster")
	flag.StringVar(&opts.NorthboundTLS.CACert, "nb-ca-cert", "", "CA certificate (PEM) the ssl: northbound server's certificate must chain to")
	flag.StringVar(&opts.NorthboundTLS.Certificate, "nb-cert", "", "certificate (PEM) presented to an ssl: northbound database")
	flag.StringVar(&opts.NorthboundTLS.PrivateKey, "nb-private-key", "", "private key (PEM) of --nb-cert")
	flag.StringVar(&opts.NorthboundServerName, "nb-server-name", "", "name the ssl: northbound server's certificate must carry (default: the chain is checked, no name, as OVN's daemons do)")
	flag.StringVar(&cfg.ClusterRouter, "cluster-router", "ovn-cluster", "logical router every subnet attaches to")
	flag.StringVar(&cfg.DefaultSubnet.Name, "default-subnet", "ovn-default", "name of the default subnet")
	flag.StringVar(&cfg.DefaultSubnet.CIDR, "default-cidr", "10.16.0.0/16", "CIDR of the default subnet")
	flag.StringVar(&cfg.DefaultSubnet.Gateway, "default-gateway", "", "gateway of the default subnet (default: first address)")
	flag.StringVar(&cfg.JoinSubnet.Name, "join-subnet", "join", "name of the subnet that connects nodes")
	flag.StringVar(&cfg.JoinSubnet.CIDR, "join-cidr", "100.64.0.0/16", "CIDR of the join subnet")
	flag.StringVar(&serviceCIDR, "service-cidr", "10.96.0.0/12", "Service CIDRs, comma-separated, at most one per family (kube-apiserver --service-cluster-ip-range); no subnet may overlap them")
	flag.StringVar(&cfg.GatewayLeaseNamespace, "gateway-lease-namespace", gatewayhealth.DefaultNamespace, "namespace of the gateway nodes' heartbeat Leases (the daemons' --gateway-lease-namespace)")
	flag.DurationVar(&cfg.GCInterval, "gc-interval", 5*time.Minute, "period of the garbage collector's sweep (0 disables the periodic sweep)")
	flag.IntVar(&cfg.PodWorkers, "pod-workers", controller.DefaultPodWorkers, "pods reconciled concurrently")
	flag.BoolVar(&opts.LeaderElection, "leader-elect", true, "elect a leader among replicas")
	flag.StringVar(&opts.LeaderElectionNamespace, "leader-elect-namespace", "", "namespace of the leader lease (default: the pod's namespace)")
	flag.DurationVar(&opts.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a lost leader's lease blocks the others")
	flag.StringVar(&opts.MetricsAddr, "metrics-bind-address", ":10660", "address of /metrics; 0 disables")
	flag.StringVar(&opts.ProbeAddr, "health-probe-bind-address", ":10661", "address of /healthz and /readyz; 0 disables")
	flag.Float64Var(&apiQPS, "kube-api-qps", 500, "queries per second to the API server")
	flag.IntVar(&apiBurst, "kube-api-burst", 1000, "burst of queries to the API server")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	memlimit.Apply(ctrl.Log.WithName("memlimit"), memlimit.Host)

	if err := run(&opts, nbAddress, serviceCIDR, apiQPS, apiBurst); err != nil {
		fmt.Fprintln(os.Stderr, "ovnet-controller:", err)
		os.Exit(1)
	}
}

func run(opts *controller.Options, nbAddress, serviceCIDR string, qps float64, burst int) error {
	svc, err := servicecidr.Parse(serviceCIDR)
	if err != nil {
		return fmt.Errorf("--service-cidr: %w", err)
	}
	opts.Network.ServiceCIDRs = svc
	opts.NorthboundEndpoints = ovn.ParseEndpoints(nbAddress)
	restCfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	restCfg.QPS, restCfg.Burst = float32(qps), burst
	return controller.Run(ctrl.SetupSignalHandler(), restCfg, *opts)
}
