package cniserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/daemon/podconfig"
	"github.com/ovnet/ovnet/pkg/daemon/podrecord"
)

// harness is one server over a fake configurator and a real pod book.
type harness struct {
	t      *testing.T
	srv    *Server
	fake   *fakeConfigurator
	pods   *podrecord.Book
	reg    *prometheus.Registry
	status error
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, fake: newFake(), pods: podrecord.NewBook(nil), reg: prometheus.NewRegistry()}
	srv, err := New(Config{AddressTimeout: testAddressTimeout, OVNTimeout: testOVNTimeout, Pods: h.pods,
		Configurator: h.fake, Status: func(context.Context) error { return h.status }, Logger: logr.Discard(),
		Registerer: h.reg})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	return h
}

// addressed puts an addressed pod into the book, with extra annotations.
func (h *harness) addressed(name string, extra map[string]string) {
	ann := annotation.Address{Holding: annotation.Holding{IP: netip.MustParseAddr("10.16.0.5"),
		MAC: net.HardwareAddr{0x0a, 0, 0, 0, 0, 5}, LogicalSwitch: "ovn-default"},
		Subnet: netip.MustParsePrefix("10.16.0.0/16"), Gateway: netip.MustParseAddr("10.16.0.1")}.Annotations()
	for k, v := range extra {
		ann[k] = v
	}
	h.pods.Put(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: k8stypes.UID("uid-" + name),
		Annotations: ann}})
}

// post sends one command as the plugin does and returns the HTTP status
// and body.
func (h *harness) post(ctx context.Context, cmd cni.Command, req any) (int, []byte) {
	h.t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		h.t.Fatal(err)
	}
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, cmd.Path(), bytes.NewReader(body))
	w := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}

// cniErr decodes a failure's body.
func (h *harness) cniErr(status int, body []byte) *types.Error {
	h.t.Helper()
	if status != http.StatusInternalServerError {
		h.t.Fatalf("status %d, want a CNI error: %s", status, body)
	}
	e := &types.Error{}
	if err := json.Unmarshal(body, e); err != nil {
		h.t.Fatalf("error body %s: %v", body, err)
	}
	return e
}

func addRequest(pod string) *cni.Request {
	return &cni.Request{ContainerID: "ctr-" + pod, Netns: "/var/run/netns/" + pod, IfName: "eth0",
		Pod: cni.PodRef{Namespace: "default", Name: pod, UID: "uid-" + pod}}
}

// requests is how many requests the metrics counted for cmd and result.
func (h *harness) requests(cmd, result string) uint64 {
	return h.samples("ovnet_cni_request_duration_seconds", "command", cmd, "result", result)
}

