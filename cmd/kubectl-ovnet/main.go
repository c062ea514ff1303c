// Command kubectl-ovnet is the kubectl plugin `kubectl ovnet`: the
// operator's view of ovnet's network (see pkg/kubectlovnet).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/ovnet/ovnet/pkg/kubectlovnet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o := &kubectlovnet.Options{Stdout: os.Stdout, Stderr: os.Stderr}
	if err := kubectlovnet.Run(ctx, o, os.Args[1:]); err != nil {
		if !kubectlovnet.IsUsage(err) {
			fmt.Fprintln(os.Stderr, "kubectl ovnet:", err)
		}
		os.Exit(1)
	}
}
