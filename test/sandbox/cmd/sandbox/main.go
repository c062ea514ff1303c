// Command sandbox runs the local ovnet cluster of `make sandbox`:
//
//	sandbox up        start it (or, when up, rebuild and helm upgrade what changed)
//	sandbox down      stop it and remove its directory (KEEP_LOGS=1 keeps the logs)
//	sandbox status    the supervisor, Subnets, nodes, pods and the OVN northbound
//	sandbox logs [NAME]  the logs' paths and the supervisor's tail, or NAME's logs
//
// Settings come from the environment: SANDBOX_DIR (/tmp/ovnet-sandbox),
// NODES (1), EXAMPLES (1), HELM, KUBEBUILDER_ASSETS; see test/sandbox.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/go-logr/logr"

	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/sandbox"
)

const usage = "usage: sandbox up|down|status|logs [NAME]"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf(usage)
	}
	repo, err := harness.RepoRoot()
	if err != nil {
		return fmt.Errorf("run from the ovnet repository: %w", err)
	}
	cfg, err := sandbox.FromEnv(repo)
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		return sandbox.Up(cfg, os.Stdout)
	case "down":
		return sandbox.Down(cfg, os.Stdout, os.Getenv("KEEP_LOGS") == "1")
	case "status":
		return sandbox.Status(cfg, os.Stdout)
	case "logs":
		name := ""
		if len(args) > 1 {
			name = args[1]
		}
		return sandbox.Logs(cfg, name, os.Stdout)
	case "supervise":
		log := logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil))
		return sandbox.Supervise(cfg, log)
	default:
		return fmt.Errorf("%s: unknown command; %s", args[0], usage)
	}
}
