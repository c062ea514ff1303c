package harness

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	corev1 "k8s.io/api/core/v1"
)

// Runtime calls the installed CNI plugin with libcni and the installed
// conflist, as a container runtime does; each sandbox is a network
// namespace of its own.
type Runtime struct {
	cni *libcni.CNIConfig
	// List is the conflist the daemon installed, as libcni parsed it.
	List *libcni.NetworkConfigList
}

// Runtime loads the node's installed conflist.
func (n *Node) Runtime(tb T) *Runtime {
	tb.Helper()
	list, err := libcni.ConfListFromFile(filepath.Join(n.CNIConfDir, "01-ovnet.conflist"))
	if err != nil {
		tb.Fatalf("load the installed conflist: %v", err)
	}
	return &Runtime{List: list, cni: libcni.NewCNIConfigWithCacheDir([]string{n.CNIBinDir}, tb.TempDir(), nil)}
}

// NewRuntime is a runtime for any conflist and plugin directory, such as
// the reference plugins the benchmark compares with.
func NewRuntime(tb T, binDir string, conflist []byte) *Runtime {
	tb.Helper()
	list, err := libcni.ConfListFromBytes(conflist)
	if err != nil {
		tb.Fatalf("conflist: %v", err)
	}
	return &Runtime{List: list, cni: libcni.NewCNIConfigWithCacheDir([]string{binDir}, tb.TempDir(), nil)}
}

// WithVersion returns a runtime whose conflist asks for another spec version.
func (r *Runtime) WithVersion(tb T, version string) *Runtime {
	tb.Helper()
	list, err := libcni.ConfListFromBytes(r.List.Bytes)
	if err != nil {
		tb.Fatalf("CNI version %s: %v", version, err)
	}
	list.CNIVersion = version
	for _, p := range list.Plugins {
		p.Network.CNIVersion = version
	}
	return &Runtime{List: list, cni: r.cni}
}

// Sandbox is a pod sandbox: a network namespace the plugin was run for.
type Sandbox struct {
	ContainerID string
	// NetNS is the namespace's name, for "ip netns exec".
	NetNS  string
	IfName string
	// NetnsOverride, if set, is passed as CNI_NETNS instead of NetNS's path.
	NetnsOverride string
	Pod           *corev1.Pod
	// Result is ADD's result, in the version the conflist asked for.
	Result types.Result
	// IP is the address ADD reported (the IPv4 one of a dual-stack pod).
	IP netip.Addr
	// IPs are every address ADD reported, in its order.
	IPs []netip.Addr
	rt  *Runtime
	// deleted is set once DEL succeeded, so cleanup does not repeat it.
	deleted bool
}

// NetnsPath is the path the runtime passes as CNI_NETNS.
func (s *Sandbox) NetnsPath() string {
	if s.NetnsOverride != "" {
		return s.NetnsOverride
	}
	return filepath.Join(netnsDir, s.NetNS)
}

// NewSandbox creates the namespace only; Add runs the plugin for it.
func (r *Runtime) NewSandbox(tb T, pod *corev1.Pod) *Sandbox {
	tb.Helper()
	s := &Sandbox{ContainerID: UniqueName("ctr") + "0123456789abcdef", NetNS: UniqueName("pod"), IfName: podInterface,
		Pod: pod, rt: r}
	addNetNS(tb, s.NetNS)
	// Registered after the namespace's deletion, so it runs before it.
	tb.Cleanup(func() {
		if s.deleted {
			return
		}
		if err := r.Del(context.Background(), s); err != nil {
			tb.Errorf("DEL of %s: %v", s.Pod.Name, err)
		}
	})
	return s
}

// AddPod makes a sandbox for pod and runs ADD, failing the test on error.
func (r *Runtime) AddPod(tb T, pod *corev1.Pod) *Sandbox {
	tb.Helper()
	s := r.NewSandbox(tb, pod)
	if err := r.Add(context.Background(), s); err != nil {
		tb.Fatalf("ADD of pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return s
}

func (r *Runtime) conf(s *Sandbox) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: s.ContainerID, NetNS: s.NetnsPath(), IfName: s.IfName,
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", s.Pod.Namespace},
			{"K8S_POD_NAME", s.Pod.Name}, {"K8S_POD_UID", string(s.Pod.UID)},
			{"K8S_POD_INFRA_CONTAINER_ID", s.ContainerID}}}
}

// Add runs ADD and records the result.
func (r *Runtime) Add(ctx context.Context, s *Sandbox) error {
	res, err := r.cni.AddNetworkList(ctx, r.List, r.conf(s))
	if err != nil {
		return err
	}
	s.Result, s.deleted = res, false
	cur, err := current.NewResultFromResult(res)
	if err != nil {
		return fmt.Errorf("result of version %s does not convert: %w", res.Version(), err)
	}
	if len(cur.IPs) == 0 {
		return fmt.Errorf("ADD returned no address: %v", cur)
	}
	s.IPs = s.IPs[:0]
	for _, c := range cur.IPs {
		ip, _ := netip.AddrFromSlice(c.Address.IP)
		s.IPs = append(s.IPs, ip.Unmap())
	}
	s.IP = s.IPs[0]
	return nil
}

// Del runs DEL.
func (r *Runtime) Del(ctx context.Context, s *Sandbox) error {
	if err := r.cni.DelNetworkList(ctx, r.List, r.conf(s)); err != nil {
		return err
	}
	s.deleted = true
	return nil
}

// Forget stops the test's cleanup from running DEL for the sandbox, as
// after an uninstall: the plugin is gone, and the pod's network with it.
func (s *Sandbox) Forget() { s.deleted = true }

// Check runs CHECK.
func (r *Runtime) Check(ctx context.Context, s *Sandbox) error {
	return r.cni.CheckNetworkList(ctx, r.List, r.conf(s))
}

// GC runs GC with keep as the attachments still in use.
func (r *Runtime) GC(ctx context.Context, keep ...*Sandbox) error {
	args := &libcni.GCArgs{}
	for _, s := range keep {
		args.ValidAttachments = append(args.ValidAttachments, types.GCAttachment{ContainerID: s.ContainerID, IfName: s.IfName})
	}
	return r.cni.GCNetworkList(ctx, r.List, args)
}

// Status runs STATUS.
func (r *Runtime) Status(ctx context.Context) error {
	return r.cni.GetStatusNetworkList(ctx, r.List)
}

// Exec runs a command in the sandbox's namespace.
func (s *Sandbox) Exec(args ...string) (string, error) {
	return (&TestPod{Name: s.Pod.Name, NetNS: s.NetNS}).Exec(args...)
}
