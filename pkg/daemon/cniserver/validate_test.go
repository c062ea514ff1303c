package cniserver

import (
	"errors"
	"strings"
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
		{"gc with a bad interface", cni.CommandGC, func(r *cni.Request) {
			*r = cni.Request{ValidAttachments: []types.GCAttachment{{ContainerID: "x", IfName: "a/b"}}}
		}, true},
		// netns paths: inside the runtime's directories, or a process's.
		{"netns in /run/netns", cni.CommandAdd, func(r *cni.Request) { r.Netns = "/run/netns/cni-1" }, false},
		{"netns of a process", cni.CommandCheck, func(r *cni.Request) { r.Netns = "/proc/4242/ns/net" }, false},
		{"netns outside the directories", cni.CommandAdd, func(r *cni.Request) { r.Netns = "/etc/passwd" }, true},
		{"netns in a subdirectory", cni.CommandAdd, func(r *cni.Request) { r.Netns = "/run/netns/x/y" }, true},
		{"netns the directory itself", cni.CommandAdd, func(r *cni.Request) { r.Netns = "/run/netns" }, true},
		{"netns of another namespace kind", cni.CommandAdd, func(r *cni.Request) { r.Netns = "/proc/1/ns/mnt" }, true},
		{"netns of pid 0", cni.CommandAdd, func(r *cni.Request) { r.Netns = "/proc/0/ns/net" }, true},
		{"netns of self", cni.CommandAdd, func(r *cni.Request) { r.Netns = "/proc/self/ns/net" }, true},
		{"netns with a newline", cni.CommandAdd, func(r *cni.Request) { r.Netns = "/run/netns/a\nb" }, true},
		{"netns with NUL", cni.CommandAdd, func(r *cni.Request) { r.Netns = "/run/netns/a\x00" }, true},
		{"del netns outside", cni.CommandDel, func(r *cni.Request) { r.Netns = "/tmp/x" }, true},
		// container IDs: the CNI spec's characters only.
		{"container id with semicolon", cni.CommandAdd, func(r *cni.Request) { r.ContainerID = "abc;rm -rf /" }, true},
		{"container id with dollar", cni.CommandAdd, func(r *cni.Request) { r.ContainerID = "abc$(id)" }, true},
		{"container id with backquote", cni.CommandDel, func(r *cni.Request) { r.ContainerID = "a`id`" }, true},
		{"container id with pipe", cni.CommandCheck, func(r *cni.Request) { r.ContainerID = "a|b" }, true},
		{"container id with space", cni.CommandAdd, func(r *cni.Request) { r.ContainerID = "a b" }, true},
		{"container id too long", cni.CommandAdd, func(r *cni.Request) { r.ContainerID = strings.Repeat("a", 257) }, true},
		{"container id 64 hex", cni.CommandAdd, func(r *cni.Request) { r.ContainerID = strings.Repeat("f", 64) }, false},
		// interface names: the kernel's rule.
		{"interface name 15 bytes", cni.CommandAdd, func(r *cni.Request) { r.IfName = "eth012345678901" }, false},
		{"interface name with slash", cni.CommandAdd, func(r *cni.Request) { r.IfName = "eth/0" }, true},
		{"interface name dotdot", cni.CommandAdd, func(r *cni.Request) { r.IfName = ".." }, true},
		{"interface name with tab", cni.CommandAdd, func(r *cni.Request) { r.IfName = "eth\t0" }, true},
		{"interface name with carriage return", cni.CommandAdd, func(r *cni.Request) { r.IfName = "eth\r" }, true},
		{"interface name 16 bytes of UTF-8", cni.CommandAdd, func(r *cni.Request) { r.IfName = "ééééééééé" }, true},
		{"empty interface name", cni.CommandDel, func(r *cni.Request) { r.IfName = "" }, true},
		// pod names: DNS subdomains, namespaces DNS labels.
		{"pod name with dots", cni.CommandAdd, func(r *cni.Request) { r.Pod.Name = "web.v1" }, false},
		{"pod name with underscore", cni.CommandAdd, func(r *cni.Request) { r.Pod.Name = "web_0" }, true},
		{"pod name with slash", cni.CommandAdd, func(r *cni.Request) { r.Pod.Name = "a/b" }, true},
		{"pod name too long", cni.CommandAdd, func(r *cni.Request) { r.Pod.Name = strings.Repeat("a", 254) }, true},
		{"pod namespace with dot", cni.CommandAdd, func(r *cni.Request) { r.Pod.Namespace = "a.b" }, true},
		{"pod namespace too long", cni.CommandCheck, func(r *cni.Request) { r.Pod.Namespace = strings.Repeat("a", 64) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good()
			if tt.edit != nil {
				tt.edit(req)
			}
			err := rules{netnsDirs: DefaultNetnsDirs}.validate(tt.cmd, req)
			if (err != nil) != tt.wantErr {
				t.Fatalf("validate(%s, %+v) = %v, want error %v", tt.cmd, req, err, tt.wantErr)
			}
			if err != nil && len(err.Error()) > 1024 {
				t.Fatalf("error of %d bytes: a refused value must not be echoed whole", len(err.Error()))
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
