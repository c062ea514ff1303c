package podrecord

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/cni"
)

// pod is a pod of this node; record adds the controller's address.
func pod(name, uid string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(uid),
		Annotations: annotations}}
}

// record is a complete address record as the controller writes it.
func record(ip string) map[string]string {
	return annotation.Address{Holding: annotation.Holding{IP: netip.MustParseAddr(ip),
		MAC: net.HardwareAddr{0x0a, 0, 0, 0, 0, 1}, LogicalSwitch: "ovn-default"},
		Subnet: netip.MustParsePrefix("10.16.0.0/16"), Gateway: netip.MustParseAddr("10.16.0.1")}.Annotations()
}

func TestLookup(t *testing.T) {
	broken := record("10.16.0.2")
	broken[annotation.MACAddress] = "not-a-mac"
	tests := []struct {
		name    string
		pods    []*corev1.Pod
		ref     cni.PodRef
		wantIP  string
		wantWhy string
		wantErr error
	}{
		{"addressed", []*corev1.Pod{pod("a", "u1", record("10.16.0.2"))}, cni.PodRef{Namespace: "default", Name: "a", UID: "u1"},
			"10.16.0.2", "", nil},
		{"runtime gives no uid", []*corev1.Pod{pod("a", "u1", record("10.16.0.2"))}, cni.PodRef{Namespace: "default", Name: "a"},
			"10.16.0.2", "", nil},
		{"unknown pod", nil, cni.PodRef{Namespace: "default", Name: "a"}, "", "not (yet) known", nil},
		{"other uid", []*corev1.Pod{pod("a", "u2", record("10.16.0.2"))}, cni.PodRef{Namespace: "default", Name: "a", UID: "u1"},
			"", "has uid u2", nil},
		{"not addressed yet", []*corev1.Pod{pod("a", "u1", nil)}, cni.PodRef{Namespace: "default", Name: "a"},
			"", "no address", nil},
		{"broken record", []*corev1.Pod{pod("a", "u1", broken)}, cni.PodRef{Namespace: "default", Name: "a"},
			"", "", ErrBadRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBook(nil)
			for _, p := range tt.pods {
				b.Put(p)
			}
			got, why, err := b.Lookup(tt.ref)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Lookup error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantIP != "" && (got.Pod == nil || got.Address.IP.String() != tt.wantIP) {
				t.Fatalf("Lookup = %+v, want address %s", got, tt.wantIP)
			}
			if tt.wantIP == "" && got.Pod != nil {
				t.Fatalf("Lookup = %+v, want no record", got)
			}
			if !strings.Contains(why, tt.wantWhy) {
				t.Fatalf("Lookup says %q, want %q", why, tt.wantWhy)
			}
		})
	}
}

// Wait returns as soon as the informer delivers the addressed pod, and
// every waiter of the pod is woken, however many there are.
func TestWaitWakesEveryWaiter(t *testing.T) {
	b := NewBook(nil)
	h := b.Handler()
	h.OnAdd(pod("a", "u1", nil), false)
	ref := cni.PodRef{Namespace: "default", Name: "a"}
	const waiters = 3
	results := make(chan error, waiters)
	gaveUp, giveUp := context.WithCancel(context.Background())
	go func() {
		_, err := b.Wait(gaveUp, ref)
		results <- err
	}()
	for range waiters - 1 {
		go func() {
			got, err := b.Wait(context.Background(), ref)
			if err == nil && got.Address.IP.String() != "10.16.0.2" {
				err = errors.New("wrong record " + got.Address.IP.String())
			}
			results <- err
		}()
	}
	waitPending(t, b, ref, waiters)
	giveUp()
	if err := <-results; !errors.Is(err, ErrNotAddressed) || !strings.Contains(err.Error(), "no address") {
		t.Fatalf("the waiter that gave up: %v, want ErrNotAddressed saying what was last seen", err)
	}
	h.OnUpdate(pod("a", "u1", nil), pod("a", "u1", record("10.16.0.2")))
	for range waiters - 1 {
		select {
		case err := <-results:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter was not woken by the pod's address")
		}
	}
	if n := b.events.pending(types.NamespacedName{Namespace: "default", Name: "a"}); n != 0 {
		t.Errorf("%d waiters left behind", n)
	}
}

// A pod deleted while ADD waits: the waiter sees it gone, and a
// deletion the informer only learnt of late is handled the same way.
func TestDeleteWakes(t *testing.T) {
	tests := []struct {
		name string
		obj  func(*corev1.Pod) any
	}{
		{"deleted", func(p *corev1.Pod) any { return p }},
		{"deleted, final state unknown", func(p *corev1.Pod) any {
			return toolscache.DeletedFinalStateUnknown{Key: "default/a", Obj: p}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBook(nil)
			h := b.Handler()
			p := pod("a", "u1", nil)
			h.OnAdd(p, false)
			ref := cni.PodRef{Namespace: "default", Name: "a"}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { _, err := b.Wait(ctx, ref); done <- err }()
			waitPending(t, b, ref, 1)
			h.OnDelete(tt.obj(p))
			waitPending(t, b, ref, 1) // woken, it looked again and waits anew
			if _, why, _ := b.Lookup(ref); !strings.Contains(why, "not (yet) known") {
				t.Fatalf("after the deletion the pod %s", why)
			}
			cancel()
			if err := <-done; !errors.Is(err, ErrNotAddressed) {
				t.Fatalf("Wait = %v", err)
			}
		})
	}
}

// waitPending waits until n waiters wait on the pod.
func waitPending(t *testing.T, b *Book, ref cni.PodRef, n int) {
	t.Helper()
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	deadline := time.Now().Add(5 * time.Second)
	for b.events.pending(key) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters, want %d", b.events.pending(key), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A pod the informer has not delivered (its watch in backoff after an
// outage of the API server) is read from the API server until it shows
// the record; a pod the informer has is never read.
func TestWaitFetchesWhatTheInformerLacks(t *testing.T) {
	var fetches atomic.Int32
	fetch := func(_ context.Context, namespace, name string) (*corev1.Pod, error) {
		if namespace != "default" || name != "a" {
			return nil, fmt.Errorf("asked for %s/%s", namespace, name)
		}
		switch fetches.Add(1) {
		case 1:
			return nil, errors.New("connection refused")
		case 2:
			return pod("a", "u1", nil), nil
		}
		return pod("a", "u1", record("10.16.0.2")), nil
	}
	b := NewBook(fetch)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := b.Wait(ctx, cni.PodRef{Namespace: "default", Name: "a", UID: "u1"})
	if err != nil || got.Address.IP.String() != "10.16.0.2" {
		t.Fatalf("Wait = %+v, %v; want the fetched record", got, err)
	}
	if n := fetches.Load(); n != 3 {
		t.Errorf("%d fetches, want 3 (refused, unaddressed, addressed)", n)
	}

	fetches.Store(0)
	b.Put(pod("b", "u2", record("10.16.0.3")))
	if _, err := b.Wait(ctx, cni.PodRef{Namespace: "default", Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if n := fetches.Load(); n != 0 {
		t.Errorf("%d fetches of a pod the informer delivered", n)
	}
}
