package integration

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// waitTimeout bounds every wait for the controller to converge; it only
// catches a controller that never does.
const waitTimeout = 30 * time.Second

// env is one test's cluster: API server, northbound database, controller.
type env struct {
	t    *testing.T
	ctx  context.Context
	api  *harness.APIServer
	nb   *harness.OVSDB
	view *harness.NBView
	c    client.Client
	ctrl *harness.Controller
	// timeout bounds each wait; zero means waitTimeout.
	timeout time.Duration
	// network configures the controllers the env starts, by default
	// harness.DefaultNetwork().
	network controller.Config
}

// newEnv starts the real parts and an in-process controller.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, harness.DefaultNetwork())
}

// newEnvWith is newEnv with the controller configured by network.
func newEnvWith(t *testing.T, network controller.Config) *env {
	t.Helper()
	e := newParts(t)
	e.network = network
	e.ctrl = harness.StartController(t, e.api, e.nb, network)
	return e
}

// newParts starts the API server and the northbound database, with a
// client and a view of each, but no controller: tests that run the
// controller binary start it themselves.
func newParts(t *testing.T) *env {
	t.Helper()
	return newPartsWith(t, harness.APIServerOptions{})
}

// newPartsWith is newParts with an API server started with opts.
func newPartsWith(t *testing.T, opts harness.APIServerOptions) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), network: harness.DefaultNetwork()}
	e.api = harness.StartAPIServer(t, opts)
	e.nb = harness.StartNorthbound(t)
	e.view = harness.WatchNorthbound(t, e.nb.Endpoint)
	c, err := client.New(e.api.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return e
}

// restartController stops the controller and starts a new one.
func (e *env) restartController() {
	e.t.Helper()
	e.ctrl.Stop(e.t)
	e.ctrl = harness.StartController(e.t, e.api, e.nb, e.network)
}

// restartWritesNothing restarts the controller once the last writes have
// landed and fails the test if the new one changes any northbound row.
func (e *env) restartWritesNothing() {
	e.t.Helper()
	e.ctrl.Stop(e.t)
	time.Sleep(settle) // let the last status and annotation writes land before counting
	e.view.ResetChanges()
	e.ctrl = harness.StartController(e.t, e.api, e.nb, e.network)
	time.Sleep(settle)
	if n := e.view.Changes(); n != 0 {
		e.t.Errorf("restart with nothing changed made %d northbound row changes, want 0", n)
	}
}

// eventually retries check until it returns nil or the env's timeout passes.
func (e *env) eventually(what string, check func() error) {
	e.t.Helper()
	timeout := e.timeout
	if timeout == 0 {
		timeout = waitTimeout
	}
	wait.For(e.t, timeout, what, check)
}

func (e *env) namespace(name string, annotations map[string]string) *corev1.Namespace {
	e.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	if err := e.c.Create(e.ctx, ns); err != nil {
		e.t.Fatalf("create namespace %s: %v", name, err)
	}
	return ns
}

// annotateNamespace sets (or, for an empty value, removes) annotations of
// a namespace with one patch.
func (e *env) annotateNamespace(name string, annotations map[string]string) {
	e.t.Helper()
	ns := &corev1.Namespace{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Name: name}, ns); err != nil {
		e.t.Fatal(err)
	}
	patch := client.MergeFrom(ns.DeepCopy())
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	for k, v := range annotations {
		if v == "" {
			delete(ns.Annotations, k)
		} else {
			ns.Annotations[k] = v
		}
	}
	if err := e.c.Patch(e.ctx, ns, patch); err != nil {
		e.t.Fatalf("annotate namespace %s: %v", name, err)
	}
}

func newPod(namespace, name string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Annotations: annotations},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause"}}},
	}
}

func (e *env) pod(namespace, name string, annotations map[string]string) *corev1.Pod {
	e.t.Helper()
	p := newPod(namespace, name, annotations)
	if err := e.c.Create(e.ctx, p); err != nil {
		e.t.Fatalf("create pod %s/%s: %v", namespace, name, err)
	}
	return p
}

