package ovs

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/vswitch"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

const (
	// qosTypeHTB is the QoS type enforced by both the kernel and the
	// userspace datapath; ingress policing is not enforced by the latter.
	qosTypeHTB = "linux-htb"
	// keyMaxRate is the other_config key of QoS and Queue rows holding the
	// rate limit in bit/s.
	keyMaxRate = "max-rate"
	// keyBurst is the Queue's other_config key of its bucket, in bits.
	keyBurst = "burst"
	// burstDivisor sizes a queue's bucket at a tenth of a second of
	// traffic. Without it OVS gives linux-htb a bucket of one MTU, which
	// the kernel's timers cannot refill fast enough: measured here, a
	// 20 Mbit/s limit delivered 14.5 to 19 Mbit/s.
	burstDivisor = 10
	// externalIDPort marks the QoS and Queue rows ovnet made, with the port
	// they were made for, so a human or a sweep can tell them apart.
	externalIDPort = "ovnet.io/port"
	// bitsPerKbit converts to the unit of ingress_policing_rate.
	bitsPerKbit = 1000
	// policingBurstDivisor sizes the policer's bucket at a tenth of a
	// second of traffic, the burst OVS's documentation suggests as a start.
	policingBurstDivisor = 10
)

// SetPortEgressRate limits the traffic OVS sends out of the port, which
// for a pod's veth is the traffic into the pod, to mbps Mbit/s; 0 removes
// the limit. QoS and Queue are root tables, so rows no port references
// would stay behind forever: replaced and removed rows are destroyed in
// the same transaction.
func (c *Client) SetPortEgressRate(ctx context.Context, port string, bps uint64) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) { return c.egressRateOps(port, bps) })
	if err != nil {
		return fmt.Errorf("set egress rate of port %s to %d bit/s: %w", port, bps, err)
	}
	return nil
}

// SetInterfaceIngressPolicing polices the traffic the interface receives,
// which for a pod's veth is the traffic out of the pod, at bps bit/s; 0
// removes the policer. The kernel datapath enforces it; the userspace
// datapath ignores it, so there the daemon shapes inside the pod instead.
func (c *Client) SetInterfaceIngressPolicing(ctx context.Context, name string, bps uint64) error {
	err := c.converge(ctx, func() ([]ovsdb.Operation, error) {
		iface, err := c.iface(name)
		if err != nil {
			return nil, err
		}
		if iface == nil {
			return nil, fmt.Errorf("%w: %s", ErrInterfaceNotFound, name)
		}
		rate := int(bps / bitsPerKbit)
		want := &vswitch.Interface{UUID: iface.UUID, IngressPolicingRate: rate, IngressPolicingBurst: rate / policingBurstDivisor}
		res, err := ovsdbtxn.EnsureOps(c.db, ovsdbtxn.Row[*vswitch.Interface]{
			Model: want, Fields: []any{&want.IngressPolicingRate, &want.IngressPolicingBurst},
		})
		return res.Ops, err
	})
	if err != nil {
		return fmt.Errorf("police interface %s at %d bit/s: %w", name, bps, err)
	}
	return nil
}

func (c *Client) egressRateOps(name string, bps uint64) ([]ovsdb.Operation, error) {
	p, err := c.port(name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("%w: %s", ErrPortNotFound, name)
	}
	rate, burst := strconv.FormatUint(bps, 10), strconv.FormatUint(bps/burstDivisor, 10)
	if (bps == 0 && p.QOS == nil) || (bps > 0 && c.hasRate(p, rate, burst)) {
		return nil, nil
	}
	drop, err := c.dropQoSOps(p)
	if err != nil {
		return nil, err
	}
	var ops []ovsdb.Operation
	p.QOS = nil
	if bps > 0 {
		// Replaced rather than edited: rates change rarely, and a fresh
		// pair of rows is one shape to reason about.
		ids := map[string]string{externalIDPort: name}
		queue := &vswitch.Queue{UUID: ovsdbtxn.NamedUUID(), OtherConfig: map[string]string{keyMaxRate: rate, keyBurst: burst},
			ExternalIDs: ids}
		// The QoS row itself has no max-rate: OVS gives the root htb class
		// a bucket of one MTU, whatever is asked, and under a busy CPU that
		// root throttled a 20 Mbit/s queue to 13.6. The queue alone limits.
		qos := &vswitch.QoS{UUID: ovsdbtxn.NamedUUID(), Type: qosTypeHTB,
			Queues: map[int]string{0: queue.UUID}, ExternalIDs: ids}
		if ops, err = c.db.DB().Create(queue, qos); err != nil {
			return nil, fmt.Errorf("create QoS: %w", err)
		}
		p.QOS = &qos.UUID
	}
	update, err := c.db.DB().Where(p).Update(p, &p.QOS)
	if err != nil {
		return nil, fmt.Errorf("set port qos: %w", err)
	}
	return append(append(ops, update...), drop...), nil
}

// hasRate reports whether the port's QoS is the linux-htb shaper with one
// queue at rate and burst, and no limit of its own.
func (c *Client) hasRate(p *vswitch.Port, rate, burst string) bool {
	if p.QOS == nil {
		return false
	}
	qos := cachedRow[*vswitch.QoS](c, *p.QOS)
	if qos == nil || qos.Type != qosTypeHTB || qos.OtherConfig[keyMaxRate] != "" || len(qos.Queues) != 1 {
		return false
	}
	queue := cachedRow[*vswitch.Queue](c, qos.Queues[0])
	return queue != nil && queue.OtherConfig[keyMaxRate] == rate && queue.OtherConfig[keyBurst] == burst
}

// dropQoSOps destroys the port's QoS row and its queues, each unless
// another port or QoS still references it. The caller stops the port
// referencing the QoS in the same transaction.
func (c *Client) dropQoSOps(p *vswitch.Port) ([]ovsdb.Operation, error) {
	if p.QOS == nil {
		return nil, nil
	}
	qos := cachedRow[*vswitch.QoS](c, *p.QOS)
	if qos == nil {
		return nil, nil
	}
	sharing, err := ovsdbtxn.List(c.db, func(other *vswitch.Port) bool {
		return other.UUID != p.UUID && other.QOS != nil && *other.QOS == qos.UUID
	})
	if err != nil || len(sharing) > 0 {
		return nil, err
	}
	return c.deleteQoSOps(qos)
}

// deleteQoSOps deletes a QoS row and its queues that no other QoS uses.
func (c *Client) deleteQoSOps(qos *vswitch.QoS) ([]ovsdb.Operation, error) {
	ops, err := c.db.DB().Where(qos).Delete()
	if err != nil {
		return nil, fmt.Errorf("delete QoS: %w", err)
	}
	for _, queueUUID := range slices.Sorted(maps.Values(qos.Queues)) {
		if c.queueShared(queueUUID, qos.UUID) {
			continue
		}
		del, err := c.db.DB().Where(&vswitch.Queue{UUID: queueUUID}).Delete()
		if err != nil {
			return nil, fmt.Errorf("delete queue: %w", err)
		}
		ops = append(ops, del...)
	}
	return ops, nil
}

// queueShared reports whether a QoS row other than except uses the queue.
func (c *Client) queueShared(queueUUID, except string) bool {
	users, err := ovsdbtxn.List(c.db, func(qos *vswitch.QoS) bool {
		return qos.UUID != except && slices.Contains(slices.Collect(maps.Values(qos.Queues)), queueUUID)
	})
	return err != nil || len(users) > 0
}