// samples counts the observations of a histogram whose labels include
// the given name/value pairs.
func (h *harness) samples(name string, labels ...string) uint64 {
	h.t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	var n uint64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			match := true
			for i := 0; i+1 < len(labels); i += 2 {
				match = match && have[labels[i]] == labels[i+1]
			}
			if match {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

// ADD of an addressed pod plugs it with its record and answers with the
// CNI 1.1 result the plugin converts.
func TestAddResult(t *testing.T) {
	h := newHarness(t)
	h.addressed("web", map[string]string{annotation.Mirror: annotation.True, annotation.IngressRate: "10"})
	status, body := h.post(context.Background(), cni.CommandAdd, addRequest("web"))
	if status != http.StatusOK {
		t.Fatalf("ADD: %d %s", status, body)
	}
	res, err := current.NewResult(body)
	if err != nil {
		t.Fatal(err)
	}
	r := res.(*current.Result)
	host := attachments.HostInterfaceName("ctr-web", "eth0")
	if r.CNIVersion != cni.SpecVersion || len(r.IPs) != 1 || r.IPs[0].Address.String() != "10.16.0.5/16" ||
		r.IPs[0].Gateway.String() != "10.16.0.1" || *r.IPs[0].Interface != 1 {
		t.Errorf("result IPs %+v (version %s)", r.IPs, r.CNIVersion)
	}
	if len(r.Interfaces) != 2 || r.Interfaces[0].Name != host || r.Interfaces[1].Name != "eth0" ||
		r.Interfaces[1].Mac != "0a:00:00:00:00:05" || r.Interfaces[1].Sandbox != "/var/run/netns/web" ||
		r.Interfaces[1].Mtu != fakeMTU {
		t.Errorf("result interfaces %+v %+v", r.Interfaces[0], r.Interfaces[1])
	}
	if len(r.Routes) != 1 || r.Routes[0].Dst.String() != "0.0.0.0/0" || r.Routes[0].GW.String() != "10.16.0.1" {
		t.Errorf("result routes %+v", r.Routes)
	}
	if len(h.fake.plugs) != 1 {
		t.Fatalf("%d plugs, want 1", len(h.fake.plugs))
	}
	want := attachments.Attachment{HostName: host, ContainerID: "ctr-web", IfName: "eth0", Netns: "/var/run/netns/web",
		Namespace: "default", Name: "web", MAC: "0a:00:00:00:00:05", IP: "10.16.0.5", Mirror: true}
	p := h.fake.plugs[0]
	if p.Attachment != want || p.Bandwidth.Ingress != 10_000_000 || p.Address.Gateway.String() != "10.16.0.1" {
		t.Errorf("plugged %+v, bandwidth %+v; want %+v and 10 Mbit/s into the pod", p.Attachment, p.Bandwidth, want)
	}
	if n := h.requests("ADD", "success"); n != 1 {
		t.Errorf("%d successful ADDs counted, want 1", n)
	}
	for _, m := range []string{`ovnet_cni_address_wait_seconds`, `ovnet_cni_ovn_install_wait_seconds`} {
		if n := h.samples(m); n != 1 {
			t.Errorf("metric %s: %d samples, want 1", m, n)
		}
	}
}

// Each failure of ADD reaches the runtime with the CNI code that says
// why, and what a failed ADD plugged is unplugged, except when nothing
// can have been made.
func TestAddFailures(t *testing.T) {
	tests := []struct {
		name       string
		pod        string
		extra      map[string]string
		edit       func(*cni.Request)
		setup      func(*fakeConfigurator)
		wantCode   uint
		wantMsg    string
		wantPlug   bool
		wantUnplug bool
	}{
		{"invalid interface name", "web", nil, func(r *cni.Request) { r.IfName = "eth/0" }, nil,
			types.ErrInvalidEnvironmentVariables, "interface name", false, false},
		{"pod never addressed", "nobody", nil, nil, nil, types.ErrTryAgainLater, "timed out waiting for the pod's address", false, false},
		{"other pod with the name", "web", nil, func(r *cni.Request) { r.Pod.UID = "uid-old" }, nil,
			types.ErrTryAgainLater, "has uid uid-web", false, false},
		{"broken record", "web", map[string]string{annotation.MACAddress: "zz"}, nil, nil,
			types.ErrInvalidNetworkConfig, "address annotations are invalid", false, false},
		{"bad rate", "web", map[string]string{annotation.EgressRate: "fast"}, nil, nil,
			types.ErrInvalidNetworkConfig, "bandwidth annotations are invalid", false, false},
		{"not a network namespace", "web", nil, nil, func(f *fakeConfigurator) {
			f.plugErr = podconfig.ErrInvalidNetNS
		}, types.ErrInvalidNetNS, "invalid network namespace", true, false},
		{"OVS fails", "web", nil, nil, func(f *fakeConfigurator) { f.plugErr = errors.New("transaction failed") },
			types.ErrInternal, "transaction failed", true, true},
		{"OVN never installs", "web", nil, nil, func(f *fakeConfigurator) { f.block = true },
			types.ErrTryAgainLater, "timed out waiting for OVN", true, true},
		{"ovn-controller reports an error", "web", nil, nil, func(f *fakeConfigurator) {
			f.installErr = errors.New("interface error: no such device")
		}, types.ErrInternal, "no such device", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.addressed("web", tt.extra)
			if tt.setup != nil {
				tt.setup(h.fake)
			}
			req := addRequest(tt.pod)
			if tt.edit != nil {
				tt.edit(req)
			}
			e := h.cniErr(h.post(context.Background(), cni.CommandAdd, req))
			if e.Code != tt.wantCode || !strings.Contains(e.Msg, tt.wantMsg) {
				t.Fatalf("ADD = %d %q, want %d mentioning %q", e.Code, e.Msg, tt.wantCode, tt.wantMsg)
			}
			if plugged := len(h.fake.plugs) > 0; plugged != tt.wantPlug {
				t.Errorf("plugged = %v, want %v", plugged, tt.wantPlug)
			}
			unplugs := h.fake.unplugged()
			if tt.wantUnplug != (len(unplugs) == 1) || (tt.wantUnplug && unplugs[0].hostName != h.fake.plugs[0].Attachment.HostName) {
				t.Errorf("unplugs %+v, want a rollback %v", unplugs, tt.wantUnplug)
			}
			if n := h.requests("ADD", strconv.FormatUint(uint64(tt.wantCode), 10)); n != 1 {
				t.Errorf("%d ADD requests counted with result %d, want 1", n, tt.wantCode)
			}
		})
	}
}

// When the runtime gives up on an ADD (its timeout, or a retry), the
// rollback still runs, on a live context with its own deadline: issue 9,
// defect 3.
func TestAddRollbackOutlivesTheRequest(t *testing.T) {
	h := newHarness(t)
	h.srv.cfg.OVNTimeout = time.Minute // the runtime gives up first
	h.fake.block = true
	h.addressed("web", nil)
	ctx, giveUp := context.WithCancel(context.Background())
	go func() {
		<-h.fake.waiting
		giveUp()
	}()
	h.cniErr(h.post(ctx, cni.CommandAdd, addRequest("web")))
	unplugs := h.fake.unplugged()
	if len(unplugs) != 1 {
		t.Fatalf("unplugs %+v, want the rollback", unplugs)
	}
	if unplugs[0].ctxErr != nil || !unplugs[0].deadline {
		t.Fatalf("rollback ran on a context that was %v (deadline %v); want a live one with a deadline",
			unplugs[0].ctxErr, unplugs[0].deadline)
	}
	if list, _ := h.fake.Attachments(); len(list) != 0 {
		t.Fatalf("attachments left after the failed ADD: %+v", list)
	}
}

// ADD tells the configurator whether the pod's Subnet is an underlay one
// (its interface then takes the uplink's MTU), as the Subnet says; a
// Subnet that cannot be read fails ADD before anything is plugged.
func TestAddUnderlayPod(t *testing.T) {
	underlay := func(_ context.Context, subnet string) (bool, error) {
		if subnet == "unreadable" {
			return false, errors.New("cache not started")
		}
		return subnet == "physical", nil
	}
	tests := []struct {
		name     string
		subnet   string
		check    func(context.Context, string) (bool, error)
		want     bool
		wantFail string
	}{
		{"overlay subnet", "ovn-default", underlay, false, ""},
		{"underlay subnet", "physical", underlay, true, ""},
		{"no underlay lookup", "physical", nil, false, ""},
		{"subnet unreadable", "unreadable", underlay, false, "cache not started"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.srv.cfg.Underlay = tt.check
			h.addressed("web", map[string]string{annotation.LogicalSwitch: tt.subnet})
			status, body := h.post(context.Background(), cni.CommandAdd, addRequest("web"))
			if tt.wantFail != "" {
				if e := h.cniErr(status, body); !strings.Contains(e.Msg, tt.wantFail) || len(h.fake.plugs) != 0 {
					t.Fatalf("ADD = %q after %d plugs, want a failure mentioning %q and no plug", e.Msg, len(h.fake.plugs), tt.wantFail)
				}
				return
			}
			if status != http.StatusOK || len(h.fake.plugs) != 1 {
				t.Fatalf("ADD: %d %s, %d plugs", status, body, len(h.fake.plugs))
			}
			if got := h.fake.plugs[0].Underlay; got != tt.want {
				t.Errorf("plugged with Underlay %v, want %v", got, tt.want)
			}
		})
	}
}
