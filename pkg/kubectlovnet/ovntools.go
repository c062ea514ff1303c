package kubectlovnet

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// ctlTimeout bounds how long ovn-nbctl/ovn-sbctl wait for the database, so
// an unreachable one fails instead of hanging.
const ctlTimeout = "10"

// runCtl runs tool (ovn-nbctl or ovn-sbctl) with args against the
// cluster's database, its output straight to ours.
func (o *Options) runCtl(ctx context.Context, tool string, args []string) error {
	db, err := o.databaseFor(ctx, tool)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, tool, slices.Concat(db.ctlArgs(), []string{"--timeout=" + ctlTimeout}, args)...)
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s (db %s from %s): %w", tool, db.Remote, db.Source, err)
	}
	return nil
}

// databaseFor finds the database tool talks to, asking the cluster only
// when neither flag nor environment names it.
func (o *Options) databaseFor(ctx context.Context, tool string) (Database, error) {
	flagValue, env, service := o.NB, EnvNB, serviceNB
	if tool == "ovn-sbctl" {
		flagValue, env, service = o.SB, EnvSB, serviceSB
	}
	if flagValue != "" || o.getenv(env) != "" {
		return o.database(ctx, nil, flagValue, env, service)
	}
	c, err := o.Client()
	if err != nil {
		return Database{}, err
	}
	return o.database(ctx, c, flagValue, env, service)
}

// ctlOutput runs tool against db and returns its standard output.
func ctlOutput(ctx context.Context, tool string, db Database, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, tool, slices.Concat(db.ctlArgs(), []string{"--timeout=" + ctlTimeout}, args)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// listRows runs `list TABLE` with the columns as bare CSV, one []string per row.
func listRows(ctx context.Context, tool string, db Database, table string, columns ...string) ([][]string, error) {
	out, err := ctlOutput(ctx, tool, db, "--format=csv", "--data=bare", "--no-headings",
		"--columns="+strings.Join(columns, ","), "list", table)
	if err != nil {
		return nil, err
	}
	return parseCSV(out)
}
