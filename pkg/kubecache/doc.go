// Package kubecache is controller-runtime's informer cache with waits that
// end the moment an informer or an event handler has synced, rather than at
// controller-runtime's next 100 ms poll.
package kubecache
