package cni

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
)

func TestParsePodRef(t *testing.T) {
	tests := []struct {
		args    string
		want    PodRef
		wantErr bool
	}{
		{"IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=c;K8S_POD_UID=u",
			PodRef{Namespace: "ns", Name: "p", UID: "u"}, false},
		{"", PodRef{}, false},
		{"K8S_POD_NAME=p;SOMETHING=x", PodRef{}, true},
		{"garbage", PodRef{}, true},
	}
	for _, tt := range tests {
		got, err := ParsePodRef(tt.args)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParsePodRef(%q) = %+v, %v; want %+v, error %v", tt.args, got, err, tt.want, tt.wantErr)
		}
	}
}

// The plugin's own errors, before and without a daemon.
func TestPluginErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "daemon.sock")
	conf := []byte(`{"cniVersion":"1.0.0","name":"ovnet","type":"ovnet","serverSocket":"` + missing + `"}`)
	podArgs := "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p"
	tests := []struct {
		name  string
		cmd   func(*skel.CmdArgs) error
		stdin []byte
		args  string
		code  uint
	}{
		{"daemon down", Plugin{}.Funcs().Add, conf, podArgs, types.ErrTryAgainLater},
		{"daemon down on DEL", Plugin{}.Funcs().Del, conf, podArgs, types.ErrTryAgainLater},
		{"config not JSON", Plugin{}.Funcs().Add, []byte("{"), podArgs, types.ErrDecodingFailure},
		{"no pod in CNI_ARGS", Plugin{}.Funcs().Add, conf, "IgnoreUnknown=1", types.ErrInvalidEnvironmentVariables},
		{"CNI_ARGS garbage", Plugin{}.Funcs().Add, conf, "x", types.ErrInvalidEnvironmentVariables},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cmd(&skel.CmdArgs{ContainerID: "c1", Netns: "/run/netns/x", IfName: "eth0",
				Args: tt.args, StdinData: tt.stdin})
			var cniErr *types.Error
			if !errors.As(err, &cniErr) || cniErr.Code != tt.code || cniErr.Msg == "" {
				t.Fatalf("error = %v, want CNI code %d with a message", err, tt.code)
			}
		})
	}
}

// FuzzParsePodRef feeds any CNI_ARGS. Properties: no panic; an accepted
// identity holds no ';' or '=' (which would make CNI_ARGS ambiguous) and
// reads back the same when written as the runtime writes it.
func FuzzParsePodRef(f *testing.F) {
	for _, s := range []string{
		"IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=c;K8S_POD_UID=u",
		"", "garbage", "K8S_POD_NAME=p;SOMETHING=x", "K8S_POD_NAME==", ";;", "IgnoreUnknown=true;K8S_POD_NAME=a=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, args string) {
		pod, err := ParsePodRef(args)
		if err != nil {
			if pod != (PodRef{}) {
				t.Fatalf("error %v with a pod %+v", err, pod)
			}
			return
		}
		for _, v := range []string{pod.Namespace, pod.Name, pod.UID} {
			if strings.ContainsAny(v, ";=") {
				t.Fatalf("accepted %q from %q", v, args)
			}
		}
		written := "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.Namespace + ";K8S_POD_NAME=" + pod.Name + ";K8S_POD_UID=" + pod.UID
		if back, err := ParsePodRef(written); err != nil || back != pod {
			t.Fatalf("%+v written as %q reads back as %+v, %v", pod, written, back, err)
		}
	})
}

// FuzzParse feeds any network config and CNI_ARGS to the plugin's
// parsing, for every command. Properties: no panic; a refusal is a CNI
// error with a code and a message; an accepted ADD names a pod, and the
// request carries the runtime's parameters unchanged.
func FuzzParse(f *testing.F) {
	conf := `{"cniVersion":"1.0.0","name":"ovnet","type":"ovnet","serverSocket":"/run/ovnet/daemon.sock"}`
	for _, seed := range []struct{ stdin, args string }{
		{conf, "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p"},
		{conf, "IgnoreUnknown=1"},
		{`{"cniVersion":"1.1.0","name":"n","type":"ovnet","validAttachments":[{"containerID":"c","ifname":"eth0"}]}`, ""},
		{`{"cniVersion":"1.0.0","name":"n","type":"ovnet","prevResult":{"cniVersion":"1.0.0","ips":[]}}`, "K8S_POD_NAME=p"},
		{`{`, "x"}, {`null`, ""}, {`{"prevResult":[]}`, ""},
	} {
		for cmd := range uint8(5) {
			f.Add(cmd, []byte(seed.stdin), seed.args)
		}
	}
	commands := []Command{CommandAdd, CommandDel, CommandCheck, CommandGC, CommandStatus}
	f.Fuzz(func(t *testing.T, which uint8, stdin []byte, args string) {
		cmd := commands[int(which)%len(commands)]
		in := &skel.CmdArgs{ContainerID: "c1", Netns: "/run/netns/x", IfName: "eth0", Args: args, StdinData: stdin}
		conf, req, err := parse(cmd, in)
		if err != nil {
			var cniErr *types.Error
			if !errors.As(err, &cniErr) || cniErr.Code == 0 || cniErr.Msg == "" {
				t.Fatalf("refusal %v is no CNI error with a code and a message", err)
			}
			return
		}
		if conf.ServerSocket == "" || req.ContainerID != in.ContainerID || req.Netns != in.Netns || req.IfName != in.IfName {
			t.Fatalf("accepted %q as %+v, %+v", stdin, conf, req)
		}
		if cmd == CommandAdd && (req.Pod.Name == "" || req.Pod.Namespace == "") {
			t.Fatalf("ADD accepted without a pod: %q", args)
		}
		if req.PrevResult != nil && !json.Valid(req.PrevResult) {
			t.Fatalf("prevResult %q is not JSON", req.PrevResult)
		}
	})
}
