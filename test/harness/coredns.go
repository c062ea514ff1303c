package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"
)

// Cluster DNS: yamls/coredns.yaml is CoreDNS as users' clusters run it;
// hack/build-coredns.sh builds its binary and its image from the Go module
// proxy. The kubelet's --cluster-dns is ClusterDNSIP and
// --cluster-domain ClusterDomain.
const (
	// CoreDNSManifest is the manifest's path in the repository.
	CoreDNSManifest = "yamls/coredns.yaml"
	// ClusterDNSIP is the Service kube-dns's ClusterIP in the manifest.
	ClusterDNSIP = "10.96.0.10"
	// ClusterDomain is the zone the manifest's Corefile answers for.
	ClusterDomain = "cluster.local"
	// coreDNSReadyTimeout bounds CoreDNS's start: its kubernetes plugin
	// is ready once its informers have synced, well under a second here.
	coreDNSReadyTimeout = 30 * time.Second
)

// coreDNSBuilds caches hack/build-coredns.sh's output per mode for the
// test process; the script itself caches across processes.
var coreDNSBuilds struct {
	mu  sync.Mutex
	out map[string][]string
}

// buildCoreDNS runs hack/build-coredns.sh mode and returns its output lines.
func buildCoreDNS(tb T, mode string) []string {
	tb.Helper()
	coreDNSBuilds.mu.Lock()
	defer coreDNSBuilds.mu.Unlock()
	if lines, ok := coreDNSBuilds.out[mode]; ok {
		return lines
	}
	root, err := RepoRoot()
	if err != nil {
		tb.Fatalf("building CoreDNS: %v", err)
	}
	cmd := exec.Command(filepath.Join(root, "hack", "build-coredns.sh"), mode)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("hack/build-coredns.sh %s: %v\n%s", mode, err, stderr.String())
	}
	lines := strings.Fields(string(out))
	if coreDNSBuilds.out == nil {
		coreDNSBuilds.out = map[string][]string{}
	}
	coreDNSBuilds.out[mode] = lines
	return lines
}

// CoreDNSBinary returns the path of the static coredns binary, built on
// first use (about three minutes) into $OVNET_CACHE.
func CoreDNSBinary(tb T) string {
	tb.Helper()
	lines := buildCoreDNS(tb, "binary")
	if len(lines) != 1 {
		tb.Fatalf("hack/build-coredns.sh binary printed %q, want one path", lines)
	}
	return lines[0]
}

// CoreDNSImage returns the docker-archive of the image the manifest runs
// and its name (local.test/coredns:<version>), for
// `ctr -n k8s.io images import ARCHIVE` on every node.
func CoreDNSImage(tb T) (archive, ref string) {
	tb.Helper()
	lines := buildCoreDNS(tb, "image")
	if len(lines) != 2 {
		tb.Fatalf("hack/build-coredns.sh image printed %q, want a path and a name", lines)
	}
	return lines[0], lines[1]
}

// CoreDNSManifestObjects returns the manifest's objects, one YAML
// document each, in order.
func CoreDNSManifestObjects(tb T) []string {
	tb.Helper()
	root, err := RepoRoot()
	if err != nil {
		tb.Fatalf("reading %s: %v", CoreDNSManifest, err)
	}
	data, err := os.ReadFile(filepath.Join(root, CoreDNSManifest))
	if err != nil {
		tb.Fatalf("reading %s: %v", CoreDNSManifest, err)
	}
	var docs []string
	for _, doc := range strings.Split(string(data), "\n---\n") {
		if strings.Contains(doc, "kind:") {
			docs = append(docs, doc)
		}
	}
	return docs
}

// manifestCorefile is the Corefile of the manifest's ConfigMap coredns.
func manifestCorefile(tb T) string {
	tb.Helper()
	for _, doc := range CoreDNSManifestObjects(tb) {
		var cm struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal([]byte(doc), &cm); err != nil {
			tb.Fatalf("parsing %s: %v", CoreDNSManifest, err)
		}
		if cm.Kind == "ConfigMap" && cm.Metadata.Name == "coredns" && cm.Data["Corefile"] != "" {
			return cm.Data["Corefile"]
		}
	}
	tb.Fatalf("%s has no ConfigMap coredns with a Corefile", CoreDNSManifest)
	return ""
}

