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
	tests := []refusal{
		{"stt", []string{"--encap-type=stt"}, `encap type \"stt\": want geneve or vxlan`},
		{"upper case", []string{"--encap-type=VXLAN", "--encap-interface=br-phy"}, `encap type \"VXLAN\": want geneve or vxlan`},
	}
	runRefused(t, tests)
}

// An IPFIX exporter or sFlow agent ovs-vswitchd would not run is refused
// at start, the same way, each fault named.
func TestRefusesBadFlowExport(t *testing.T) {
	tests := []refusal{
		{"host name", []string{"--ipfix-targets=collector.example:4739", "--encap-interface=br-phy"},
			`target \"collector.example:4739\": want IP:port`},
		{"no port", []string{"--ipfix-targets=192.0.2.5"}, `target \"192.0.2.5\": want IP:port`},
		{"sampling 0", []string{"--ipfix-targets=192.0.2.5:4739", "--ipfix-sampling=0"}, "sampling 0: want 1 (every packet)"},
		{"timeout", []string{"--ipfix-targets=192.0.2.5:4739", "--ipfix-cache-active-timeout=9999"}, "cache active timeout 9999 s"},
		{"sFlow host name", []string{"--sflow-targets=collector.example:6343", "--encap-interface=br-phy"},
			`sFlow: target \"collector.example:6343\": want IP:port`},
		{"sFlow polling 0", []string{"--sflow-targets=192.0.2.5:6343", "--sflow-polling=0"}, "polling 0 s: want 1"},
		{"sFlow header", []string{"--sflow-targets=192.0.2.5:6343", "--sflow-header=4096"}, "header 4096 bytes"},
		{"sFlow agent", []string{"--sflow-targets=192.0.2.5:6343", "--sflow-agent=eth0/1"}, `agent \"eth0/1\"`},
		{"pod names without targets", []string{"--ipfix-pod-names"}, "IPFIX pod names: no IPFIX targets to export them to"},
		{"mediator port 0", []string{"--ipfix-targets=192.0.2.5:4739", "--ipfix-pod-names", "--ipfix-mediator-port=0"},
			"IPFIX mediator port 0: want 1 to 65535"},
		{"collector at the mediator's port", []string{"--ipfix-targets=127.0.0.1:10669", "--ipfix-pod-names"},
			"IPFIX target 127.0.0.1:10669: the mediator itself listens on 127.0.0.1:10669 (--ipfix-mediator-port)"},
		{"both refused", []string{"--ipfix-targets=192.0.2.5", "--sflow-targets=192.0.2.5"},
			`IPFIX: target \"192.0.2.5\": want IP:port, as 192.0.2.5:4739 or [2001:db8::5]:4739\nsFlow: target \"192.0.2.5\": want IP:port, as 192.0.2.5:6343`},
	}
	runRefused(t, tests)
}

// refusal is flags the daemon refuses and what it says.
type refusal struct {
	name  string
	args  []string
	wantE string
}

// runRefused starts the daemon with each case's flags and checks it exits
// with status 2 saying wantE.
func runRefused(t *testing.T, tests []refusal) {
	t.Helper()
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
