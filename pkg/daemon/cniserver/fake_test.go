package cniserver

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/daemon/podconfig"
)

// fakeConfigurator stands in for podconfig.Configurator, as issue 9
// allows for the CNI server's tests: it records what it is asked and
// keeps the attachments it "plugged" in memory.
type fakeConfigurator struct {
	mu sync.Mutex
	// plugErr and installErr fail Plug and WaitInstalled; block makes
	// WaitInstalled wait for its context to end.
	plugErr    error
	installErr error
	block      bool
	checkErr   error
	unplugErr  error
	// plugged are the attachments by host name.
	plugged map[string]attachments.Attachment
	// plugs and unplugs record the calls.
	plugs   []podconfig.Pod
	unplugs []unplugCall
	// waiting is closed when WaitInstalled blocks.
	waiting chan struct{}
}

// unplugCall is one Unplug, with the state of its context on arrival.
type unplugCall struct {
	hostName string
	ctxErr   error
	deadline bool
}

func newFake() *fakeConfigurator {
	return &fakeConfigurator{plugged: map[string]attachments.Attachment{}, waiting: make(chan struct{})}
}

const fakeMTU = 1400

func (f *fakeConfigurator) Plug(_ context.Context, p podconfig.Pod) (podconfig.Plugged, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plugs = append(f.plugs, p)
	if f.plugErr != nil {
		return podconfig.Plugged{}, f.plugErr
	}
	f.plugged[p.Attachment.HostName] = p.Attachment
	if p.Step != nil {
		p.Step("plug")
	}
	mac := net.HardwareAddr{0x0a, 0x58, 0, 0, 0, 1}
	return podconfig.Plugged{HostName: p.Attachment.HostName, HostMAC: mac, MTU: fakeMTU}, nil
}

func (f *fakeConfigurator) WaitInstalled(ctx context.Context, _ string) error {
	if f.block {
		close(f.waiting)
		<-ctx.Done()
		return ctx.Err()
	}
	return f.installErr
}

func (f *fakeConfigurator) Unplug(ctx context.Context, hostName string) error {
	_, deadline := ctx.Deadline()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unplugs = append(f.unplugs, unplugCall{hostName: hostName, ctxErr: ctx.Err(), deadline: deadline})
	delete(f.plugged, hostName)
	return f.unplugErr
}

func (f *fakeConfigurator) Check(context.Context, podconfig.Pod) error { return f.checkErr }

func (f *fakeConfigurator) Attachments() ([]attachments.Attachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var list []attachments.Attachment
	for _, a := range f.plugged {
		list = append(list, a)
	}
	return list, nil
}

// unplugged returns the host names Unplug was called with.
func (f *fakeConfigurator) unplugged() []unplugCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]unplugCall(nil), f.unplugs...)
}

// testTimeouts keep a failing wait short.
const (
	testAddressTimeout = 200 * time.Millisecond
	testOVNTimeout     = 200 * time.Millisecond
)
