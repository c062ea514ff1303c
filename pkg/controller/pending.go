package controller

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// pendingShown is how many waiting pods a Subnet condition names.
const pendingShown = 3

// pending tracks, per subnet, the pods whose address request failed and
// why, so the Subnet can say in a condition who waits on it.
type pending struct {
	mu       sync.Mutex
	bySubnet map[string]map[types.NamespacedName]string
	subnetOf map[types.NamespacedName]string
}

func newPending() *pending {
	return &pending{bySubnet: map[string]map[types.NamespacedName]string{}, subnetOf: map[types.NamespacedName]string{}}
}

// set records why pod waits on subnet; it reports whether that changed
// anything a condition would show.
func (p *pending) set(subnet string, pod types.NamespacedName, reason string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, had := p.subnetOf[pod]
	if had && old == subnet && p.bySubnet[subnet][pod] == reason {
		return false
	}
	p.forget(pod)
	if p.bySubnet[subnet] == nil {
		p.bySubnet[subnet] = map[types.NamespacedName]string{}
	}
	p.bySubnet[subnet][pod] = reason
	p.subnetOf[pod] = subnet
	return true
}

// clear forgets pod; it returns the subnet it waited on, if any.
func (p *pending) clear(pod types.NamespacedName) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	subnet, had := p.subnetOf[pod]
	p.forget(pod)
	return subnet, had
}

func (p *pending) forget(pod types.NamespacedName) {
	subnet, had := p.subnetOf[pod]
	if !had {
		return
	}
	delete(p.subnetOf, pod)
	delete(p.bySubnet[subnet], pod)
	if len(p.bySubnet[subnet]) == 0 {
		delete(p.bySubnet, subnet)
	}
}

// summary describes the pods waiting on subnet, naming the first few in
// a stable order; n is 0 when none waits.
func (p *pending) summary(subnet string) (n int, message string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pods := p.bySubnet[subnet]
	keys := make([]types.NamespacedName, 0, len(pods))
	for k := range pods {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	var parts []string
	for _, k := range keys[:min(len(keys), pendingShown)] {
		parts = append(parts, fmt.Sprintf("%s: %s", k, pods[k]))
	}
	if len(keys) > pendingShown {
		parts = append(parts, fmt.Sprintf("and %d more", len(keys)-pendingShown))
	}
	return len(keys), fmt.Sprintf("%d pods wait for an address: %s", len(keys), strings.Join(parts, "; "))
}
