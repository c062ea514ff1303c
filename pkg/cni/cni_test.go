package cni

import (
	"errors"
	"path/filepath"
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
