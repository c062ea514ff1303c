package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/kubecache"
)

// apiServerRetry is how often an informer's list or watch is retried
// while the API server cannot be reached: the controller then sees the
// server's return within this interval. One controller retrying a dozen
// informers once a second is no load a returning API server notices;
// client-go's own backoff is sized for thousands of clients.
const apiServerRetry = time.Second

// newInformer is the manager cache's informer constructor: client-go's,
// over a lister-watcher that waits for an unreachable API server itself.
//
// Left to client-go, a list or watch refused during an outage goes back
// to the reflector, whose backoff grows to [30, 60) s after half a minute
// of failures and is not cut short when the server returns: pods created
// after a 30 s outage were seen 30 to 90 s after the server was back.
// client-go offers no way to set an informer's backoff (only a bare
// Reflector takes one), so the failure is kept from the reflector instead:
// retried every apiServerRetry within the same call, it never feeds the
// backoff, and the watch resumes from its resource version, without a
// relist, as soon as the server answers.
func newInformer(lw toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
	inner := toolscache.ToListerWatcherWithContext(lw)
	return toolscache.NewSharedIndexInformer(&toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return untilReachable(ctx, func() (runtime.Object, error) { return inner.ListWithContext(ctx, opts) })
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return untilReachable(ctx, func() (watch.Interface, error) { return inner.WatchWithContext(ctx, opts) })
		},
	}, obj, resync, indexers)
}

// untilReachable makes call until it gets an answer from the API server,
// an error included, or ctx ends.
func untilReachable[T any](ctx context.Context, call func() (T, error)) (T, error) {
	for {
		v, err := call()
		if err == nil || !unreachable(err) {
			return v, err
		}
		log.FromContext(ctx).V(1).Info("API server unreachable; retrying", "after", apiServerRetry, "error", err.Error())
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(apiServerRetry):
		}
	}
}

// unreachable: the error says the API server is not there to answer (not
// listening, the connection cut, no reply in time, or not serving yet),
// not that it refused the request. A throttled request (429) is left to
// client-go's backoff, which the server asked for.
func unreachable(err error) bool {
	var netErr net.Error
	return utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) ||
		(errors.As(err, &netErr) && netErr.Timeout()) || apierrors.IsServiceUnavailable(err)
}

// earlyCache is the manager's cache, started by Run before the manager,
// while the NB snapshot loads, rather than by the manager once NB is
// connected; the manager's own Start of it then only waits. Its waits are
// kubecache's, without polling.
type earlyCache struct {
	cache.Cache
}

// new is the manager's NewCache: the cache the manager would make.
func (c *earlyCache) new(cfg *rest.Config, opts cache.Options) (cache.Cache, error) {
	inner, err := kubecache.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	c.Cache = inner
	return c, nil
}

// start has the informers of every kind the reconcilers watch made and
// started; those of kinds read only now and then start when first read.
func (c *earlyCache) start(ctx context.Context) error {
	watched := []client.Object{&corev1.Pod{}, &corev1.Namespace{}, &corev1.Node{}, &corev1.Service{},
		&discoveryv1.EndpointSlice{}, &networkingv1.NetworkPolicy{}, &ovnetv1.Subnet{}, &coordinationv1.Lease{}}
	for _, obj := range watched {
		if _, err := c.Cache.GetInformer(ctx, obj, cache.BlockUntilSynced(false)); err != nil {
			return fmt.Errorf("informer of %T: %w", obj, err)
		}
	}
	go func() {
		if err := c.Cache.Start(ctx); err != nil {
			log.FromContext(ctx).Error(err, "cache stopped")
		}
	}()
	return nil
}

// Start is the manager's: the informers already run until Run's context
// ends; the manager waits for them to sync as for any cache.
func (c *earlyCache) Start(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
