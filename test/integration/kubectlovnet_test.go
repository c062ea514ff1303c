package integration

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/kubectlovnet"
	"github.com/ovnet/ovnet/test/harness"
)

// kubectlOvnet is the plugin binary run against one test's cluster.
type kubectlOvnet struct {
	bin, kubeconfig string
	env             []string
}

// run runs the plugin and returns its output; the test fails if it fails.
func (k kubectlOvnet) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := k.tryRun(args...)
	if err != nil {
		t.Fatalf("kubectl ovnet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (k kubectlOvnet) tryRun(args ...string) (string, error) {
	cmd := exec.Command(k.bin, append([]string{"--kubeconfig=" + k.kubeconfig}, args...)...)
	cmd.Env = append(withoutOVNetEnv(os.Environ()), k.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func withoutOVNetEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "OVNET_NB=") && !strings.HasPrefix(kv, "OVNET_SB=") {
			out = append(out, kv)
		}
	}
	return out
}

// TestKubectlOvnet runs `kubectl ovnet` subnets, nbctl, sbctl and diagnose
// against a cluster with a refused subnet, a waiting pod, a node whose
// chassis is registered and one whose is not.
func TestKubectlOvnet(t *testing.T) {
	e := newEnv(t)
	sb := harness.StartSouthbound(t)
	k := kubectlOvnet{bin: harness.Build(t, "./cmd/kubectl-ovnet", "kubectl-ovnet"), kubeconfig: e.api.Kubeconfig}

	e.namespace("team-a", map[string]string{annotation.CIDR: "10.70.0.0/24"})
	e.condition("team-a", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	e.addressed(e.pod("team-a", "web", nil).Namespace, "web")
	e.namespace("broken", map[string]string{annotation.CIDR: "10.71.0.0/33"})
	e.condition("broken", ovnetv1.ConditionValidated, metav1.ConditionFalse, ovnetv1.ReasonInvalidSpec)
	e.pod("team-a", "stuck", map[string]string{annotation.IPAddress: "10.99.0.7"})
	e.gatewayNode("n1", "172.18.0.1")
	e.gatewayNode("n2", "172.18.0.2")
	sbctl(t, sb, "chassis-add", "n1", "geneve", "172.18.0.1")
	sbctl(t, sb, "set", "Chassis", "n1", "hostname=n1")

	t.Run("subnets", func(t *testing.T) {
		e.eventually("subnets table", func() error {
			out := k.run(t, "subnets")
			t.Logf("kubectl ovnet subnets:\n%s", out)
			for _, row := range []string{
				`(?m)^NAME\s+CIDR\s+GATEWAY\s+EGRESS\s+NAT\s+USED\s+AVAILABLE\s+CONDITIONS$`,
				`(?m)^team-a\s+10.70.0.0/24\s+10.70.0.1\s+distributed\s+on\s+1\s+\d+\s+AddressesPending\(PodsWaiting\)$`,
				`(?m)^broken\s+10.71.0.0/33\s+-\s+distributed\s+on\s+0\s+0\s+Validated=False\(InvalidSpec\) Ready=False\(InvalidSpec\)`,
				`(?m)^ovn-default\s+10.16.0.0/16\s+10.16.0.1\s+distributed\s+on\s+0\s+65533\s+ok$`,
			} {
				if !regexp.MustCompile(row).MatchString(out) {
					return fmt.Errorf("no row matching %q in:\n%s", row, out)
				}
			}
			return nil
		})
	})

	t.Run("nbctl from flag", func(t *testing.T) {
		out := k.run(t, "--nb="+e.nb.Endpoint, "nbctl", "ls-list")
		for _, ls := range []string{"(ovn-default)", "(team-a)", "(join)"} {
			if !strings.Contains(out, ls) {
				t.Errorf("ls-list has no %s:\n%s", ls, out)
			}
		}
	})

	t.Run("sbctl from environment", func(t *testing.T) {
		k := k
		k.env = []string{"OVNET_SB=" + sb.Endpoint}
		if out := k.run(t, "sbctl", "--bare", "--columns=hostname", "list", "Chassis"); strings.TrimSpace(out) != "n1" {
			t.Errorf("chassis hostnames %q, want n1", out)
		}
	})

	t.Run("databases from the chart's Services", func(t *testing.T) {
		// An EndpointSlice may not hold a loopback address, and nothing may
		// be sent beyond it, so this checks what is found, not a connection.
		// Three members of a Raft cluster: every one is given, so that
		// ovn-nbctl finds the leader among them.
		e.chartService("ovn-nb", 6641, "10.0.0.3", "10.0.0.2", "10.0.0.4")
		e.chartService("ovn-sb", 6642)
		o := &kubectlovnet.Options{Getenv: func(string) string { return "" }}
		nb, sb, err := o.Databases(e.ctx, e.c)
		if err != nil {
			t.Fatal(err)
		}
		if want := (kubectlovnet.Database{Remote: "tcp:10.0.0.2:6641,tcp:10.0.0.3:6641,tcp:10.0.0.4:6641", Source: "service kube-system/ovn-nb endpoints"}); nb != want {
			t.Errorf("NB %+v, want %+v", nb, want)
		}
		var svc corev1.Service
		if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: metav1.NamespaceSystem, Name: "ovn-sb"}, &svc); err != nil {
			t.Fatal(err)
		}
		if want := (kubectlovnet.Database{Remote: "tcp:" + svc.Spec.ClusterIP + ":6642", Source: "service kube-system/ovn-sb"}); sb != want {
			t.Errorf("SB without endpoints %+v, want its ClusterIP %+v", sb, want)
		}
		o.NB = e.nb.Endpoint
		if nb, _, _ := o.Databases(e.ctx, e.c); nb.Source != "flag" {
			t.Errorf("with --nb, NB from %q, want flag", nb.Source)
		}
		e.deleteChartServices()
	})

	t.Run("no database found", func(t *testing.T) {
		out, err := k.tryRun("sbctl", "show")
		if err == nil || !strings.Contains(out, "--sb or $OVNET_SB") {
			t.Errorf("sbctl without an SB address: err %v, output:\n%s", err, out)
		}
	})

	t.Run("diagnose", func(t *testing.T) {
		k := k
		k.env = []string{"OVNET_NB=" + e.nb.Endpoint, "OVNET_SB=" + sb.Endpoint}
		out := k.run(t, "diagnose")
		t.Logf("kubectl ovnet diagnose:\n%s", out)
		for _, want := range []string{
			`(?m)^ok  northbound unix:\S+ \(\$OVNET_NB\): \d+ logical switches$`,
			`(?m)^ok  southbound unix:\S+ \(\$OVNET_SB\): 1 chassis$`,
			`(?m)^!!  n1: not Ready; ovn0 100\.64\.\S+; chassis n1$`,
			`(?m)^!!  n2: not Ready; no chassis in SB`,
			`(?m)^!!  broken 10.71.0.0/33: Validated=False InvalidSpec: `,
			`(?m)^!!  team-a 10.70.0.0/24: AddressesPending: .*team-a/stuck`,
			`(?m)^ok  ovn-default 10.16.0.0/16: egress distributed, 0 used, 65533 available$`,
			`(?m)^!!  team-a/stuck\s+node -\s+since `,
		} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("diagnose has no line matching %q:\n%s", want, out)
			}
		}
	})
}

