package cni

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
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
)

// DefaultTimeout bounds one command end to end. It exceeds the daemon's
// own bounds on waiting for the address and for OVN, so that the daemon's
// more precise error is the one the runtime sees.
const DefaultTimeout = 150 * time.Second

// Plugin is the CNI binary's logic: parse, forward, print.
type Plugin struct {
	// Timeout bounds each command; DefaultTimeout when zero.
	Timeout time.Duration
	// Stdout receives ADD's result; os.Stdout when nil.
	Stdout io.Writer
}

// Funcs hands the plugin's commands to skel.
func (p Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{
		Add:    p.add,
		Del:    func(args *skel.CmdArgs) error { return p.forwardOnly(CommandDel, args) },
		Check:  func(args *skel.CmdArgs) error { return p.forwardOnly(CommandCheck, args) },
		GC:     func(args *skel.CmdArgs) error { return p.forwardOnly(CommandGC, args) },
		Status: func(args *skel.CmdArgs) error { return p.forwardOnly(CommandStatus, args) },
	}
}

func (p Plugin) add(args *skel.CmdArgs) error {
	conf, req, err := parse(CommandAdd, args)
	if err != nil {
		return err
	}
	body, err := p.call(conf, CommandAdd, req)
	if err != nil {
		return err
	}
	result, err := current.NewResult(body)
	if err != nil {
		return types.NewError(types.ErrDecodingFailure, "the ovnet daemon's result does not decode", err.Error())
	}
	// Converted to the version the runtime's config names.
	converted, err := result.GetAsVersion(conf.CNIVersion)
	if err != nil {
		return types.NewError(types.ErrIncompatibleCNIVersion, "cannot express the result in CNI "+conf.CNIVersion, err.Error())
	}
	out := p.Stdout
	if out == nil {
		out = os.Stdout
	}
	return converted.PrintTo(out)
}

// forwardOnly sends a command whose only answer is success or an error.
func (p Plugin) forwardOnly(cmd Command, args *skel.CmdArgs) error {
	conf, req, err := parse(cmd, args)
	if err != nil {
		return err
	}
	_, err = p.call(conf, cmd, req)
	return err
}

// parse reads the config and environment skel collected into a request.
func parse(cmd Command, args *skel.CmdArgs) (*NetConf, *Request, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(args.StdinData, conf); err != nil {
		return nil, nil, types.NewError(types.ErrDecodingFailure, "network config is not valid JSON", err.Error())
	}
	if conf.ServerSocket == "" {
		conf.ServerSocket = DefaultSocket
	}
	pod, err := ParsePodRef(args.Args)
	if err != nil {
		return nil, nil, types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_ARGS does not parse", err.Error())
	}
	req := &Request{ContainerID: args.ContainerID, Netns: args.Netns, IfName: args.IfName, Pod: pod,
		ValidAttachments: conf.ValidAttachments}
	if conf.RawPrevResult != nil {
		if req.PrevResult, err = json.Marshal(conf.RawPrevResult); err != nil {
			return nil, nil, types.NewError(types.ErrDecodingFailure, "prevResult does not encode", err.Error())
		}
	}
	if cmd == CommandAdd && (pod.Name == "" || pod.Namespace == "") {
		return nil, nil, types.NewError(types.ErrInvalidEnvironmentVariables,
			"CNI_ARGS lacks K8S_POD_NAMESPACE or K8S_POD_NAME: ovnet serves Kubernetes pods only", args.Args)
	}
	return conf, req, nil
}

// call posts the request to the daemon and returns the body of a
// successful answer, or the daemon's CNI error.
func (p Plugin) call(conf *NetConf, cmd Command, req *Request) ([]byte, error) {
	timeout := p.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, types.NewError(types.ErrInternal, "request does not encode", err.Error())
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://ovnet"+cmd.Path(), bytes.NewReader(payload))
	if err != nil {
		return nil, types.NewError(types.ErrInternal, "request does not build", err.Error())
	}
	httpReq.Header.Set("Content-Type", "application/json")
	resp, err := unixClient(conf.ServerSocket).Do(httpReq)
	if err != nil {
		return nil, transportError(conf.ServerSocket, timeout, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, types.NewError(types.ErrIOFailure, "reading the ovnet daemon's answer", err.Error())
	}
	if resp.StatusCode/100 == 2 {
		return body, nil
	}
	cniErr := &types.Error{}
	if json.Unmarshal(body, cniErr) != nil || cniErr.Code == 0 {
		return nil, types.NewError(types.ErrInternal,
			fmt.Sprintf("the ovnet daemon answered %s", resp.Status), string(body))
	}
	return nil, cniErr
}

// transportError explains a failure to reach the daemon at all.
func transportError(socket string, timeout time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return types.NewError(types.ErrTryAgainLater,
			fmt.Sprintf("the ovnet daemon did not answer within %s", timeout), err.Error())
	}
	return types.NewError(types.ErrTryAgainLater,
		"the ovnet daemon is not reachable at "+socket+": is ovnet-daemon running on this node?", err.Error())
}

// unixClient is an HTTP client whose every connection goes to socket.
func unixClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}
}
