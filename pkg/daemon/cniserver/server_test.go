package cniserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/daemon/podconfig"
)

// DEL unplugs the attachment ADD made, also when the pod and its
// namespace are gone; a failure to unplug reaches the runtime.
func TestDel(t *testing.T) {
	tests := []struct {
		name      string
		req       *cni.Request
		unplugErr error
		wantCode  uint
	}{
		{"after ADD", addRequest("web"), nil, 0},
		{"namespace and pod gone", &cni.Request{ContainerID: "ctr-web", IfName: "eth0"}, nil, 0},
		{"OVS fails", addRequest("web"), errors.New("transaction failed"), types.ErrInternal},
		{"bad container ID", &cni.Request{ContainerID: "../x", IfName: "eth0"}, nil, types.ErrInvalidEnvironmentVariables},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.unplugErr = tt.unplugErr
			status, body := h.post(context.Background(), cni.CommandDel, tt.req)
			if tt.wantCode != 0 {
				if e := h.cniErr(status, body); e.Code != tt.wantCode {
					t.Fatalf("DEL = %+v, want code %d", e, tt.wantCode)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("DEL: %d %s", status, body)
			}
			unplugs := h.fake.unplugged()
			if len(unplugs) != 1 || unplugs[0].hostName != attachments.HostInterfaceName("ctr-web", "eth0") {
				t.Fatalf("unplugs %+v, want the attachment's host interface", unplugs)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		pod      string
		checkErr error
		wantCode uint
		wantMsg  string
	}{
		{"healthy", "web", nil, 0, ""},
		{"interface changed", "web", fmt.Errorf("%w: eth0 is down", podconfig.ErrInterfaceMismatch),
			types.ErrUnknownContainer, "eth0 is down"},
		{"pod unknown", "nobody", nil, types.ErrUnknownContainer, "not (yet) known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.addressed("web", nil)
			h.fake.checkErr = tt.checkErr
			status, body := h.post(context.Background(), cni.CommandCheck, addRequest(tt.pod))
			if tt.wantCode == 0 {
				if status != http.StatusOK {
					t.Fatalf("CHECK: %d %s", status, body)
				}
				return
			}
			if e := h.cniErr(status, body); e.Code != tt.wantCode || !strings.Contains(e.Msg, tt.wantMsg) {
				t.Fatalf("CHECK = %+v, want %d mentioning %q", e, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

// GC unplugs exactly the attachments the runtime no longer lists.
func TestGC(t *testing.T) {
	h := newHarness(t)
	for _, pod := range []string{"a", "b", "c"} {
		h.addressed(pod, nil)
		if status, body := h.post(context.Background(), cni.CommandAdd, addRequest(pod)); status != http.StatusOK {
			t.Fatalf("ADD %s: %s", pod, body)
		}
	}
	keep := addRequest("b")
	req := &cni.Request{ValidAttachments: []types.GCAttachment{{ContainerID: keep.ContainerID, IfName: keep.IfName}}}
	if status, body := h.post(context.Background(), cni.CommandGC, req); status != http.StatusOK {
		t.Fatalf("GC: %s", body)
	}
	list, _ := h.fake.Attachments()
	if len(list) != 1 || list[0].ContainerID != keep.ContainerID {
		t.Fatalf("after GC: %+v, want b's attachment only", list)
	}
	if n := len(h.fake.unplugged()); n != 2 {
		t.Fatalf("%d unplugs, want 2", n)
	}
}

func TestStatus(t *testing.T) {
	h := newHarness(t)
	if status, body := h.post(context.Background(), cni.CommandStatus, &cni.Request{}); status != http.StatusOK {
		t.Fatalf("STATUS of a ready node: %s", body)
	}
	h.status = fmt.Errorf("%w: the Open_vSwitch database does not answer", ErrNotReady)
	e := h.cniErr(h.post(context.Background(), cni.CommandStatus, &cni.Request{}))
	if e.Code != errPluginNotAvailable || !strings.Contains(e.Msg, "Open_vSwitch") {
		t.Fatalf("STATUS = %+v, want code 50 naming the database", e)
	}
}

// A body that is no request is refused before anything runs, and only
// POSTs to the commands' paths are served.
func TestMalformedRequests(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		length     int64 // Content-Length; 0 leaves it unknown
		wantStatus int
		wantMsg    string
	}{
		{"not JSON", http.MethodPost, cni.CommandAdd.Path(), "{", 0, http.StatusInternalServerError, "does not decode"},
		{"unknown field", http.MethodPost, cni.CommandAdd.Path(), `{"containerId2":"x"}`, 0, http.StatusInternalServerError, "does not decode"},
		{"two objects", http.MethodPost, cni.CommandDel.Path(), `{} {}`, 0, http.StatusInternalServerError, "data after"},
		{"too large", http.MethodPost, cni.CommandAdd.Path(), `{"containerID":"` + strings.Repeat("a", maxRequestBytes) + `"}`, 0,
			http.StatusInternalServerError, "request body exceeds"},
		{"announced too large", http.MethodPost, cni.CommandGC.Path(), `{}`, maxRequestBytes + 1,
			http.StatusInternalServerError, "Content-Length"},
		{"GET", http.MethodGet, cni.CommandAdd.Path(), "", 0, http.StatusMethodNotAllowed, ""},
		{"unknown path", http.MethodPost, "/api/v1/other", "{}", 0, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(tt.method, tt.path, io.NopCloser(strings.NewReader(tt.body)))
			r.ContentLength = tt.length
			w := &recorder{header: http.Header{}}
			h.srv.Handler().ServeHTTP(w, r)
			if w.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.status, tt.wantStatus, w.body.String())
			}
			if tt.wantStatus == http.StatusInternalServerError {
				e := h.cniErr(w.status, w.body.Bytes())
				if e.Code != types.ErrInvalidEnvironmentVariables || !strings.Contains(e.Msg, tt.wantMsg) || len(e.Msg) > 1024 {
					t.Fatalf("error %.300v, want code 4 mentioning %q in at most 1 KiB", e, tt.wantMsg)
				}
			}
		})
	}
	if len(h.fake.plugs) != 0 {
		t.Fatal("a malformed request reached the configurator")
	}
}

// recorder is a minimal http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(status int) { r.status = status }

// The server answers on a root-only unix socket, replaces a socket left
// by an earlier run, and stops when its context ends.
func TestServeOnSocket(t *testing.T) {
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "run", "daemon.sock")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil { // left by an earlier run
		t.Fatal(err)
	}
	listener, err := Listen(path)
	if os.Geteuid() != 0 {
		// The socket must belong to root: an unprivileged run cannot
		// make it so, and must not serve on a socket it cannot restrict.
		if err == nil {
			listener.Close()
			t.Fatal("Listen succeeded without root")
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != socketMode || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %s: %v %v, want a socket with mode %o", path, st.Mode(), err, socketMode)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(ctx, listener) }()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	resp, err := client.Post("http://ovnet"+cni.CommandStatus.Path(), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("STATUS over the socket: %s %s", resp.Status, body)
	}
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v after its context ended", err)
		}
	case <-time.After(shutdownTimeout):
		t.Fatal("Serve did not return after its context ended")
	}
}

// The plugin and its conflist are installed whole, and the conflist
// names the daemon's socket and the spec versions.
func TestInstallPlugin(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "ovnet-build")
	if err := os.WriteFile(plugin, []byte("#!/bin/true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Install{PluginBinary: plugin, BinDir: filepath.Join(dir, "bin"), ConfDir: filepath.Join(dir, "net.d"),
		Socket: "/run/ovnet/daemon.sock"}
	for range 2 { // a second install replaces the first
		if err := InstallPlugin(cfg); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(filepath.Join(cfg.BinDir, cni.PluginType))
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("installed plugin: %v %v", st, err)
	}
	data, err := os.ReadFile(filepath.Join(cfg.ConfDir, ConflistName))
	if err != nil {
		t.Fatal(err)
	}
	var list conflist
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	if list.CNIVersion != "1.0.0" || strings.Join(list.CNIVersions, ",") != "1.0.0,"+cni.SpecVersion ||
		len(list.Plugins) != 1 || list.Plugins[0].ServerSocket != cfg.Socket || list.Plugins[0].Type != cni.PluginType {
		t.Fatalf("conflist %s", data)
	}
	entries, _ := os.ReadDir(cfg.ConfDir)
	if len(entries) != 1 {
		t.Fatalf("conf dir holds %d files, want the conflist only (no temporary file left)", len(entries))
	}
	if err := InstallPlugin(Install{}); err != nil {
		t.Fatalf("an install without a plugin must do nothing: %v", err)
	}
}

func TestNewRequiresItsParts(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without pod records, configurator and status succeeded")
	}
	h := newHarness(t)
	cfg := h.srv.cfg
	cfg.OVNTimeout = 0
	if _, err := New(cfg); err == nil {
		t.Fatal("New with a zero OVN timeout succeeded")
	}
}
