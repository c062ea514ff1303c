package annotation

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// The standard bandwidth annotations of the Kubernetes CNI conventions,
// quantities in bit/s ("10M"). Kube-OVN's IngressRate/EgressRate, in
// Mbit/s, win when both are set.
const (
	IngressBandwidth = "kubernetes.io/ingress-bandwidth"
	EgressBandwidth  = "kubernetes.io/egress-bandwidth"
)

const bitsPerMbit = 1_000_000

// Bandwidth holds a pod's rate limits in bit/s, named from the pod's point
// of view: Ingress is traffic into the pod. Zero means unlimited.
type Bandwidth struct {
	Ingress, Egress uint64
}

// ParseBandwidth reads a pod's rate limits from either family of keys.
func ParseBandwidth(annotations map[string]string) (Bandwidth, error) {
	var bw Bandwidth
	var err error
	if bw.Ingress, err = rate(annotations, IngressRate, IngressBandwidth); err != nil {
		return Bandwidth{}, err
	}
	if bw.Egress, err = rate(annotations, EgressRate, EgressBandwidth); err != nil {
		return Bandwidth{}, err
	}
	return bw, nil
}

// rate reads mbitKey (Mbit/s) if present, else quantityKey (bit/s).
func rate(annotations map[string]string, mbitKey, quantityKey string) (uint64, error) {
	if v, ok := annotations[mbitKey]; ok && strings.TrimSpace(v) != "" {
		mbps, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		// Written so that NaN fails too: every comparison with it is false.
		if err != nil || !(mbps >= 0) || !(mbps*bitsPerMbit < math.MaxInt64) {
			return 0, fmt.Errorf("%s=%q: want a non-negative number of Mbit/s", mbitKey, v)
		}
		return uint64(mbps * bitsPerMbit), nil
	}
	v, ok := annotations[quantityKey]
	if !ok || strings.TrimSpace(v) == "" {
		return 0, nil
	}
	q, err := resource.ParseQuantity(strings.TrimSpace(v))
	if err != nil || q.Sign() < 0 {
		return 0, fmt.Errorf("%s=%q: want a non-negative quantity of bit/s such as 10M", quantityKey, v)
	}
	return uint64(q.Value()), nil
}
