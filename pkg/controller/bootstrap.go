package controller

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
	"github.com/ovnet/ovnet/pkg/ovn"
)

// Bootstrap runs once the controller leads: it makes sure the cluster
// router and the default subnets exist, rebuilds IPAM from the records on
// pods and nodes, collects garbage, and only then lets the reconcilers
// allocate. Afterwards it sweeps for garbage periodically.
type Bootstrap struct {
	// Client reads the cluster from the manager's cache and creates the default Subnets.
	Client client.Client
	// Network is what the bootstrap fills in and then opens.
	Network *Network
	// Collector is the garbage collector run at start and on every sweep.
	Collector *GarbageCollector
}

// NeedLeaderElection: only the leader may rebuild and allocate.
func (b *Bootstrap) NeedLeaderElection() bool { return true }

// Start runs the bootstrap, then the periodic sweep until ctx ends.
func (b *Bootstrap) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("bootstrap")
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"cluster rows", b.Network.ensureClusterRows},
		{"default subnets", b.ensureDefaultSubnets},
		{"load subnets", b.loadSubnets},
		{"rebuild allocations", b.rebuild},
		{"collect garbage", b.Collector.Sweep},
	}
	// Each step's duration goes into the "ready" line: a slow start at
	// scale is then read from the log, not guessed.
	took := []any{"subnets", 0}
	for _, step := range steps {
		start := time.Now()
		if err := step.run(ctx); err != nil {
			return fmt.Errorf("bootstrap: %s: %w", step.name, err)
		}
		took = append(took, strings.ReplaceAll(step.name, " ", "_"), time.Since(start).Round(time.Millisecond).String())
	}
	close(b.Network.ready)
	took[1] = len(b.Network.IPAM.Subnets())
	logger.Info("ready", took...)
	return b.Collector.Run(ctx)
}

// ensureDefaultSubnets creates the default and join Subnets when missing;
// existing ones are left as users may have edited them.
func (b *Bootstrap) ensureDefaultSubnets(ctx context.Context) error {
	for _, d := range []SubnetDefaults{b.Network.Config.DefaultSubnet, b.Network.Config.JoinSubnet} {
		s := &ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: d.Name},
			Spec: ovnetv1.SubnetSpec{CIDR: d.CIDR, Gateway: d.Gateway, GatewayType: ovnetv1.GatewayDistributed}}
		err := b.Client.Get(ctx, client.ObjectKeyFromObject(s), &ovnetv1.Subnet{})
		if apierrors.IsNotFound(err) {
			err = b.Client.Create(ctx, s)
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("subnet %s: %w", d.Name, err)
		}
	}
	return nil
}

// loadSubnets puts every valid Subnet into IPAM, oldest first so that of
// two overlapping subnets the older keeps working. No NB writes: the Subnet
// reconciler converges NB, writing nothing when it already matches.
func (b *Bootstrap) loadSubnets(ctx context.Context) error {
	var list ovnetv1.SubnetList
	if err := b.Client.List(ctx, &list); err != nil {
		return err
	}
	sort.Slice(list.Items, func(i, j int) bool {
		a, c := list.Items[i].CreationTimestamp, list.Items[j].CreationTimestamp
		if !a.Equal(&c) {
			return a.Before(&c)
		}
		return list.Items[i].Name < list.Items[j].Name
	})
	for i := range list.Items {
		s := &list.Items[i]
		cfg, err := b.Network.ipamConfig(s.Name, s.Spec)
		if err == nil {
			err = b.Network.setSubnet(cfg)
		}
		if err != nil {
			log.FromContext(ctx).Info("subnet not loaded", "subnet", s.Name, "reason", err.Error())
		}
	}
	return nil
}

// rebuild reserves every address recorded on live pods and nodes, then the
// addresses of ports that were written but not yet recorded (a crash
// between the two), and those held for StatefulSet pods being recreated.
func (b *Bootstrap) rebuild(ctx context.Context) error {
	var pods corev1.PodList
	if err := b.Client.List(ctx, &pods, readOnly); err != nil {
		return err
	}
	live := make(map[ipam.Owner]bool, len(pods.Items))
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.HostNetwork || finished(p) {
			continue
		}
		owner := ipam.PodOwner(p.Namespace, p.Name)
		live[owner] = true
		if a, ok := heldAllocations(owner, p.Annotations); ok {
			b.reserve(ctx, a)
		}
	}
	var nodes corev1.NodeList
	if err := b.Client.List(ctx, &nodes, readOnly); err != nil {
		return err
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if a, ok := heldAllocations(ipam.NodeOwner(n.Name), n.Annotations); ok {
			b.reserve(ctx, a)
		}
	}
	return b.reservePorts(ctx, live)
}

func (b *Bootstrap) reservePorts(ctx context.Context, live map[ipam.Owner]bool) error {
	ports, err := b.Network.NB.OwnedSwitchPorts()
	if err != nil {
		return err
	}
	for _, p := range ports {
		if p.Owner.Kind != ovn.KindPod {
			continue
		}
		owner := ipam.PodOwner(p.Owner.Namespace, p.Owner.Name)
		if _, done := b.Network.IPAM.Lookup(owner); done {
			continue
		}
		keep := live[owner]
		if !keep && p.ExternalIDs[ExternalIDStatefulSet] != "" {
			if keep, err = statefulSetWants(ctx, b.Client, p.Owner.Namespace, p.ExternalIDs[ExternalIDStatefulSet], p.Owner.Name); err != nil {
				return err
			}
		}
		if a, ok := portAllocation(owner, p); keep && ok {
			b.reserve(ctx, a)
		}
	}
	return nil
}

// portAllocation reads "MAC IP [IPv6]" back from a port's addresses.
func portAllocation(owner ipam.Owner, p ovn.SwitchPortRow) ([]ipam.Allocation, bool) {
	if len(p.Addresses) != 1 {
		return nil, false
	}
	fields := strings.Fields(p.Addresses[0])
	if len(fields) != 2 && len(fields) != 3 {
		return nil, false
	}
	mac, err := net.ParseMAC(fields[0])
	if err != nil {
		return nil, false
	}
	var allocs []ipam.Allocation
	for i, field := range fields[1:] {
		ip, err := netip.ParseAddr(field)
		if err != nil || (i == 1 && (!ip.Is6() || !allocs[0].IP.Is4())) {
			return nil, false
		}
		subnet := p.Switch
		if i == 1 {
			subnet = ipv6Half(p.Switch)
		}
		allocs = append(allocs, ipam.Allocation{Owner: owner, Subnet: subnet, IP: ip, MAC: mac})
	}
	return allocs, true
}

func (b *Bootstrap) reserve(ctx context.Context, allocs []ipam.Allocation) {
	if err := b.Network.reserve(allocs); err != nil {
		log.FromContext(ctx).Error(err, "recorded address not restored", "owner", allocs[0].Owner, "ip", allocs[0].IP)
	}
}
