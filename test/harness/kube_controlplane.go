package harness

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
)

// startControlPlane runs etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler in node n's namespaces, as kind's control-plane node runs
// them, and a forwarder from the host's loopback to the API server.
func (c *KubeCluster) startControlPlane(tb T, n *KubeNode) {
	tb.Helper()
	c.issueControlPlaneCerts(tb, n)
	local := fmt.Sprintf("https://127.0.0.1:%d", apiServerPort)
	for _, user := range []string{"kube-controller-manager", "kube-scheduler"} {
		if err := c.pki.kubeconfig(filepath.Join(c.Dir, user+".kubeconfig"), local, user); err != nil {
			tb.Fatalf("%v", err)
		}
	}

	// No fsync: a test cluster holds nothing worth a disk flush.
	n.startProcess(tb, "etcd", c.kubeBinary(tb, "etcd"), "--name=node-1", "--data-dir="+filepath.Join(n.Dir, "etcd"),
		"--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=node-1=http://127.0.0.1:2380", "--unsafe-no-fsync=true", "--log-level=warn")
	api := n.startProcess(tb, "kube-apiserver", c.apiServerArgs(tb, n)...)
	fwd := startForwarder(tb, n.NetNS, net.JoinHostPort(n.Addr.Addr().String(), fmt.Sprint(apiServerPort)))
	c.writeAdminKubeconfig(tb, "https://"+fwd.Addr())
	api.waitFor(tb, apiReadyTimeout, "kube-apiserver ready", func() error {
		return c.Clientset(tb).Discovery().RESTClient().Get().AbsPath("/readyz").Do(context.Background()).Error()
	})

	pki := c.pki.path
	n.startProcess(tb, "kube-controller-manager", c.kubeBinary(tb, "kube-controller-manager"),
		"--kubeconfig="+filepath.Join(c.Dir, "kube-controller-manager.kubeconfig"),
		"--authentication-kubeconfig="+filepath.Join(c.Dir, "kube-controller-manager.kubeconfig"),
		"--authorization-kubeconfig="+filepath.Join(c.Dir, "kube-controller-manager.kubeconfig"),
		"--bind-address=127.0.0.1", "--leader-elect=false",
		"--service-account-private-key-file="+pki("sa.key"), "--root-ca-file="+pki("ca.crt"),
		"--use-service-account-credentials=true",
		"--cluster-signing-cert-file="+pki("ca.crt"), "--cluster-signing-key-file="+pki("ca.key"))
	n.startProcess(tb, "kube-scheduler", c.kubeBinary(tb, "kube-scheduler"),
		"--kubeconfig="+filepath.Join(c.Dir, "kube-scheduler.kubeconfig"),
		"--authentication-kubeconfig="+filepath.Join(c.Dir, "kube-scheduler.kubeconfig"),
		"--authorization-kubeconfig="+filepath.Join(c.Dir, "kube-scheduler.kubeconfig"),
		"--bind-address=127.0.0.1", "--leader-elect=false")
}

// apiServerArgs is kube-apiserver's command line. It listens on every
// address of node n and advertises the node's own, so the kubernetes
// Service's endpoint is where pods can reach it. It reaches kubelets by
// their InternalIP: their Hostname (the node name) resolves nowhere.
func (c *KubeCluster) apiServerArgs(tb T, n *KubeNode) []string {
	tb.Helper()
	pki := c.pki.path
	return []string{c.kubeBinary(tb, "kube-apiserver"),
		"--etcd-servers=http://127.0.0.1:2379",
		"--bind-address=0.0.0.0", fmt.Sprintf("--secure-port=%d", apiServerPort),
		"--advertise-address=" + n.Addr.Addr().String(),
		"--tls-cert-file=" + pki("apiserver.crt"), "--tls-private-key-file=" + pki("apiserver.key"),
		"--client-ca-file=" + pki("ca.crt"),
		"--service-account-key-file=" + pki("sa.pub"), "--service-account-signing-key-file=" + pki("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-cluster-ip-range=" + serviceClusterIPRange,
		"--kubelet-client-certificate=" + pki("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + pki("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP",
		"--authorization-mode=Node,RBAC", "--allow-privileged=true",
		"--enable-admission-plugins=NodeRestriction",
	}
}

// issueControlPlaneCerts makes the serving certificate (valid for the
// host's forwarder, node-1's address and the kubernetes Service) and the
// control plane's client certificates.
func (c *KubeCluster) issueControlPlaneCerts(tb T, n *KubeNode) {
	tb.Helper()
	if err := c.pki.serviceAccountKeys(); err != nil {
		tb.Fatalf("%v", err)
	}
	serviceIP, err := firstServiceIP(DefaultServiceCIDR)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	reqs := []certRequest{
		{name: "apiserver", commonName: "kube-apiserver", server: true,
			ips: []net.IP{net.IPv4(127, 0, 0, 1), net.IP(n.Addr.Addr().AsSlice()), serviceIP},
			dnsNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc.cluster.local"}},
		{name: "admin", commonName: "kubernetes-admin", organization: []string{"system:masters"}},
		{name: "apiserver-kubelet-client", commonName: "kube-apiserver-kubelet-client", organization: []string{"system:masters"}},
		{name: "kube-controller-manager", commonName: "system:kube-controller-manager"},
		{name: "kube-scheduler", commonName: "system:kube-scheduler"},
	}
	for _, req := range reqs {
		if err := c.pki.issue(req); err != nil {
			tb.Fatalf("%v", err)
		}
	}
}

// firstServiceIP is the kubernetes Service's ClusterIP: the first address
// of the service CIDR.
func firstServiceIP(cidr string) (net.IP, error) {
	_, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("service CIDR %q: %w", cidr, err)
	}
	ip := ipnet.IP.To4()
	return net.IPv4(ip[0], ip[1], ip[2], ip[3]+1), nil
}
