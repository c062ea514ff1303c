package daemon

import (
	"errors"

	"github.com/containernetworking/cni/pkg/types"
)

// errPluginNotAvailable is the CNI STATUS code for "cannot serve ADD now".
const errPluginNotAvailable uint = 50

// Failures a runtime should be able to tell apart; codeOf maps each to
// its CNI error code.
var (
	// errInvalidRequest: a request field the daemon refuses before
	// touching anything.
	errInvalidRequest = errors.New("invalid request")
	// errInvalidNetNS: the netns path is no network namespace.
	errInvalidNetNS = errors.New("invalid network namespace")
	// errAddressTimeout: the controller did not address the pod in time.
	errAddressTimeout = errors.New("timed out waiting for the pod's address")
	// errOVNTimeout: ovn-controller did not install the port in time.
	errOVNTimeout = errors.New("timed out waiting for OVN to install the port")
	// errBadRecord: the pod's address annotations do not parse.
	errBadRecord = errors.New("the pod's address annotations are invalid")
	// errBadBandwidth: the pod's rate annotations do not parse.
	errBadBandwidth = errors.New("the pod's bandwidth annotations are invalid")
	// errNotReady: OVS or the API server is unreachable.
	errNotReady = errors.New("the node is not ready")
)

// codeOf picks the CNI error code for err.
func codeOf(err error) uint {
	switch {
	case errors.Is(err, errInvalidNetNS):
		return types.ErrInvalidNetNS
	case errors.Is(err, errInvalidRequest):
		return types.ErrInvalidEnvironmentVariables
	case errors.Is(err, errBadRecord), errors.Is(err, errBadBandwidth):
		return types.ErrInvalidNetworkConfig
	case errors.Is(err, errAddressTimeout), errors.Is(err, errOVNTimeout):
		return types.ErrTryAgainLater
	case errors.Is(err, errPodInterface):
		return types.ErrUnknownContainer
	case errors.Is(err, errNotReady):
		return errPluginNotAvailable
	default:
		return types.ErrInternal
	}
}

// cniError turns err into the error the plugin prints: the message first,
// so a runtime showing only "msg" still shows the reason.
func cniError(err error) *types.Error {
	var already *types.Error
	if errors.As(err, &already) {
		return already
	}
	return types.NewError(codeOf(err), err.Error(), "")
}