func sbctl(t *testing.T, sb *harness.OVSDB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ovn-sbctl", append([]string{"--db=" + sb.Endpoint}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ovn-sbctl %v: %v\n%s", args, err, out)
	}
}

// chartService creates the chart's Service of that name in kube-system,
// with a ready endpoint at ip:port (OVN central on the host network)
// unless ip is empty.
func (e *env) chartService(name string, port int, ips ...string) {
	e.t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: name},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "ovsdb", Port: int32(port), Protocol: corev1.ProtocolTCP}}},
	}
	if err := e.c.Create(e.ctx, svc); err != nil {
		e.t.Fatal(err)
	}
	if len(ips) == 0 {
		return
	}
	ready := true
	var endpoints []discoveryv1.Endpoint
	for _, ip := range ips {
		endpoints = append(endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: name + "-1",
			Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   endpoints,
	}
	if err := e.c.Create(e.ctx, slice); err != nil {
		e.t.Fatal(err)
	}
}

// deleteChartServices removes what chartService made, so later subtests
// find the databases by flag or environment only.
func (e *env) deleteChartServices() {
	e.t.Helper()
	for _, name := range []string{"ovn-nb", "ovn-sb"} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: name}}
		if err := e.c.Delete(e.ctx, svc); err != nil {
			e.t.Fatal(err)
		}
	}
}
