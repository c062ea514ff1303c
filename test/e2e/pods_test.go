package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/test/harness"
)

// Two pods of the default subnet on one node get the addresses the
// controller recorded, reach each other with ping, TCP and UDP, and the
// node reaches them through ovn0.
func TestPodsOnOneNode(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	a := rt.AddPod(t, e.pod("default", "a", "n1", nil))
	b := rt.AddPod(t, e.pod("default", "b", "n1", nil))

	for _, s := range []*struct{ name, ip string }{{"a", a.IP.String()}, {"b", b.IP.String()}} {
		if !strings.HasPrefix(s.ip, "10.16.") {
			t.Errorf("pod %s got %s, want an address of ovn-default 10.16.0.0/16", s.name, s.ip)
		}
	}
	out, err := a.Exec("ip", "-o", "addr", "show", "dev", "eth0")
	if err != nil || !strings.Contains(out, a.IP.String()+"/16") {
		t.Fatalf("eth0 of a: %v\n%s", err, out)
	}
	ping(t, a, b.IP.String())
	e.serve(b, "--tcp", "80", "--udp", "81")
	for _, proto := range []string{"tcp", "udp"} {
		port := map[string]string{"tcp": "80", "udp": "81"}[proto]
		e.eventually(proto+" a->b", func() error {
			out, err := e.connect(a, proto, b.IP.String()+":"+port)
			if err == nil && !strings.Contains(out, "client="+a.IP.String()) {
				t.Fatalf("%s answer from b names another client: %s", proto, out)
			}
			return err
		})
	}
	e.eventually("node reaches pod through ovn0", func() error {
		_, err := nodeExec(n, "ping", "-c", "1", "-W", "1", b.IP.String())
		return err
	})
	for _, probe := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + n.ProbeAddr + probe)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("daemon %s: %v %v", probe, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	metrics := scrape(t, n.MetricsAddr)
	for _, series := range []string{
		`ovnet_cni_request_duration_seconds_count{command="ADD",result="success"} 2`,
		"ovnet_cni_address_wait_seconds_count 2",
		"ovnet_cni_ovn_install_wait_seconds_count 2",
	} {
		if !strings.Contains(metrics, series) {
			t.Errorf("daemon metrics lack %q", series)
		}
	}
}

// scrape reads a /metrics page.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	body, err := harness.FetchMetrics(addr)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// A namespace with its own subnet and a pod with a fixed address: pods in
// the two subnets reach each other through ovn-cluster, and the fixed
// address is the one on the interface.
func TestPodsAcrossSubnetsAndFixedIP(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	e.namespace("blue", map[string]string{annotation.CIDR: "10.66.0.0/24"})
	blue := rt.AddPod(t, e.pod("blue", "b", "n1", nil))
	fixed := rt.AddPod(t, e.pod("default", "fixed", "n1", map[string]string{annotation.IPAddress: "10.16.0.200"}))
	if !strings.HasPrefix(blue.IP.String(), "10.66.0.") {
		t.Errorf("pod in namespace blue got %s, want an address of 10.66.0.0/24", blue.IP)
	}
	if fixed.IP.String() != "10.16.0.200" {
		t.Errorf("fixed pod got %s, want 10.16.0.200", fixed.IP)
	}
	ping(t, blue, fixed.IP.String())
	ping(t, fixed, blue.IP.String())
	e.eventually("node reaches the namespace subnet through ovn0", func() error {
		_, err := nodeExec(n, "ping", "-c", "1", "-W", "1", blue.IP.String())
		return err
	})
}

// The result is given in every spec version a runtime may ask for.
func TestResultVersions(t *testing.T) {
	e := newEnv(t)
	rt := e.node("n1").Runtime(t)
	for i, version := range []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"} {
		pod := e.pod("default", "v"+string(rune('a'+i)), "n1", nil)
		s := rt.WithVersion(t, version).AddPod(t, pod)
		if s.Result.Version() != version {
			t.Errorf("asked for %s, got a %s result", version, s.Result.Version())
		}
		cur, err := current.NewResultFromResult(s.Result)
		if err != nil || len(cur.IPs) != 1 || cur.IPs[0].Gateway.String() != "10.16.0.1" {
			t.Errorf("%s result: %v, %v", version, cur, err)
		}
	}
}

