package integration

import (
	"syscall"
	"testing"
	"time"

	"github.com/ovnet/ovnet/pkg/controller"
)

// hungTimeout bounds the wait for a pod's Event while NB hangs: shorter
// than the NB client's transaction timeout (30 s), so that only a
// transaction ended by the controller's verdict on the connection, not by
// its timeout, passes.
const hungTimeout = 20 * time.Second

// A pod whose port transaction is in flight when NB stops answering (the
// server frozen: the connection stays up, nothing answers) is told so
// on the pod as soon as the controller declares NB lost, instead of
// waiting out the transaction's timeout, and is addressed, with one port,
// once NB answers again; meanwhile /readyz says NB is not there.
func TestNorthboundHungTransactionGivesUp(t *testing.T) {
	e := newEnv(t)
	e.pod("default", "before", nil)
	e.checkPort(e.addressed("default", "before"))

	signal := func(sig syscall.Signal) {
		if err := syscall.Kill(e.nb.PID, sig); err != nil {
			t.Fatalf("signal %v to ovsdb-server %d: %v", sig, e.nb.PID, err)
		}
	}
	signal(syscall.SIGSTOP)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			signal(syscall.SIGCONT) // before the server's own cleanup stops it
		}
	})
	e.pod("default", "during", nil)

	e.timeout = hungTimeout
	e.event("Pod", "default", "during", controller.ReasonAddressFailed, "northbound database does not answer")
	if err := e.ctrl.Ready(); err == nil {
		t.Error("/readyz answers ready while NB does not answer")
	}
	e.timeout = 0

	signal(syscall.SIGCONT)
	resumed = true
	e.checkPort(e.addressed("default", "during"))
	e.eventually("/readyz ready again", e.ctrl.Ready)
}
