package integration

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// coreDNSAccount is the manifest's ServiceAccount, as the API server names
// the user of its tokens.
const coreDNSAccount = "system:serviceaccount:kube-system:coredns"

// TestCoreDNSResolvesServices runs the CoreDNS built here with the Corefile
// of yamls/coredns.yaml against a real API server holding every object of
// that manifest, as its own ServiceAccount with only the manifest's RBAC,
// and resolves Services by name as a pod would: a Service's name gives its
// ClusterIP, kube-dns's gives 10.96.0.10, the ClusterIP gives the name
// back, an unknown Service does not exist, and a name outside the cluster
// is not resolved (nothing is forwarded off this machine).
func TestCoreDNSResolvesServices(t *testing.T) {
	api := harness.StartAPIServer(t, harness.APIServerOptions{})
	ctx := context.Background()
	c, err := client.New(api.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range harness.CoreDNSManifestObjects(t) {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("parse %s: %v", harness.CoreDNSManifest, err)
		}
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("the API server refuses %s %s of %s: %v", obj.GetKind(), obj.GetName(), harness.CoreDNSManifest, err)
		}
	}
	dns := harness.StartCoreDNS(t, impersonatingKubeconfig(t, api, coreDNSAccount))

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}); err != nil {
		t.Fatal(err)
	}
	web := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	if err := c.Create(ctx, web); err != nil {
		t.Fatal(err)
	}
	r := dns.Resolver()
	lookup := func(name, want string) {
		t.Helper()
		wait.For(t, waitTimeout, name+" resolves to "+want, func() error {
			addrs, err := r.LookupHost(ctx, name)
			if err != nil {
				return err
			}
			if !slices.Equal(addrs, []string{want}) {
				return errors.New("got " + strings.Join(addrs, ","))
			}
			return nil
		})
	}
	lookup("web.team-a.svc."+harness.ClusterDomain+".", web.Spec.ClusterIP)
	lookup("kube-dns.kube-system.svc."+harness.ClusterDomain+".", harness.ClusterDNSIP)

	names, err := r.LookupAddr(ctx, web.Spec.ClusterIP)
	if want := "web.team-a.svc." + harness.ClusterDomain + "."; err != nil || !slices.Equal(names, []string{want}) {
		t.Errorf("PTR of %s: %v %v, want %s", web.Spec.ClusterIP, names, err, want)
	}
	_, err = r.LookupHost(ctx, "db.team-a.svc."+harness.ClusterDomain+".")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("an unknown Service: %v, want NXDOMAIN", err)
	}
	if addrs, err := r.LookupHost(ctx, "example.com."); err == nil {
		t.Errorf("example.com resolved to %v; the Corefile forwards nowhere", addrs)
	}

	log, err := os.ReadFile(dns.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), "forbidden") {
		t.Errorf("CoreDNS was refused by the API server under the manifest's RBAC:\n%s", log)
	}
}

// impersonatingKubeconfig writes a kubeconfig with api's credentials that
// acts as user (a service account) in its groups, so a program run with it
// has only that account's rights.
func impersonatingKubeconfig(t *testing.T, api *harness.APIServer, user string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(api.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	namespace := strings.Split(user, ":")[2]
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = user
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCoreDNSImage builds the image the manifest runs and checks that the
// archive carries the name the manifest's Deployment gives (containerd
// imports it under that name, so the kubelet finds it without a pull) and
// runs the static binary with the mounted Corefile.
func TestCoreDNSImage(t *testing.T) {
	archive, ref := harness.CoreDNSImage(t)
	var deployment struct {
		Kind string `json:"kind"`
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Image string `json:"image"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	found := false
	for _, doc := range harness.CoreDNSManifestObjects(t) {
		if err := yaml.Unmarshal([]byte(doc), &deployment); err != nil {
			t.Fatal(err)
		}
		if deployment.Kind == "Deployment" {
			found = true
			if c := deployment.Spec.Template.Spec.Containers; len(c) != 1 || c[0].Image != ref {
				t.Errorf("%s runs %+v, want the image built here, %s", harness.CoreDNSManifest, c, ref)
			}
		}
	}
	if !found {
		t.Fatalf("%s has no Deployment", harness.CoreDNSManifest)
	}
	var manifest []struct {
		Config   string   `json:"Config"`
		RepoTags []string `json:"RepoTags"`
	}
	readArchiveJSON(t, archive, "manifest.json", &manifest)
	if len(manifest) != 1 || !slices.Equal(manifest[0].RepoTags, []string{ref}) {
		t.Fatalf("archive manifest %+v, want one image named %s", manifest, ref)
	}
	var config struct {
		Config struct {
			Entrypoint []string `json:"Entrypoint"`
			Cmd        []string `json:"Cmd"`
		} `json:"config"`
	}
	readArchiveJSON(t, archive, manifest[0].Config, &config)
	if got := append(config.Config.Entrypoint, config.Config.Cmd...); !slices.Equal(got, []string{"/coredns", "-conf", "/etc/coredns/Corefile"}) {
		t.Errorf("image runs %q, want /coredns -conf /etc/coredns/Corefile", got)
	}
}

// readArchiveJSON decodes the JSON file name of a docker-archive tar.
func readArchiveJSON(t *testing.T, archive, name string, into any) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s in %s: %v", name, archive, err)
		}
		if h.Name == name {
			if err := json.NewDecoder(tr).Decode(into); err != nil {
				t.Fatalf("%s in %s: %v", name, archive, err)
			}
			return
		}
	}
}
