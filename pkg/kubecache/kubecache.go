package kubecache

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Cache is a controller-runtime cache whose waits are on client-go's
// DoneChecker channels.
//
// controller-runtime v0.24 checks every 100 ms whether an informer, or a
// reconciler source's handler, has synced. A manager's start takes two such
// waits one after the other (the caches, then each source's handler), a
// blocking GetInformer a third: the controller sat idle for 200 to 300 ms
// after its informers had synced, a third of its cold start on 500
// NetworkPolicies. Here each wait ends when its informer or handler does.
type Cache struct {
	cache.Cache
	// started: Start has been called. Before, an informer is handed out
	// without waiting, as controller-runtime does: it cannot sync yet.
	started atomic.Bool
	mu      sync.Mutex
	// informers are those handed out by GetInformer: what WaitForCacheSync
	// waits for first.
	informers map[cache.Informer]toolscache.DoneChecker
	// byType finds the informer of an object's type, for RemoveInformer.
	byType map[reflect.Type]cache.Informer
	// handlers are the registrations of the handlers added to them (the
	// reconcilers' sources among them), until removed.
	handlers map[toolscache.ResourceEventHandlerRegistration]handler
}

// handler is a handler's informer and the channel of its initial events.
type handler struct {
	informer cache.Informer
	synced   toolscache.DoneChecker
}

// New makes controller-runtime's cache and wraps it; it fits a manager's
// NewCache option.
func New(cfg *rest.Config, opts cache.Options) (cache.Cache, error) {
	inner, err := cache.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	return wrap(inner), nil
}

// wrap waits on c's informers and handlers without polling.
func wrap(c cache.Cache) *Cache {
	return &Cache{Cache: c, informers: map[cache.Informer]toolscache.DoneChecker{}, byType: map[reflect.Type]cache.Informer{},
		handlers: map[toolscache.ResourceEventHandlerRegistration]handler{}}
}

// Start runs the informers until ctx ends.
func (c *Cache) Start(ctx context.Context) error {
	c.started.Store(true)
	return c.Cache.Start(ctx)
}

// NeedLeaderElection is the wrapped cache's answer: controller-runtime's
// cache runs on every replica. A cache added to a manager as a runnable is
// placed by it.
func (c *Cache) NeedLeaderElection() bool {
	if r, ok := c.Cache.(interface{ NeedLeaderElection() bool }); ok {
		return r.NeedLeaderElection()
	}
	return true
}

// GetInformer is the cache's; once the cache has started it waits for the
// informer to sync, unless opts say not to.
func (c *Cache) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	inf, err := c.Cache.GetInformer(ctx, obj, append(opts, cache.BlockUntilSynced(false))...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.byType[reflect.TypeOf(obj)] = inf
	c.mu.Unlock()
	return c.handOut(ctx, inf, opts)
}

// RemoveInformer stops the informer of obj's type; neither it nor its
// handlers are waited for any more, as they will never sync. It finds
// informers asked for by object (GetInformer), which is how every
// reconciler's source asks; one asked for only by kind stays waited for.
func (c *Cache) RemoveInformer(ctx context.Context, obj client.Object) error {
	c.mu.Lock()
	if inf, ok := c.byType[reflect.TypeOf(obj)]; ok {
		delete(c.byType, reflect.TypeOf(obj))
		delete(c.informers, inf)
		maps.DeleteFunc(c.handlers, func(_ toolscache.ResourceEventHandlerRegistration, h handler) bool { return h.informer == inf })
	}
	c.mu.Unlock()
	return c.Cache.RemoveInformer(ctx, obj)
}

// GetInformerForKind is GetInformer by group, version and kind.
func (c *Cache) GetInformerForKind(ctx context.Context, gvk schema.GroupVersionKind, opts ...cache.InformerGetOption) (cache.Informer, error) {
	inf, err := c.Cache.GetInformerForKind(ctx, gvk, append(opts, cache.BlockUntilSynced(false))...)
	if err != nil {
		return nil, err
	}
	return c.handOut(ctx, inf, opts)
}

// handOut tracks inf, waits for it as opts say, and returns it wrapped so
// that its handlers are tracked too.
func (c *Cache) handOut(ctx context.Context, inf cache.Informer, opts []cache.InformerGetOption) (cache.Informer, error) {
	var o cache.InformerGetOptions
	for _, opt := range opts {
		opt(&o)
	}
	synced := inf.HasSyncedChecker()
	c.mu.Lock()
	c.informers[inf] = synced
	c.mu.Unlock()
	block := o.BlockUntilSynced == nil || *o.BlockUntilSynced
	if block && c.started.Load() && !toolscache.WaitFor(ctx, "", synced) {
		return nil, fmt.Errorf("informer %s did not sync: %w", synced.Name(), context.Cause(ctx))
	}
	return trackedInformer{Informer: inf, cache: c}, nil
}

// WaitForCacheSync waits until every informer handed out by GetInformer
// has synced and every handler added to them has had its initial events.
// Informers the cache makes for a read of a kind nobody asked for are
// left out: that read waits for its own, and checking them here would
// bring back the poll whenever one is still loading.
func (c *Cache) WaitForCacheSync(ctx context.Context) bool {
	c.mu.Lock()
	checkers := slices.Collect(maps.Values(c.informers))
	for _, h := range c.handlers {
		checkers = append(checkers, h.synced)
	}
	c.mu.Unlock()
	return toolscache.WaitFor(ctx, "", checkers...)
}

func (c *Cache) track(inf cache.Informer, reg toolscache.ResourceEventHandlerRegistration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers[reg] = handler{informer: inf, synced: reg.HasSyncedChecker()}
}

func (c *Cache) untrack(reg toolscache.ResourceEventHandlerRegistration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.handlers, reg)
}

// trackedInformer is an informer of Cache, whose handlers' sync the cache
// waits for.
type trackedInformer struct {
	cache.Informer
	cache *Cache
}

func (i trackedInformer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.added(i.Informer.AddEventHandler(h))
}

func (i trackedInformer) AddEventHandlerWithResyncPeriod(h toolscache.ResourceEventHandler, resync time.Duration) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.added(i.Informer.AddEventHandlerWithResyncPeriod(h, resync))
}

func (i trackedInformer) AddEventHandlerWithOptions(h toolscache.ResourceEventHandler, opts toolscache.HandlerOptions) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.added(i.Informer.AddEventHandlerWithOptions(h, opts))
}

func (i trackedInformer) added(reg toolscache.ResourceEventHandlerRegistration, err error) (toolscache.ResourceEventHandlerRegistration, error) {
	if err == nil {
		i.cache.track(i.Informer, reg)
	}
	return reg, err
}

// RemoveEventHandler removes the handler; the cache no longer waits for it.
func (i trackedInformer) RemoveEventHandler(reg toolscache.ResourceEventHandlerRegistration) error {
	i.cache.untrack(reg)
	return i.Informer.RemoveEventHandler(reg)
}

// GetIndexer is the informer's store when it is client-go's, nil otherwise.
func (i trackedInformer) GetIndexer() toolscache.Indexer {
	if s, ok := i.Informer.(interface{ GetIndexer() toolscache.Indexer }); ok {
		return s.GetIndexer()
	}
	return nil
}
