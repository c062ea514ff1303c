package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runMainEnv makes the test binary run the daemon's main instead of the
// tests, so a test can start it as a user would, with flags.
const runMainEnv = "OVNET_DAEMON_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// A tunnel type ovnet does not configure is refused at start, naming the
// ones it does, before the daemon reads a kubeconfig or waits for an
// interface.
func TestRefusesUnknownEncapType(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		wantE string
	}{
		{"stt", []string{"--encap-type=stt"}, `encap type \"stt\": want geneve or vxlan`},
		{"upper case", []string{"--encap-type=VXLAN", "--encap-interface=br-phy"}, `encap type \"VXLAN\": want geneve or vxlan`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tt.args...)
			cmd.Env = append(os.Environ(), runMainEnv+"=1", "KUBECONFIG=/nonexistent")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("ovnet-daemon %v: %v, want exit status 2\n%s", tt.args, err, out)
			}
			if !strings.Contains(string(out), tt.wantE) {
				t.Errorf("ovnet-daemon %v said\n%s\nwant %s", tt.args, out, tt.wantE)
			}
		})
	}
}
