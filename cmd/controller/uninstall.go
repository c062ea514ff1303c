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

	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
	"github.com/ovnet/ovnet/pkg/uninstall"
)

// uninstallCommand is the subcommand the chart's post-delete hook runs.
const uninstallCommand = "uninstall"

// uninstallTimeout bounds the clean-up: a few API calls.
const uninstallTimeout = 60 * time.Second

// runUninstall removes what ovnet leaves in the API after Helm deleted its
// objects (pkg/uninstall). Each step is printed; the exit code is 1 when
// one failed, so that the hook Job retries.
func runUninstall(args []string) int {
	fs := flag.NewFlagSet("ovnet-controller "+uninstallCommand, flag.ExitOnError)
	var cl uninstall.Cluster
	fs.StringVar(&cl.LeaderLease.Namespace, "leader-elect-namespace", "kube-system", "namespace of the controller's leader Lease")
	fs.StringVar(&cl.LeaderLease.Name, "leader-elect-id", controller.LeaderElectionID, "name of the controller's leader Lease")
	fs.StringVar(&cl.GatewayLeaseNamespace, "gateway-lease-namespace", gatewayhealth.DefaultNamespace, "namespace of the gateway nodes' heartbeat Leases")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	_ = fs.Parse(args) // ExitOnError
	log := zap.New(zap.UseFlagOptions(&zapOpts))

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
