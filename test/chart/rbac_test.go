package chart

import (
	"bufio"
	"go/ast"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The release and gateway Lease namespaces the RBAC test renders with,
// other than the markers' placeholders so that a Role left in a
// placeholder's namespace shows.
const (
	testReleaseNamespace = "ovnet-system"
	testLeaseNamespace   = "gateway-leases"
)

// binaries maps each binary's service account to the code whose markers
// and client calls are its own. pkg/gatewayhealth writes Leases for the
// daemon's heartbeat; the controller only reads them, directly.
var binaries = []struct {
	serviceAccount string
	markerDirs     []string
	callPackages   []string
}{
	{"ovnet-controller", []string{"pkg/controller"}, []string{"./pkg/controller/..."}},
	{"ovnet-daemon", []string{"pkg/daemon"}, []string{"./pkg/daemon/...", "./pkg/gatewayhealth"}},
	{"ovnet-uninstall", []string{"pkg/uninstall"}, []string{"./pkg/uninstall"}},
	{"ovnet-speaker", []string{"pkg/speaker"}, []string{"./pkg/speaker"}},
}

// grant is one verb on one resource, cluster-wide (namespace "") or in
// one namespace.
type grant struct {
	group, resource, verb, namespace string
}

func (g grant) String() string {
	where := "cluster-wide"
	if g.namespace != "" {
		where = "in " + g.namespace
	}
	group := g.group
	if group == "" {
		group = "core"
	}
	return g.verb + " " + group + "/" + g.resource + " " + where
}

// placeholder maps a marker's namespace to where the chart puts its Role.
var placeholder = map[string]string{
	"":                "",
	"kube-system":     testReleaseNamespace,
	"kube-node-lease": testLeaseNamespace,
}

// TestRBACMatchesMarkers fails when the chart grants a service account a
// verb no marker of its binary asks for, or a marker asks for one the
// chart does not grant (stale `make generate`, a Role not rendered, a
// binding to the wrong account).
func TestRBACMatchesMarkers(t *testing.T) {
	// The speaker is off by default; on, its RBAC renders too.
	rendered, err := helmTemplate(t, append([]string{"--namespace", testReleaseNamespace,
		"--set", "network.gatewayLeaseNamespace=" + testLeaseNamespace}, setArgs(speakerOn)...)...)
	if err != nil {
		t.Fatal(err)
	}
	objs := objects(t, rendered)
	for _, b := range binaries {
		t.Run(b.serviceAccount, func(t *testing.T) {
			want := markerGrants(t, b.markerDirs)
			have := chartGrants(objs, b.serviceAccount)
			for _, g := range sortedGrants(have) {
				if !want[g] {
					t.Errorf("chart grants %s, which no marker in %v asks for", g, b.markerDirs)
				}
			}
			for _, g := range sortedGrants(want) {
				if !have[g] {
					t.Errorf("a marker in %v asks for %s, which the chart does not grant", b.markerDirs, g)
				}
			}
		})
	}
}

// markerGrants reads the +kubebuilder:rbac markers of the Go files under
// dirs, namespaces mapped as the chart maps them.
func markerGrants(t *testing.T, dirs []string) map[grant]bool {
	t.Helper()
	out := map[grant]bool{}
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(repoRoot(t), dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			return readMarkers(t, path, out)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no +kubebuilder:rbac markers under %v", dirs)
	}
	return out
}

func readMarkers(t *testing.T, path string, out map[grant]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "// +kubebuilder:rbac:")
		if !ok {
			continue
		}
		fields := map[string][]string{}
		for _, kv := range strings.Split(line, ",") {
			k, v, _ := strings.Cut(kv, "=")
			fields[k] = strings.Split(strings.Trim(v, `"`), ";")
		}
		ns := strings.Join(fields["namespace"], "")
		mapped, known := placeholder[ns]
		if !known {
			t.Errorf("%s: marker namespace %q is none of the chart's placeholders %v", path, ns, placeholder)
		}
		for _, g := range fields["groups"] {
			for _, r := range fields["resources"] {
				for _, v := range fields["verbs"] {
					out[grant{strings.Trim(g, `"`), r, v, mapped}] = true
				}
			}
		}
	}
	return sc.Err()
}

