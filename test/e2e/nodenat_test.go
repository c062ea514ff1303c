package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/daemon/nodenat"
)

// The daemon converges the node's nftables table from the cluster's
// objects, turns forwarding on, and leaves the table in place when it
// stops, so pods keep their egress across a restart.
func TestDaemonNATTable(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "np"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080}}}}
	if err := e.c.Create(e.ctx, svc); err != nil {
		t.Fatal(err)
	}
	ns, err := netns.GetFromName(n.Chassis.NetNS)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	// ovn-default (10.16.0.0/16) is masqueraded; the node port is DNATed.
	want := []string{"element nat-subnets 0a100000", "node port tcp/30080 default/np:http -> cluster"}
	e.eventually("the daemon's nftables table", func() error { return natTableHas(int(ns), want) })
	if out, err := nodeExec(n, "cat", "/proc/sys/net/ipv4/ip_forward"); err != nil || strings.TrimSpace(out) != "1" {
		t.Errorf("ip_forward in the node's namespace: %q %v, want 1", out, err)
	}
	n.StopDaemon(t)
	if err := natTableHas(int(ns), want); err != nil {
		t.Errorf("after the daemon stopped: %v", err)
	}
	n.StartDaemon(t)
}

// natTableHas checks that the table's rule comments and set elements
// include every one of want.
func natTableHas(nsFD int, want []string) error {
	conn, err := nftables.New(nftables.WithNetNSFd(nsFD))
	if err != nil {
		return err
	}
	table := &nftables.Table{Name: nodenat.TableName, Family: nftables.TableFamilyIPv4}
	if _, err := conn.ListTableOfFamily(table.Name, table.Family); errors.Is(err, unix.ENOENT) {
		return errors.New("no table " + table.Name)
	}
	var lines []string
	sets, err := conn.GetSets(table)
	if err != nil {
		return err
	}
	for _, s := range sets {
		elems, err := conn.GetSetElements(s)
		if err != nil {
			return err
		}
		for _, el := range elems {
			lines = append(lines, fmt.Sprintf("element %s %x", s.Name, el.Key))
		}
	}
	chains, err := conn.ListChainsOfTableFamily(table.Family)
	if err != nil {
		return err
	}
	for _, ch := range chains {
		if ch.Table.Name != table.Name {
			continue
		}
		rules, err := conn.GetRules(table, ch)
		if err != nil {
			return err
		}
		for _, r := range rules {
			lines = append(lines, string(r.UserData))
		}
	}
	all := strings.Join(lines, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			return fmt.Errorf("no %q in\n%s", w, all)
		}
	}
	return nil
}
