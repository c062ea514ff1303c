package cniserver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/daemon/podconfig"
	"github.com/ovnet/ovnet/pkg/daemon/podrecord"
)

// PodConfigurator makes, checks and removes a pod's network on the node;
// podconfig.Configurator is the one the daemon uses.
type PodConfigurator interface {
	// Plug makes the pod's interface and OVS port; on error, what it made
	// is left for Unplug.
	Plug(ctx context.Context, pod podconfig.Pod) (podconfig.Plugged, error)
	// WaitInstalled waits for ovn-controller to install the port.
	WaitInstalled(ctx context.Context, hostName string) error
	// Unplug removes an attachment; one already gone is no error.
	Unplug(ctx context.Context, hostName string) error
	// Check verifies the pod's interface and port; its error wraps
	// podconfig.ErrInterfaceMismatch for what differs.
	Check(ctx context.Context, pod podconfig.Pod) error
	// Attachments lists what is plugged, for GC.
	Attachments() ([]attachments.Attachment, error)
}

// Config is what the server needs besides its configurator.
type Config struct {
	// AddressTimeout bounds ADD's wait for the controller's record,
	// OVNTimeout its wait for ovn-controller.
	AddressTimeout time.Duration
	OVNTimeout     time.Duration
	// Pods holds the controller's records of this node's pods.
	Pods *podrecord.Book
	// Configurator does the pods' network.
	Configurator PodConfigurator
	// Underlay reports whether a Subnet is bridged to a physical network,
	// its pods' packets crossing no tunnel; nil: none is.
	Underlay func(ctx context.Context, subnet string) (bool, error)
	// Status is STATUS: nil when ADD could be served now, else an error
	// wrapping ErrNotReady.
	Status func(ctx context.Context) error
	// NetnsDirs are the directories the runtime pins pod network
	// namespaces in; a netns path elsewhere is refused unopened.
	// DefaultNetnsDirs when empty.
	NetnsDirs []string
	Logger    logr.Logger
	// Registerer receives the server's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Server answers the CNI plugin.
type Server struct {
	cfg Config
	log logr.Logger
	// pods and conf are cfg's, named for the commands' sake.
	pods *podrecord.Book
	conf PodConfigurator
	// rules check each request before it runs.
	rules rules
	// decoding holds a token per body being read (see maxDecoding).
	decoding chan struct{}
	// locks serialises the commands of one container.
	locks   keyedMutex
	metrics *metrics
}

// New checks cfg and returns a server; Serve starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Pods == nil || cfg.Configurator == nil || cfg.Status == nil {
		return nil, errors.New("CNI server: pod records, configurator and status are required")
	}
	if cfg.AddressTimeout <= 0 || cfg.OVNTimeout <= 0 {
		return nil, errors.New("CNI server: the address and OVN timeouts must be positive")
	}
	if len(cfg.NetnsDirs) == 0 {
		cfg.NetnsDirs = DefaultNetnsDirs
	}
	for _, dir := range cfg.NetnsDirs {
		if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || dir == "/" {
			return nil, fmt.Errorf("CNI server: netns directory %q must be a clean absolute path other than /", dir)
		}
	}
	return &Server{cfg: cfg, log: cfg.Logger, pods: cfg.Pods, conf: cfg.Configurator,
		rules: rules{netnsDirs: cfg.NetnsDirs}, decoding: make(chan struct{}, maxDecoding),
		metrics: newMetrics(cfg.Registerer)}, nil
}
