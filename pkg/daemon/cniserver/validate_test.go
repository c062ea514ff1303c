package cniserver

import (
	"errors"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/pkg/daemon/podconfig"
	"github.com/ovnet/ovnet/pkg/daemon/podrecord"
)

func TestValidateRequest(t *testing.T) {
	good := func() *cni.Request {
		return &cni.Request{ContainerID: "abc123", Netns: "/var/run/netns/cni-1", IfName: "eth0",
			Pod: cni.PodRef{Namespace: "default", Name: "web-0"}}
	}
	tests := []struct {
		name    string
		cmd     cni.Command
		edit    func(*cni.Request)
		wantErr bool
	}{
		{"add", cni.CommandAdd, nil, false},
		{"del without netns", cni.CommandDel, func(r *cni.Request) { r.Netns = "" }, false},
		{"del without pod", cni.CommandDel, func(r *cni.Request) { r.Pod = cni.PodRef{} }, false},
		{"add without netns", cni.CommandAdd, func(r *cni.Request) { r.Netns = "" }, true},
		{"relative netns", cni.CommandAdd, func(r *cni.Request) { r.Netns = "netns/x" }, true},
		{"unclean netns", cni.CommandAdd, func(r *cni.Request) { r.Netns = "/run/netns/../x" }, true},
		{"container id with slash", cni.CommandAdd, func(r *cni.Request) { r.ContainerID = "a/b" }, true},
		{"empty container id", cni.CommandDel, func(r *cni.Request) { r.ContainerID = "" }, true},
		{"interface name too long", cni.CommandAdd, func(r *cni.Request) { r.IfName = "eth0123456789012" }, true},
		{"interface name with colon", cni.CommandAdd, func(r *cni.Request) { r.IfName = "eth0:1" }, true},
		{"interface name dot", cni.CommandCheck, func(r *cni.Request) { r.IfName = "." }, true},
		{"pod name uppercase", cni.CommandAdd, func(r *cni.Request) { r.Pod.Name = "Web" }, true},
		{"pod namespace missing", cni.CommandAdd, func(r *cni.Request) { r.Pod.Namespace = "" }, true},
		{"status needs nothing", cni.CommandStatus, func(r *cni.Request) { *r = cni.Request{} }, false},
		{"gc with a bad attachment", cni.CommandGC, func(r *cni.Request) {
			*r = cni.Request{ValidAttachments: []types.GCAttachment{{ContainerID: "-x", IfName: "eth0"}}}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good()
			if tt.edit != nil {
				tt.edit(req)
			}
			err := validateRequest(tt.cmd, req)
			if (err != nil) != tt.wantErr {
				t.Fatalf("validateRequest(%s, %+v) = %v, want error %v", tt.cmd, req, err, tt.wantErr)
			}
			if err != nil && (!errors.Is(err, errInvalidRequest) || codeOf(err) != types.ErrInvalidEnvironmentVariables) {
				t.Fatalf("error %v is not an invalid-request error with code 4", err)
			}
		})
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		code uint
	}{
		{podconfig.ErrInvalidNetNS, types.ErrInvalidNetNS},
		{podrecord.ErrNotAddressed, types.ErrTryAgainLater},
		{errOVNTimeout, types.ErrTryAgainLater},
		{errBadBandwidth, types.ErrInvalidNetworkConfig},
		{podrecord.ErrBadRecord, types.ErrInvalidNetworkConfig},
		{podconfig.ErrInterfaceMismatch, types.ErrUnknownContainer},
		{ErrNotReady, errPluginNotAvailable},
		{errors.New("anything else"), types.ErrInternal},
	}
	for _, tt := range tests {
		if got := cniError(tt.err).Code; got != tt.code {
			t.Errorf("code of %v = %d, want %d", tt.err, got, tt.code)
		}
	}
}
