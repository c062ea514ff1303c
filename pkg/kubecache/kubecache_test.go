package kubecache_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/kubecache"
	"github.com/ovnet/ovnet/test/harness"
)

// cachePods is how many pods TestCacheWaits loads: enough that a handler
// added after the informer synced takes a while to be handed them all.
const cachePods = 300

// A reconciler's workers start once the cache says it has synced: by then
// the informers must hold every object and each reconciler's handler must
// have been handed every one of them, or the first reconciles miss
// objects. The cache waits on channels rather than polling; these are
// controller-runtime's guarantees, which must hold whatever the waiting
// is made of.
func TestCacheWaits(t *testing.T) {
	api := harness.StartAPIServer(t, harness.APIServerOptions{})
	ctx := t.Context()
	cl, err := client.New(api.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range cachePods {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("p%d", i)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause"}}}}
		if err := cl.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	cached := startCache(t, api)
	informer := podInformer(t, cached)
	// Every other informer synced too, so that what follows waits only
	// for handlers.
	if !syncedWithin(t, cached, time.Minute) {
		t.Fatal("WaitForCacheSync returned false")
	}

	t.Run("an informer asked for is returned synced", func(t *testing.T) {
		if !informer.HasSynced() {
			t.Fatal("GetInformer returned the pod informer before it synced")
		}
		var pods corev1.PodList
		if err := cached.List(ctx, &pods); err != nil || len(pods.Items) != cachePods {
			t.Fatalf("the cache lists %d pods (%v), want %d", len(pods.Items), err, cachePods)
		}
	})
	t.Run("the sync waits for a new handler to have every pod", func(t *testing.T) {
		var added atomic.Int64
		if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { added.Add(1); time.Sleep(100 * time.Microsecond) },
		}); err != nil {
			t.Fatal(err)
		}
		if !syncedWithin(t, cached, time.Minute) {
			t.Fatal("WaitForCacheSync returned false")
		}
		if n := added.Load(); n != cachePods {
			t.Errorf("the handler had %d pods when the cache said it had synced, want %d", n, cachePods)
		}
	})
	t.Run("a handler stuck on its first pod holds the sync", func(t *testing.T) {
		reg := stuckHandler(t, informer)
		defer informer.RemoveEventHandler(reg)
		if syncedWithin(t, cached, time.Second) {
			t.Error("WaitForCacheSync said synced while a handler had not had its pods")
		}
	})
	t.Run("a handler removed is no longer waited for", func(t *testing.T) {
		if err := informer.RemoveEventHandler(stuckHandler(t, informer)); err != nil {
			t.Fatal(err)
		}
		if !syncedWithin(t, cached, time.Minute) {
			t.Error("WaitForCacheSync still waits for a removed handler")
		}
	})
	t.Run("an informer removed is no longer waited for", func(t *testing.T) {
		// One ConfigMap for the handler to be stuck on.
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "one"}}
		if err := cl.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
		configMaps, err := cached.GetInformer(ctx, &corev1.ConfigMap{})
		if err != nil {
			t.Fatal(err)
		}
		stuckHandler(t, configMaps)
		if syncedWithin(t, cached, time.Second) {
			t.Fatal("WaitForCacheSync said synced while the ConfigMap handler was stuck")
		}
		if err := cached.RemoveInformer(ctx, &corev1.ConfigMap{}); err != nil {
			t.Fatal(err)
		}
		if !syncedWithin(t, cached, time.Minute) {
			t.Error("WaitForCacheSync still waits for a removed informer's handler")
		}
	})
	t.Run("before the cache starts an informer is returned without waiting", func(t *testing.T) {
		// As controller-runtime's: a daemon adds its handlers before it
		// starts the manager, which starts the cache.
		unstarted, err := kubecache.New(api.Config, cache.Options{Scheme: controller.Scheme()})
		if err != nil {
			t.Fatal(err)
		}
		bounded, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := unstarted.GetInformer(bounded, &corev1.Pod{}); err != nil {
			t.Fatal(err)
		}
	})
}

// startCache starts a cache of the API server's cluster.
func startCache(t *testing.T, api *harness.APIServer) cache.Cache {
	t.Helper()
	c, err := kubecache.New(api.Config, cache.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if err := c.Start(t.Context()); err != nil {
			t.Errorf("cache stopped: %v", err)
		}
	}()
	return c
}

// syncedWithin reports whether c's WaitForCacheSync returns true within d.
func syncedWithin(t *testing.T, c cache.Cache, d time.Duration) bool {
	t.Helper()
	bounded, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return c.WaitForCacheSync(bounded)
}

// podInformer asks the cache for its pod informer, waiting for it to sync.
func podInformer(t *testing.T, c cache.Cache) cache.Informer {
	t.Helper()
	bounded, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	informer, err := c.GetInformer(bounded, &corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	return informer
}

// stuckHandler adds a handler to informer that blocks on its first pod
// until the test ends.
func stuckHandler(t *testing.T, informer cache.Informer) toolscache.ResourceEventHandlerRegistration {
	t.Helper()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reg, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: func(any) { <-release }})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}
