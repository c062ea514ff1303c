package ovs_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/ovs"
	"github.com/ovnet/ovnet/test/harness/ovsdbserver"
	"github.com/ovnet/ovnet/test/harness/wait"
)

const installHint = "install Open vSwitch: apt-get install openvswitch-switch"

// server is an ovsdb-server serving a fresh Open_vSwitch database, as a
// child of the test.
type server struct {
	dir      string
	socket   string
	endpoint string
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (%v): %s", name, err, installHint)
	}
	return path
}

// startServer serves a new Open_vSwitch database and runs ovs-vsctl init
// so the Open_vSwitch row exists, as the packaged service does.
func startServer(t *testing.T) *server {
	t.Helper()
	lookPath(t, "ovs-vsctl")
	db := ovsdbserver.Start(t, ovsdbserver.Options{Schema: ovsdbserver.OpenvSwitchSchema})
	s := &server{dir: filepath.Dir(db.Socket), socket: db.Socket, endpoint: db.Endpoint}
	s.vsctl(t, "init")
	return s
}

func waitForFile(t *testing.T, path string) {
	t.Helper()
	wait.For(t, 5*time.Second, path+" appears", func() error {
		_, err := os.Stat(path)
		return err
	})
}

// vsctl runs ovs-vsctl against the server, as a user would, and returns
// its trimmed output.
func (s *server) vsctl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.tryVsctl(args...)
	if err != nil {
		t.Fatalf("ovs-vsctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *server) tryVsctl(args ...string) (string, error) {
	argv := append([]string{"--db=" + s.endpoint, "--no-wait", "--timeout=10"}, args...)
	out, err := exec.Command("ovs-vsctl", argv...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// fixture is a client connected to its own server, with the registry
// its metrics go to.
type fixture struct {
	*server
	client  *ovs.Client
	metrics *prometheus.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := startServer(t)
	reg := prometheus.NewRegistry()
	c, err := ovs.Connect(context.Background(), ovs.Config{Endpoint: s.endpoint, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &fixture{server: s, client: c, metrics: reg}
}

// transactions counts the transactions the client has sent, from its
// duration histogram.
func (f *fixture) transactions(t *testing.T) uint64 {
	t.Helper()
	families, err := f.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() == "ovnet_ovs_transaction_duration_seconds" {
			return fam.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no ovnet_ovs_transaction_duration_seconds metric")
	return 0
}

// step runs do and checks it sent exactly want transactions.
func (f *fixture) step(t *testing.T, want uint64, do func() error) {
	t.Helper()
	before := f.transactions(t)
	if err := do(); err != nil {
		t.Fatal(err)
	}
	if got := f.transactions(t) - before; got != want {
		t.Fatalf("sent %d transactions, want %d", got, want)
	}
}

func testContext(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}