// loopbackListeners are where a CoreDNS outside any pod listens.
type loopbackListeners struct {
	// DNS, Health, Ready and Metrics are host:port on 127.0.0.1.
	DNS, Health, Ready, Metrics string
	// Kubeconfig replaces the in-cluster service account.
	Kubeconfig string
}

// loopbackCorefile rewrites the manifest's Corefile to run outside a pod:
// every listener on its own loopback port and the kubernetes plugin given
// a kubeconfig. Each rewrite must find its anchor, so a Corefile changed
// in a way this does not know fails instead of running half-rewritten.
func loopbackCorefile(corefile string, l loopbackListeners) (string, error) {
	_, dnsPort, err := net.SplitHostPort(l.DNS)
	if err != nil {
		return "", fmt.Errorf("DNS address: %w", err)
	}
	rewrites := []struct{ anchor, with string }{
		{".:53 {", ".:" + dnsPort + " {\n    bind 127.0.0.1"},
		{"health {", "health " + l.Health + " {"},
		{"\n    ready\n", "\n    ready " + l.Ready + "\n"},
		{"prometheus :9153", "prometheus " + l.Metrics},
		{"kubernetes cluster.local in-addr.arpa ip6.arpa {", "kubernetes cluster.local in-addr.arpa ip6.arpa {\n        kubeconfig " + l.Kubeconfig},
	}
	for _, r := range rewrites {
		if strings.Count(corefile, r.anchor) != 1 {
			return "", fmt.Errorf("the Corefile has %q %d times, want once:\n%s", r.anchor, strings.Count(corefile, r.anchor), corefile)
		}
		corefile = strings.Replace(corefile, r.anchor, r.with, 1)
	}
	return corefile, nil
}

// CoreDNS is the coredns binary running the manifest's Corefile on
// loopback ports, reading the cluster through a kubeconfig.
type CoreDNS struct {
	// Addr is the DNS listener, 127.0.0.1:port, UDP and TCP.
	Addr string
	// MetricsAddr serves CoreDNS's /metrics.
	MetricsAddr string
	// LogFile holds its output (errors and queries refused).
	LogFile string
}

// StartCoreDNS starts CoreDNS with the manifest's Corefile, its
// kubernetes plugin reading the cluster through kubeconfig, and waits
// until /ready answers (the plugin has synced). tb.Cleanup stops it.
func StartCoreDNS(tb T, kubeconfig string) *CoreDNS {
	tb.Helper()
	bin := CoreDNSBinary(tb)
	dir := tb.TempDir()
	l := loopbackListeners{DNS: FreeAddr(tb), Health: FreeAddr(tb), Ready: FreeAddr(tb), Metrics: FreeAddr(tb), Kubeconfig: kubeconfig}
	corefile, err := loopbackCorefile(manifestCorefile(tb), l)
	if err != nil {
		tb.Fatalf("CoreDNS: %v", err)
	}
	path := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(path, []byte(corefile), 0o644); err != nil {
		tb.Fatalf("CoreDNS: %v", err)
	}
	c := &CoreDNS{Addr: l.DNS, MetricsAddr: l.Metrics, LogFile: filepath.Join(dir, "coredns.log")}
	d := startDaemon(tb, daemonSpec{name: "coredns", argv: []string{bin, "-conf", path}, stderrFile: c.LogFile})
	d.logs = []string{c.LogFile} // it logs to stderr only
	d.waitFor(tb, coreDNSReadyTimeout, "CoreDNS ready", func() error { return probe("http://" + l.Ready + "/ready") })
	return c
}

// Resolver sends every query to this CoreDNS; give it fully qualified
// names (a trailing dot) so the machine's search list is not applied.
func (c *CoreDNS) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, c.Addr)
	}}
}
