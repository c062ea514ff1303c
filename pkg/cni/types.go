package cni

import (
	"encoding/json"

	"github.com/containernetworking/cni/pkg/types"
)

// DefaultSocket is where the daemon listens unless the conflist says otherwise.
const DefaultSocket = "/run/ovnet/daemon.sock"

// PluginType is the plugin's binary name and "type" in the conflist.
const PluginType = "ovnet"

// SpecVersion is the CNI spec version of every result the daemon returns;
// the plugin converts it to the version the runtime's config asks for.
const SpecVersion = "1.1.0"

// SupportedVersions are the spec versions the plugin accepts in a config.
var SupportedVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// Command is a CNI command, as in CNI_COMMAND.
type Command string

const (
	CommandAdd    Command = "ADD"
	CommandDel    Command = "DEL"
	CommandCheck  Command = "CHECK"
	CommandGC     Command = "GC"
	CommandStatus Command = "STATUS"
)

// Path is where the daemon serves the command.
func (c Command) Path() string {
	switch c {
	case CommandAdd:
		return "/api/v1/add"
	case CommandDel:
		return "/api/v1/del"
	case CommandCheck:
		return "/api/v1/check"
	case CommandGC:
		return "/api/v1/gc"
	default:
		return "/api/v1/status"
	}
}

// NetConf is the plugin's entry in the conflist.
type NetConf struct {
	types.PluginConf
	// ServerSocket is the daemon's unix socket; DefaultSocket when empty.
	ServerSocket string `json:"serverSocket,omitempty"`
}

// Request is what the plugin sends the daemon: the CNI parameters of one
// command, with the pod's identity from CNI_ARGS.
type Request struct {
	ContainerID string `json:"containerID,omitempty"`
	Netns       string `json:"netns,omitempty"`
	IfName      string `json:"ifName,omitempty"`
	Pod         PodRef `json:"pod,omitempty"`
	// PrevResult is the ADD result the runtime hands to CHECK and DEL.
	PrevResult json.RawMessage `json:"prevResult,omitempty"`
	// ValidAttachments are, for GC, the attachments the runtime still uses.
	ValidAttachments []types.GCAttachment `json:"validAttachments,omitempty"`
}

// PodRef names the pod a container belongs to.
type PodRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
}

// podArgs are the Kubernetes keys of CNI_ARGS, as the kubelet's runtime
// sets them.
type podArgs struct {
	types.CommonArgs
	K8S_POD_NAMESPACE types.UnmarshallableString //nolint:revive // the CNI_ARGS key
	K8S_POD_NAME      types.UnmarshallableString //nolint:revive // the CNI_ARGS key
	K8S_POD_UID       types.UnmarshallableString //nolint:revive // the CNI_ARGS key
	// Read so that runtimes which omit IgnoreUnknown=1 are accepted too.
	K8S_POD_INFRA_CONTAINER_ID types.UnmarshallableString //nolint:revive // the CNI_ARGS key
}

// ParsePodRef reads the pod's identity from a CNI_ARGS string.
func ParsePodRef(args string) (PodRef, error) {
	var a podArgs
	if err := types.LoadArgs(args, &a); err != nil {
		return PodRef{}, err
	}
	return PodRef{Namespace: string(a.K8S_POD_NAMESPACE), Name: string(a.K8S_POD_NAME), UID: string(a.K8S_POD_UID)}, nil
}