// chartGrants expands the rules of every role the render binds to the
// service account.
func chartGrants(objs []object, serviceAccount string) map[grant]bool {
	roles := map[string]object{}
	for _, o := range objs {
		if o.Kind == "ClusterRole" || o.Kind == "Role" {
			roles[o.Kind+"/"+o.Metadata.Namespace+"/"+o.Metadata.Name] = o
		}
	}
	out := map[grant]bool{}
	for _, b := range objs {
		if b.Kind != "ClusterRoleBinding" && b.Kind != "RoleBinding" {
			continue
		}
		if !slices.ContainsFunc(b.Subjects, func(s struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		}) bool {
			return s.Kind == "ServiceAccount" && s.Name == serviceAccount
		}) {
			continue
		}
		roleNS := ""
		if b.RoleRef.Kind == "Role" {
			roleNS = b.Metadata.Namespace
		}
		role := roles[b.RoleRef.Kind+"/"+roleNS+"/"+b.RoleRef.Name]
		for _, r := range role.Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						out[grant{g, res, v, b.Metadata.Namespace}] = true
					}
				}
			}
		}
	}
	return out
}

func sortedGrants(m map[grant]bool) []grant {
	out := make([]grant, 0, len(m))
	for g := range m {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// clientPath is controller-runtime's client package: calls of its Reader
// and Writer methods are the API requests the code makes.
const clientPath = "sigs.k8s.io/controller-runtime/pkg/client"

// verbOf is the RBAC verb of each client method; the object argument is
// the last but for Get's (ctx, key, obj, opts...) and List's (ctx, list, opts...).
var verbOf = map[string]struct {
	verb   string
	objArg int
}{
	"Get": {"get", 2}, "List": {"list", 1}, "Create": {"create", 1},
	"Update": {"update", 1}, "Patch": {"patch", 1}, "Delete": {"delete", 1},
}

// genericCalls are client calls on a client.Object interface whose kinds
// the type checker cannot tell: each names the kinds its callers pass.
// A new one fails the test until it is listed here.
var genericCalls = map[string][]schema.GroupResource{
	// setAnnotations patches a pod's or a node's addressing annotations.
	"pkg/controller/addressing.go:Patch": {{Resource: "pods"}, {Resource: "nodes"}},
	// gc's exists reads the owner of an NB row: a pod or a node.
	"pkg/controller/gc.go:Get": {{Resource: "pods"}, {Resource: "nodes"}},
	// listOwners lists the owners of addresses: pods and nodes.
	"pkg/controller/gc.go:List": {{Resource: "pods"}, {Resource: "nodes"}},
	// The owners of addresses a rebuild of NB waits for the ports of.
	"pkg/controller/rebuild.go:List": {{Resource: "pods"}, {Resource: "nodes"}},
	// A rebuild of NB lists every object of each reconciler's kind.
	"pkg/controller/resync.go:List": {{Group: "ovnet.io", Resource: "subnets"}, {Resource: "namespaces"},
		{Resource: "pods"}, {Resource: "nodes"}, {Resource: "services"}, {Group: "networking.k8s.io", Resource: "networkpolicies"}},
	// The NodePort table's inputs, listed from the cache in one loop.
	"pkg/daemon/nodenat/reconciler.go:List": {{Group: "ovnet.io", Resource: "subnets"}, {Resource: "services"},
		{Group: "discovery.k8s.io", Resource: "endpointslices"}, {Resource: "nodes"}},
}

// TestClientCallsAreGranted type-checks each binary's packages and fails
// when a controller-runtime client call (Get, List, Create, Update,
// Patch, Delete, also through Status()) needs a verb on a resource no
// marker of the binary asks for, in any namespace. Informers' list and
// watch are covered by TestRBACMatchesMarkers' markers alone.
func TestClientCallsAreGranted(t *testing.T) {
	root := repoRoot(t)
	for _, b := range binaries {
		t.Run(b.serviceAccount, func(t *testing.T) {
			granted := map[grant]bool{}
			for g := range markerGrants(t, b.markerDirs) {
				g.namespace = ""
				granted[g] = true
			}
			cfg := &packages.Config{Dir: root, Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
				packages.NeedTypes | packages.NeedTypesInfo}
			pkgs, err := packages.Load(cfg, b.callPackages...)
			if err != nil {
				t.Fatalf("load %v: %v", b.callPackages, err)
			}
			calls := 0
			for _, p := range pkgs {
				for _, e := range p.Errors {
					t.Errorf("%s: %v", p.PkgPath, e)
				}
				for _, f := range p.Syntax {
					ast.Inspect(f, func(n ast.Node) bool {
						call, ok := n.(*ast.CallExpr)
						if !ok {
							return true
						}
						for _, need := range neededGrants(t, root, p, call) {
							calls++
							if !granted[need] {
								t.Errorf("%s: needs %s; no marker in %v asks for it",
									p.Fset.Position(call.Pos()), need, b.markerDirs)
							}
						}
						return true
					})
				}
			}
			if calls == 0 {
				t.Fatalf("found no client calls in %v", b.callPackages)
			}
		})
	}
}

// neededGrants returns what one call needs, nothing when it is not a
// client call.
func neededGrants(t *testing.T, root string, p *packages.Package, call *ast.CallExpr) []grant {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return nil
	}
	m, ok := verbOf[sel.Sel.Name]
	fn, isFunc := p.TypesInfo.Uses[sel.Sel].(*types.Func)
	if !ok || !isFunc || fn.Pkg() == nil || fn.Pkg().Path() != clientPath || len(call.Args) <= m.objArg {
		return nil
	}
	sub := ""
	if inner, ok := sel.X.(*ast.CallExpr); ok {
		if s, ok := inner.Fun.(*ast.SelectorExpr); ok && (s.Sel.Name == "Status" || s.Sel.Name == "SubResource") {
			sub = "/status"
		}
	}
	var resources []schema.GroupResource
	if gr, ok := resourceOf(p.TypesInfo.TypeOf(call.Args[m.objArg])); ok {
		resources = []schema.GroupResource{gr}
	} else {
		pos := p.Fset.Position(call.Pos())
		rel, _ := filepath.Rel(root, pos.Filename)
		key := rel + ":" + sel.Sel.Name
		var listed bool
		if resources, listed = genericCalls[key]; !listed {
			t.Errorf("%s: %s on %s, whose kind the test cannot tell: list it in genericCalls as %q",
				pos, sel.Sel.Name, p.TypesInfo.TypeOf(call.Args[m.objArg]), key)
		}
	}
	var out []grant
	for _, gr := range resources {
		out = append(out, grant{gr.Group, gr.Resource + sub, m.verb, ""})
	}
	return out
}

// groupOf maps the API packages the code uses to their API groups.
var groupOf = map[string]string{
	"k8s.io/api/core/v1":                       "",
	"k8s.io/api/apps/v1":                       "apps",
	"k8s.io/api/coordination/v1":               "coordination.k8s.io",
	"k8s.io/api/discovery/v1":                  "discovery.k8s.io",
	"k8s.io/api/networking/v1":                 "networking.k8s.io",
	"k8s.io/api/events/v1":                     "events.k8s.io",
	"github.com/ovnet/ovnet/pkg/apis/ovnet/v1": "ovnet.io",
}

// resourceOf names the resource of a *Kind or *KindList argument.
func resourceOf(typ types.Type) (schema.GroupResource, bool) {
	ptr, ok := typ.(*types.Pointer)
	if !ok {
		return schema.GroupResource{}, false
	}
	named, ok := ptr.Elem().(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return schema.GroupResource{}, false
	}
	group, ok := groupOf[named.Obj().Pkg().Path()]
	if !ok {
		return schema.GroupResource{}, false
	}
	kind := strings.TrimSuffix(named.Obj().Name(), "List")
	plural, _ := meta.UnsafeGuessKindToResource(schema.GroupVersionKind{Group: group, Kind: kind})
	return plural.GroupResource(), true
}
