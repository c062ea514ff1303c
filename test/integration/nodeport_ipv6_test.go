package integration

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/test/harness"
)

// TestIPv6NodePortUnavailable: with an IPv4-only join subnet, nodes
// cannot serve IPv6 node ports; a NodePort Service with an IPv6 ClusterIP
// is told so by an Event, and one with an IPv4 ClusterIP only is not.
// With a dual-stack join (and both service ranges) nothing is reported.
func TestIPv6NodePortUnavailable(t *testing.T) {
	nodePortService := func(name string, families ...corev1.IPFamily) *corev1.Service {
		svc := newService(name, port("http", corev1.ProtocolTCP, 80, intstr.FromInt32(8080)))
		svc.Spec.Type = corev1.ServiceTypeNodePort
		svc.Spec.IPFamilies = families
		if len(families) == 2 {
			svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
		}
		return svc
	}
	t.Run("IPv4 join", func(t *testing.T) {
		e := newEnv(t)
		e.service(nodePortService("dual", corev1.IPv4Protocol, corev1.IPv6Protocol))
		e.service(nodePortService("v6", corev1.IPv6Protocol))
		e.anyEvent("dual", controller.ReasonIPv6NodePortUnavailable, "no IPv6 range (--join-cidr)")
		e.anyEvent("v6", controller.ReasonIPv6NodePortUnavailable, "no IPv6 range (--join-cidr)")
		e.noEventAfterLB(e.service(nodePortService("v4", corev1.IPv4Protocol)), controller.ReasonIPv6NodePortUnavailable)
	})
	t.Run("dual-stack join", func(t *testing.T) {
		network := harness.DefaultNetwork()
		network.JoinSubnet.CIDR = "100.64.0.0/16,fd00:100:64::/112"
		e := newEnvWith(t, network)
		e.noEventAfterLB(e.service(nodePortService("dual", corev1.IPv4Protocol, corev1.IPv6Protocol)),
			controller.ReasonIPv6NodePortUnavailable)
	})
}

// noEventAfterLB waits for the Service's TCP load balancer, which the
// reconcile that would emit the Event writes, then checks no Event of the
// reason is about it.
func (e *env) noEventAfterLB(svc *corev1.Service, reason string) {
	e.t.Helper()
	e.eventually("load balancer of "+svc.Name, func() error {
		if e.view.LoadBalancer(e.t, lbName(svc, "tcp")) == nil {
			return fmt.Errorf("none yet")
		}
		return nil
	})
	var list eventsv1.EventList
	if err := e.c.List(e.ctx, &list); err != nil {
		e.t.Fatal(err)
	}
	for _, ev := range list.Items {
		if ev.Regarding.Name == svc.Name && ev.Reason == reason {
			e.t.Errorf("Service %s got %s: %s", svc.Name, reason, ev.Note)
		}
	}
}