// addressed waits until the pod carries allocated=true and returns it.
func (e *env) addressed(namespace, name string) *corev1.Pod {
	e.t.Helper()
	p := &corev1.Pod{}
	e.eventually("pod "+namespace+"/"+name+" addressed", func() error {
		if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: namespace, Name: name}, p); err != nil {
			return err
		}
		if p.Annotations[annotation.Allocated] != annotation.True {
			return fmt.Errorf("annotations %v", p.Annotations)
		}
		return nil
	})
	return p
}

func podIP(t *testing.T, p *corev1.Pod) netip.Addr {
	t.Helper()
	ip, err := netip.ParseAddr(p.Annotations[annotation.IPAddress])
	if err != nil {
		t.Fatalf("pod %s ip_address %q: %v", p.Name, p.Annotations[annotation.IPAddress], err)
	}
	return ip
}

// checkPort checks that the pod's logical switch port exists on the
// subnet's switch with "MAC IP" (a dual-stack pod's "MAC IPv4 IPv6") as
// addresses and port security.
func (e *env) checkPort(p *corev1.Pod) {
	e.t.Helper()
	name := p.Name + "." + p.Namespace
	want := p.Annotations[annotation.MACAddress] + " " + strings.ReplaceAll(p.Annotations[annotation.IPAddress], ",", " ")
	e.eventually("port "+name, func() error {
		lsp := e.view.SwitchPort(e.t, name)
		if lsp == nil {
			return fmt.Errorf("no logical switch port %s", name)
		}
		if len(lsp.Addresses) != 1 || lsp.Addresses[0] != want {
			return fmt.Errorf("addresses %v, want [%s]", lsp.Addresses, want)
		}
		if len(lsp.PortSecurity) != 1 || lsp.PortSecurity[0] != want {
			return fmt.Errorf("port_security %v, want [%s]", lsp.PortSecurity, want)
		}
		ls := e.view.Switch(e.t, p.Annotations[annotation.LogicalSwitch])
		if ls == nil || !contains(e.view.PortsOf(e.t, ls), name) {
			return fmt.Errorf("port %s not on switch %s", name, p.Annotations[annotation.LogicalSwitch])
		}
		return nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (e *env) subnet(name string) *ovnetv1.Subnet {
	e.t.Helper()
	s := &ovnetv1.Subnet{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Name: name}, s); err != nil {
		e.t.Fatalf("get subnet %s: %v", name, err)
	}
	return s
}

// condition waits until the subnet's condition has the status and, if
// given, the reason, and returns its message.
func (e *env) condition(subnet, condType string, status metav1.ConditionStatus, reason string) string {
	e.t.Helper()
	var msg string
	e.eventually(fmt.Sprintf("subnet %s condition %s=%s", subnet, condType, status), func() error {
		s := &ovnetv1.Subnet{}
		if err := e.c.Get(e.ctx, client.ObjectKey{Name: subnet}, s); err != nil {
			return err
		}
		for _, c := range s.Status.Conditions {
			if c.Type == condType && c.Status == status && (reason == "" || c.Reason == reason) {
				msg = c.Message
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", s.Status.Conditions)
	})
	return msg
}

// event waits for a Warning Event about the object whose reason matches
// and whose note contains substr, and returns the note.
func (e *env) event(kind, namespace, name, reason, substr string) string {
	e.t.Helper()
	var note string
	e.eventually(fmt.Sprintf("event %s on %s %s/%s", reason, kind, namespace, name), func() error {
		var list eventsv1.EventList
		if err := e.c.List(e.ctx, &list); err != nil {
			return err
		}
		var seen []string
		for _, ev := range list.Items {
			if ev.Regarding.Kind != kind || ev.Regarding.Name != name || ev.Regarding.Namespace != namespace {
				continue
			}
			seen = append(seen, ev.Reason+": "+ev.Note)
			if ev.Type == corev1.EventTypeWarning && ev.Reason == reason && strings.Contains(ev.Note, substr) {
				note = ev.Note
				return nil
			}
		}
		return fmt.Errorf("events seen: %q", seen)
	})
	return note
}

func (e *env) deletePod(namespace, name string) {
	e.t.Helper()
	p := newPod(namespace, name, nil)
	if err := e.c.Delete(e.ctx, p, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
		e.t.Fatalf("delete pod %s/%s: %v", namespace, name, err)
	}
}

func stringsContains(s, sub string) bool { return strings.Contains(s, sub) }
