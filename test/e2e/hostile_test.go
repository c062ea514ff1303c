package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/test/harness"
)

// hostileRequest is one bad ADD: the CNI parameters as a runtime would
// pass them, and what the refusal (always CNI error 4) must mention.
type hostileRequest struct {
	name                    string
	containerID, netns, ifc string
	podNamespace, podName   string
	mentions                string
	// daemonOnly: the plugin's own library (skel) refuses this one
	// already, with its own words; the daemon is asked directly too.
	daemonOnly bool
}

// Bad netns paths, interface names, container IDs and pod names are
// refused with a CNI error that says why, by the plugin a runtime execs
// and by the daemon asked directly on its socket, before anything is
// touched: no OVS port, no veth, no interface in the pod's namespace, and
// the pod beside them keeps its port and passes CHECK. Each netns case
// names a real network namespace, so a missing check would have plugged it.
func TestRefusedBeforeTouching(t *testing.T) {
	e := newEnv(t)
	n := e.node("n1")
	rt := n.Runtime(t)
	bystander := rt.AddPod(t, e.pod("default", "bystander", "n1", nil))
	target := e.pod("default", "target", "n1", nil)
	e.waitAddressed(target)
	sandbox := rt.NewSandbox(t, target)
	outside := bindOutside(t, sandbox.NetnsPath())
	portsBefore, vethsBefore := podPorts(t, n), hostVeths(t, n)

	good := hostileRequest{containerID: sandbox.ContainerID, netns: sandbox.NetnsPath(), ifc: "eth0",
		podNamespace: "default", podName: "target"}
	tests := []hostileRequest{
		{name: "netns bind-mounted outside the netns directories", netns: outside, mentions: "outside the runtime's netns directories"},
		{name: "netns of the daemon itself", netns: "/proc/self/ns/net", mentions: "outside the runtime's netns directories"},
		{name: "netns of pid 1's mount namespace", netns: "/proc/1/ns/mnt", mentions: "outside the runtime's netns directories"},
		{name: "netns through ..", netns: "/run/netns/../netns/" + sandbox.NetNS, mentions: "not a clean absolute path"},
		{name: "netns relative", netns: "netns/" + sandbox.NetNS, mentions: "not a clean absolute path"},
		{name: "interface name with slash", ifc: "eth/0", mentions: "interface name", daemonOnly: true},
		{name: "interface name of 16 bytes", ifc: "eth0123456789012", mentions: "interface name", daemonOnly: true},
		{name: "interface name with colon", ifc: "eth0:1", mentions: "interface name", daemonOnly: true},
		{name: "container ID with semicolon", containerID: "abc;touch /tmp/ovnet-pwned", mentions: "container ID", daemonOnly: true},
		{name: "container ID with command substitution", containerID: "$(touch /tmp/ovnet-pwned)", mentions: "container ID", daemonOnly: true},
		{name: "container ID with backquotes", containerID: "a`id`", mentions: "container ID", daemonOnly: true},
		{name: "container ID with pipe", containerID: "a|sh", mentions: "container ID", daemonOnly: true},
		{name: "pod name with underscore", podName: "web_1", mentions: "pod name"},
		{name: "pod name uppercase", podName: "Target", mentions: "pod name"},
		{name: "pod name with slash", podName: "default/target", mentions: "pod name"},
		{name: "pod name of 254 bytes", podName: strings.Repeat("a", 254), mentions: "pod name"},
		{name: "namespace with a dot", podNamespace: "de.fault", mentions: "pod namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.over(good)
			if !tt.daemonOnly {
				cniErr := execPlugin(t, n, cni.CommandAdd, req)
				if cniErr.Code != types.ErrInvalidEnvironmentVariables || !strings.Contains(cniErr.Msg, tt.mentions) {
					t.Errorf("plugin ADD = %+v, want code %d mentioning %q", cniErr, types.ErrInvalidEnvironmentVariables, tt.mentions)
				}
			} else if cniErr := execPlugin(t, n, cni.CommandAdd, req); cniErr.Code == 0 {
				t.Errorf("plugin ADD succeeded")
			}
			for _, cmd := range []cni.Command{cni.CommandAdd, cni.CommandCheck} {
				cniErr := postDaemon(t, n, cmd, req)
				if cniErr.Code != types.ErrInvalidEnvironmentVariables || !strings.Contains(cniErr.Msg, tt.mentions) {
					t.Errorf("daemon %s = %+v, want code %d mentioning %q", cmd, cniErr, types.ErrInvalidEnvironmentVariables, tt.mentions)
				}
			}
			checkUntouched(t, n, sandbox, portsBefore, vethsBefore)
			if _, err := os.Stat("/tmp/ovnet-pwned"); err == nil {
				t.Fatal("a container ID ran a command")
			}
		})
	}
	if err := rt.Check(context.Background(), bystander); err != nil {
		t.Fatalf("CHECK of the bystander after the refusals: %v", err)
	}
	if err := rt.Add(context.Background(), sandbox); err != nil {
		t.Fatalf("the good ADD after the refusals: %v", err)
	}
	ping(t, sandbox, bystander.IP.String())
}

