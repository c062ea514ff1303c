package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
	"github.com/ovnet/ovnet/test/harness"
)

// impersonating is api's configuration acting as the service account
// kube-system/name.
func impersonating(api *harness.APIServer, name string) *rest.Config {
	cfg := rest.CopyConfig(api.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:kube-system:" + name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}}
	return cfg
}

// TestControllerUnderChartRBAC runs the controller with nothing but the
// rules the chart grants it (charts/ovnet/rbac/controller/role.yaml, which
// test/chart proves the chart renders), impersonating its service account,
// on an API server that also enforces OwnerReferencesPermissionEnforcement:
// a namespace's Subnet is created with its owner reference, validated
// (status patch), a pod and a node are addressed (patches), and the
// controller logs no forbidden request.
func TestControllerUnderChartRBAC(t *testing.T) {
	e := newPartsWith(t, harness.APIServerOptions{APIServerFlags: map[string][]string{
		"enable-admission-plugins": {"OwnerReferencesPermissionEnforcement"}}})
	grantGeneratedRoles(t, e, "controller")
	asController := *e.api
	asController.Config = impersonating(e.api, "ovnet-controller")
	e.ctrl = harness.StartController(t, &asController, e.nb, harness.DefaultNetwork())

	e.namespace("team-a", map[string]string{annotation.CIDR: "10.60.0.0/24"})
	e.condition("team-a", ovnetv1.ConditionReady, metav1.ConditionTrue, "")
	e.addressed(e.pod("team-a", "web", nil).Namespace, "web")
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}}
	if err := e.c.Create(e.ctx, node); err != nil {
		t.Fatal(err)
	}
	e.eventually("node annotated", func() error {
		if err := e.c.Get(e.ctx, client.ObjectKeyFromObject(node), node); err != nil {
			return err
		}
		if node.Annotations[annotation.Allocated] != annotation.True {
			return fmt.Errorf("annotations %v", node.Annotations)
		}
		return nil
	})
	log, err := os.ReadFile(e.ctrl.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "forbidden") {
			t.Errorf("controller was refused: %s", line)
		}
	}
}

// grantGeneratedRoles creates the roles generated for component
// (charts/ovnet/rbac/<component>/role.yaml), the markers' placeholder
// namespaces being the ones the test uses, and binds them to the service
// account kube-system/ovnet-<component>.
func grantGeneratedRoles(t *testing.T, e *env, component string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "charts", "ovnet", "rbac", component, "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "ovnet-" + component, Namespace: "kube-system"}}
	for i, doc := range strings.Split(string(data), "---\n") {
		var role rbacv1.Role // a ClusterRole's fields are a Role's plus an aggregation rule, unused here
		var head struct {
			Kind string `json:"kind"`
		}
		if strings.TrimSpace(doc) == "" {
			continue
		}
		if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("ovnet-%s-%d", component, i)
		meta := metav1.ObjectMeta{Name: name}
		var objs []client.Object
		switch head.Kind {
		case "ClusterRole":
			objs = []client.Object{&rbacv1.ClusterRole{ObjectMeta: meta, Rules: role.Rules},
				&rbacv1.ClusterRoleBinding{ObjectMeta: meta, Subjects: subject,
					RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}}
		case "Role":
			meta.Namespace = role.Namespace
			if meta.Namespace == "kube-node-lease" {
				meta.Namespace = gatewayhealth.DefaultNamespace
			}
			objs = []client.Object{&rbacv1.Role{ObjectMeta: meta, Rules: role.Rules},
				&rbacv1.RoleBinding{ObjectMeta: meta, Subjects: subject,
					RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}}
		default:
			t.Fatalf("role.yaml holds a %q", head.Kind)
		}
		for _, o := range objs {
			if err := e.c.Create(e.ctx, o); err != nil {
				t.Fatalf("create %T %s: %v", o, name, err)
			}
		}
	}
}
