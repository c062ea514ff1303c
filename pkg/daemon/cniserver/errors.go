package cniserver

import (
	"errors"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ovnet/ovnet/pkg/daemon/podconfig"
	"github.com/ovnet/ovnet/pkg/daemon/podrecord"
)

// errPluginNotAvailable is the CNI STATUS code for "cannot serve ADD now".
const errPluginNotAvailable uint = 50

// Failures a runtime should be able to tell apart, beside those of the
// pod records and the configurator; codeOf maps each to its CNI code.
var (
	// errInvalidRequest: a request field the daemon refuses before
	// touching anything.
	errInvalidRequest = errors.New("invalid request")
	// errOVNTimeout: ovn-controller did not install the port in time.
	errOVNTimeout = errors.New("timed out waiting for OVN to install the port")
	// errBadBandwidth: the pod's rate annotations do not parse.
	errBadBandwidth = errors.New("the pod's bandwidth annotations are invalid")
	// ErrNotReady: OVS or the API server is unreachable; STATUS checks
	// wrap it.
	ErrNotReady = errors.New("the node is not ready")
)

// codeOf picks the CNI error code for err.
func codeOf(err error) uint {
	switch {
	case errors.Is(err, podconfig.ErrInvalidNetNS):
		return types.ErrInvalidNetNS
	case errors.Is(err, errInvalidRequest):
		return types.ErrInvalidEnvironmentVariables
	case errors.Is(err, podrecord.ErrBadRecord), errors.Is(err, errBadBandwidth):
		return types.ErrInvalidNetworkConfig
	case errors.Is(err, podrecord.ErrNotAddressed), errors.Is(err, errOVNTimeout):
		return types.ErrTryAgainLater
	case errors.Is(err, podconfig.ErrInterfaceMismatch):
		return types.ErrUnknownContainer
	case errors.Is(err, ErrNotReady):
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
