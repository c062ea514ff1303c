package cniserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
)

func TestDecodeRequest(t *testing.T) {
	huge := `{"containerID":"` + strings.Repeat("a", maxRequestBytes) + `"}`
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{"request", `{"containerID":"c1","netns":"/run/netns/x","ifName":"eth0","pod":{"namespace":"n","name":"p"}}`, ""},
		{"empty object", `{}`, ""},
		{"trailing space", "{} \n", ""},
		{"empty body", ``, "does not decode"},
		{"trailing object", `{} {}`, "data after the request object"},
		{"trailing garbage", `{}x`, "does not decode"},
		{"unknown field", `{"containerId2":"x"}`, "does not decode"},
		{"wrong type", `{"containerID":1}`, "does not decode"},
		{"array", `[]`, "does not decode"},
		{"too large", huge, "request body exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := http.MaxBytesReader(nil, io.NopCloser(strings.NewReader(tt.body)), maxRequestBytes)
			req, err := decodeRequest(body)
			if tt.wantErr == "" {
				if err != nil || req == nil {
					t.Fatalf("decodeRequest = %v, %v", req, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errInvalidRequest) {
				t.Fatalf("decodeRequest = %v, want an invalid-request error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

var fuzzCommands = []cni.Command{cni.CommandAdd, cni.CommandDel, cni.CommandCheck, cni.CommandGC, cni.CommandStatus}

// FuzzDecodeRequest feeds the daemon's request decoding and validation
// any body. Properties: no panic; every refusal is an invalid-request
// error (CNI code 4) of bounded length; an accepted request meets every
// rule the commands rely on (the host interface name derived from it is
// a valid interface name, the netns path is in an allowed directory) and
// survives a round trip through JSON unchanged.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"containerID":"c1","netns":"/run/netns/x","ifName":"eth0","pod":{"namespace":"n","name":"p"}}`,
		`{"containerID":"c1","ifName":"eth0"}`,
		`{"validAttachments":[{"containerID":"c1","ifName":"eth0"}]}`,
		`{"containerID":"c;id","netns":"/etc/passwd","ifName":"a/b","pod":{"namespace":"N","name":"_"}}`,
		`{"prevResult":{"cniVersion":"1.0.0","ips":[]}}`,
		`{"netns":"/proc/1/ns/net"}`,
		`{} {}`, `{`, `null`, ``,
	} {
		for i := range fuzzCommands {
			f.Add(uint8(i), []byte(seed))
		}
	}
	v := rules{netnsDirs: DefaultNetnsDirs}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		cmd := fuzzCommands[int(which)%len(fuzzCommands)]
		req, err := decodeRequest(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), maxRequestBytes))
		if err == nil {
			err = v.validate(cmd, req)
		}
		if err != nil {
			if codeOf(err) != types.ErrInvalidEnvironmentVariables || len(err.Error()) > 64<<10 {
				t.Fatalf("refusal %.200q: code %d, %d bytes; want code 4 and a bounded message", err, codeOf(err), len(err.Error()))
			}
			return
		}
		checkAccepted(t, v, cmd, req)
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("accepted request does not encode: %v", err)
		}
		back, err := decodeRequest(bytes.NewReader(again))
		if err != nil || v.validate(cmd, back) != nil {
			t.Fatalf("accepted request %s refused after a round trip: %v", again, err)
		}
		if twice, _ := json.Marshal(back); !bytes.Equal(twice, again) {
			t.Fatalf("round trip changed the request: %s, then %s", again, twice)
		}
	})
}

// checkAccepted asserts what the commands assume of a validated request.
func checkAccepted(t *testing.T, v rules, cmd cni.Command, req *cni.Request) {
	t.Helper()
	if cmd == cni.CommandAdd || cmd == cni.CommandDel || cmd == cni.CommandCheck {
		if !containerIDPattern.MatchString(req.ContainerID) || strings.ContainsAny(req.ContainerID, ";&|$`'\"\\ /<>()*?") {
			t.Fatalf("accepted container ID %q", req.ContainerID)
		}
		if len(req.IfName) == 0 || len(req.IfName) > maxIfNameLen || strings.ContainsAny(req.IfName, "/: \t\n\x00") {
			t.Fatalf("accepted interface name %q", req.IfName)
		}
		if host := attachments.HostInterfaceName(req.ContainerID, req.IfName); len(ifNameProblems(host)) > 0 {
			t.Fatalf("host interface name %q of an accepted request is invalid", host)
		}
	}
	if cmd == cni.CommandAdd || cmd == cni.CommandCheck {
		if !inNetnsDir(req.Netns) && !procNetnsPattern.MatchString(req.Netns) {
			t.Fatalf("accepted netns %q", req.Netns)
		}
		if req.Pod.Namespace == "" || req.Pod.Name == "" || strings.ContainsAny(req.Pod.Namespace, "./") ||
			strings.Contains(req.Pod.Name, "/") {
			t.Fatalf("accepted pod %+v", req.Pod)
		}
	}
}

// inNetnsDir reports whether path names an entry directly inside one of
// the default netns directories, by another route than the server's.
func inNetnsDir(path string) bool {
	for _, dir := range DefaultNetnsDirs {
		name, ok := strings.CutPrefix(path, dir+"/")
		if ok && name != "" && name != "." && name != ".." && !strings.Contains(name, "/") {
			return true
		}
	}
	return false
}

// At most maxDecoding bodies are read at once: one more waits for a slot,
// and gives up with an invalid-request error when its client leaves.
func TestDecodingIsBounded(t *testing.T) {
	h := newHarness(t)
	for range maxDecoding {
		h.srv.decoding <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, cni.CommandStatus.Path(), strings.NewReader("{}"))
	done := make(chan error, 1)
	go func() {
		_, err := h.srv.readRequest(&recorder{header: http.Header{}}, r)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("read with every slot taken: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-done; !errors.Is(err, errInvalidRequest) {
		t.Fatalf("read after the client left = %v, want an invalid-request error", err)
	}
	<-h.srv.decoding // a slot frees: the next read goes through
	if req, err := h.srv.readRequest(&recorder{header: http.Header{}},
		httptestRequest(cni.CommandStatus.Path(), "{}")); err != nil || req == nil {
		t.Fatalf("read with a free slot: %v", err)
	}
}

func httptestRequest(path, body string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, path, strings.NewReader(body))
	return r
}