// over fills the fields tt leaves empty from good.
func (tt hostileRequest) over(good hostileRequest) hostileRequest {
	r := tt
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&r.containerID, good.containerID}, {&r.netns, good.netns}, {&r.ifc, good.ifc},
		{&r.podNamespace, good.podNamespace}, {&r.podName, good.podName},
	} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
	return r
}

// checkUntouched fails t if br-int's pod ports or the node's veths
// changed, or the sandbox's namespace holds more than lo.
func checkUntouched(t *testing.T, n *harness.Node, s *harness.Sandbox, ports, veths []string) {
	t.Helper()
	if now := podPorts(t, n); !slices.Equal(now, ports) {
		t.Errorf("pod ports %v, want %v as before", now, ports)
	}
	if now := hostVeths(t, n); !slices.Equal(now, veths) {
		t.Errorf("veths %v, want %v as before", now, veths)
	}
	out, err := s.Exec("ip", "-o", "link", "show")
	if err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "lo:") {
		t.Errorf("the pod's namespace holds more than lo: %v\n%s", err, out)
	}
}

// bindOutside bind-mounts the network namespace at path onto a file
// outside the netns directories: a real namespace the daemon must refuse.
func bindOutside(t *testing.T, path string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "--bind", path, file).CombinedOutput(); err != nil {
		t.Fatalf("bind-mount %s: %v: %s", path, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", file).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", file, err, out)
		}
	})
	return file
}

// execPlugin runs the installed plugin as a runtime would, without the
// runtime's own checks, and returns the CNI error it printed.
func execPlugin(t *testing.T, n *harness.Node, cmd cni.Command, r hostileRequest) *types.Error {
	t.Helper()
	conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"ovnet","type":"ovnet","serverSocket":%q}`, n.Socket)
	c := exec.Command(filepath.Join(n.CNIBinDir, cni.PluginType))
	c.Env = []string{"CNI_COMMAND=" + string(cmd), "CNI_CONTAINERID=" + r.containerID, "CNI_NETNS=" + r.netns,
		"CNI_IFNAME=" + r.ifc, "CNI_PATH=" + n.CNIBinDir,
		"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=" + r.podNamespace + ";K8S_POD_NAME=" + r.podName}
	c.Stdin = strings.NewReader(conf)
	out, err := c.Output()
	cniErr := &types.Error{}
	if err == nil {
		return cniErr // code 0: it succeeded
	}
	if jerr := json.Unmarshal(out, cniErr); jerr != nil || cniErr.Code == 0 {
		t.Fatalf("plugin failed without a CNI error: %v: %s", err, out)
	}
	return cniErr
}

// postDaemon posts the request to the daemon's socket, as anything on the
// node could, and returns its CNI error.
func postDaemon(t *testing.T, n *harness.Node, cmd cni.Command, r hostileRequest) *types.Error {
	t.Helper()
	body := mustJSON(t, cni.Request{ContainerID: r.containerID, Netns: r.netns, IfName: r.ifc,
		Pod: cni.PodRef{Namespace: r.podNamespace, Name: r.podName}})
	ans, err := exchange(n.Socket, cmd.Path(), bytes.NewReader(body), int64(len(body)), time.Minute)
	if err != nil {
		t.Fatalf("%s on the socket: %v", cmd, err)
	}
	if ans.status != http.StatusInternalServerError || ans.err == nil || ans.err.Code == 0 {
		t.Fatalf("%s on the socket: %d %s, want a CNI error", cmd, ans.status, ans.raw)
	}
	return ans.err
}

// answer is the daemon's answer to one raw request.
type answer struct {
	status int
	raw    []byte
	err    *types.Error
}

// exchange writes one request on a connection of its own (the body in the
// background, so that a server answering before it read everything is
// heard) and reads the answer. length -1 sends the body chunked.
func exchange(socket, path string, body io.Reader, length int64, timeout time.Duration) (answer, error) {
	conn, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return answer{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	req, err := http.NewRequest(http.MethodPost, "http://ovnet"+path, io.NopCloser(body))
	if err != nil {
		return answer{}, err
	}
	req.ContentLength = length
	if length < 0 {
		req.ContentLength, req.TransferEncoding = 0, []string{"chunked"}
	}
	go func() { _ = req.Write(conn) }() // fails once the server closes: expected for oversized bodies
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return answer{}, fmt.Errorf("read the answer: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, fmt.Errorf("read the answer's body: %w", err)
	}
	a := answer{status: resp.StatusCode, raw: raw}
	if resp.StatusCode != http.StatusOK {
		a.err = &types.Error{}
		if json.Unmarshal(raw, a.err) != nil {
			a.err = nil
		}
	}
	return a, nil
}

// waitAddressed waits until the controller recorded pod's address.
func (e *env) waitAddressed(pod *corev1.Pod) {
	e.t.Helper()
	e.eventually(pod.Name+" addressed", func() error {
		p := &corev1.Pod{}
		if err := e.c.Get(e.ctx, client.ObjectKeyFromObject(pod), p); err != nil {
			return err
		}
		if p.Annotations[annotation.Allocated] != annotation.True {
			return fmt.Errorf("not yet: %v", p.Annotations)
		}
		return nil
	})
}