// Bad requests get CNI errors with the code that says why, and touch nothing.
func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1", "--address-timeout=2s")
	rt := n.Runtime(t)
	pod := e.pod("default", "ok", "n1", nil)

	badName := rt.NewSandbox(t, pod)
	badName.IfName = "eth/0"
	notNetns := rt.NewSandbox(t, pod)
	// Inside the netns directory, so that it passes the path check and is
	// refused when opened.
	file := filepath.Join("/run/netns", harness.UniqueName("notns"))
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(file) })
	missing := rt.NewSandbox(t, e.podObject("default", "nobody"))
	tests := []struct {
		name    string
		sandbox *harness.Sandbox
		netns   string
		code    uint
		msg     string
	}{
		{"interface name", badName, "", types.ErrInvalidEnvironmentVariables, "interface name"},
		{"not a network namespace", notNetns, file, types.ErrInvalidNetNS, "not a network namespace"},
		{"pod never addressed", missing, "", types.ErrTryAgainLater, "timed out waiting for the pod's address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.netns != "" {
				tt.sandbox.NetnsOverride = tt.netns
			}
			err := rt.Add(context.Background(), tt.sandbox)
			var cniErr *types.Error
			if !errors.As(err, &cniErr) || cniErr.Code != tt.code || !strings.Contains(cniErr.Msg, tt.msg) {
				t.Fatalf("ADD = %v, want CNI error %d mentioning %q", err, tt.code, tt.msg)
			}
		})
	}
	badName.IfName = "eth0" // so that DEL in cleanup is a valid request
	if ports := podPorts(t, n); len(ports) != 0 {
		t.Errorf("bad requests left ports on br-int: %v", ports)
	}
	// The good request still works afterwards.
	rt.AddPod(t, pod)
}

// podPorts lists br-int's pod ports.
func podPorts(t *testing.T, n *harness.Node) []string {
	t.Helper()
	var ports []string
	for _, p := range strings.Fields(n.Chassis.Vsctl(t, "list-ports", "br-int")) {
		if strings.HasSuffix(p, "_h") {
			ports = append(ports, p)
		}
	}
	return ports
}

// hostVeths lists the node namespace's pod veths.
func hostVeths(t *testing.T, n *harness.Node) []string {
	t.Helper()
	out, err := nodeExec(n, "ip", "-o", "link", "show", "type", "veth")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			names = append(names, name)
		}
	}
	return names
}

// A running pod follows its subnet: when the gateway moves or the CIDR
// widens, the controller rewrites the pod's record and the daemon gives
// the pod's interface the new prefix and default route, so the pod keeps
// reaching other subnets through the new gateway.
func TestRunningPodFollowsItsSubnet(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	e.namespace("moving", map[string]string{annotation.CIDR: "10.70.0.0/24"})
	p := rt.AddPod(t, e.pod("moving", "p", "n1", nil))
	other := rt.AddPod(t, e.pod("default", "other", "n1", nil))
	ping(t, p, other.IP.String())
	steps := []struct {
		name       string
		key, value string
		// prefix and route are what the pod's eth0 must show.
		prefix, route string
	}{
		{"gateway moves", annotation.Gateway, "10.70.0.254", p.IP.String() + "/24", "default via 10.70.0.254"},
		{"cidr widens", annotation.CIDR, "10.70.0.0/23", p.IP.String() + "/23", "default via 10.70.0.254"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.annotate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "moving"}}, map[string]any{st.key: st.value})
			until(t, "eth0 of moving/p follows the record", func() error {
				addrs, err := p.Exec("ip", "-4", "-o", "addr", "show", "dev", "eth0")
				if err != nil {
					return err
				}
				routes, err := p.Exec("ip", "-4", "route", "show", "default")
				if err != nil {
					return err
				}
				if !strings.Contains(addrs, " "+st.prefix+" ") || strings.Count(addrs, " inet ") != 1 ||
					!strings.Contains(routes, st.route) {
					return fmt.Errorf("addresses %q, default route %q; want %s and %q", addrs, routes, st.prefix, st.route)
				}
				return nil
			})
			e.eventually("moving/p reaches default/other through the new gateway", func() error {
				_, err := p.Exec("ping", "-c", "1", "-W", "1", other.IP.String())
				return err
			})
		})
	}
	// A pod in the widened half reaches the running pod, on-link, and back.
	wide := rt.AddPod(t, e.pod("moving", "wide", "n1", map[string]string{annotation.IPAddress: "10.70.1.10"}))
	ping(t, p, wide.IP.String())
	ping(t, wide, p.IP.String())
}
