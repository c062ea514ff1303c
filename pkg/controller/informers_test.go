package controller

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Only an API server that is not there to answer is waited for inside the
// informer's call; an answer, even an error, goes back to client-go.
func TestUnreachable(t *testing.T) {
	dial := func(errno syscall.Errno) error {
		return fmt.Errorf("list pods: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)})
	}
	pods := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", dial(syscall.ECONNREFUSED), true},
		{"connection reset", dial(syscall.ECONNRESET), true},
		{"connection closed mid-reply", &url.Error{Op: "Get", URL: "https://127.0.0.1:6443/api/v1/pods", Err: io.ErrUnexpectedEOF}, true},
		{"no reply in time", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, true},
		{"starting, not serving yet", apierrors.NewServiceUnavailable("etcd not ready"), true},
		{"throttled", apierrors.NewTooManyRequests("slow down", 1), false},
		{"forbidden", apierrors.NewForbidden(pods, "", errors.New("RBAC")), false},
		{"resource version too old", apierrors.NewResourceExpired("too old"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unreachable(tt.err); got != tt.want {
				t.Errorf("unreachable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
