package main

import (
	"context"
	"flag"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
	"github.com/ovnet/ovnet/pkg/uninstall"
)

// uninstallCommand is the subcommand the chart's post-delete hook runs.
const uninstallCommand = "uninstall"

// uninstallTimeout bounds the clean-up: a few API calls, and twice
// --node-wait for the nodes.
const uninstallTimeout = 5 * time.Minute

// runUninstall removes what ovnet leaves in the API after Helm deleted its
// objects (pkg/uninstall). Each step is printed; the exit code is 1 when
// one failed, so that the hook Job retries.
func runUninstall(args []string) int {
	fs := flag.NewFlagSet("ovnet-controller "+uninstallCommand, flag.ExitOnError)
	var cl uninstall.Cluster
	fs.StringVar(&cl.LeaderLease.Namespace, "leader-elect-namespace", "kube-system", "namespace of the controller's leader Lease")
	fs.StringVar(&cl.LeaderLease.Name, "leader-elect-id", controller.LeaderElectionID, "name of the controller's leader Lease")
	fs.StringVar(&cl.GatewayLeaseNamespace, "gateway-lease-namespace", gatewayhealth.DefaultNamespace, "namespace of the gateway nodes' heartbeat Leases")
	nodes := uninstall.NodeDirs{}
	var files, empty, secrets string
	fs.StringVar(&nodes.Namespace, "namespace", "kube-system", "namespace of the node clean-up pods (the release's)")
	fs.StringVar(&nodes.Image, "node-image", "", "image of the node clean-up pods (with a shell); empty leaves the nodes' directories")
	fs.StringVar((*string)(&nodes.PullPolicy), "node-image-pull-policy", "", "pull policy of the node clean-up pods (default: Kubernetes')")
	fs.StringVar(&secrets, "node-image-pull-secrets", "", "comma-separated pull secrets of the node clean-up pods")
	fs.StringVar(&files, "node-files", "", "comma-separated host files each node clean-up pod removes")
	fs.StringVar(&empty, "node-empty-dirs", "", "comma-separated host directories each node clean-up pod removes when empty")
	fs.DurationVar(&nodes.Wait, "node-wait", 90*time.Second, "how long to wait for ovnet's pods to go, and then for the node clean-up pods")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	_ = fs.Parse(args) // ExitOnError
	log := zap.New(zap.UseFlagOptions(&zapOpts))
	if nodes.Image != "" {
		nodes.Files, nodes.Empty, nodes.PullSecrets = annotation.SplitList(files), annotation.SplitList(empty), annotation.SplitList(secrets)
		cl.NodeDirs = &nodes
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, uninstallTimeout)
	defer cancel()
	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "cannot clean up")
		return 2
	}
	c, err := client.New(cfg, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		log.Error(err, "cannot clean up")
		return 2
	}
	steps, err := uninstall.Clean(ctx, c, cl, log)
	for _, s := range steps {
		if s.Err != nil {
			fmt.Printf("FAIL %s: %v\n", s.Name, s.Err)
			continue
		}
		fmt.Printf("ok   %s: %s\n", s.Name, s.Done)
	}
	if err != nil {
		return 1
	}
	return 0
}
