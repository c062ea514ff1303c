package e2e

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A Service does not open a way that a NetworkPolicy closes: an ingress
// policy on the backend blocks its ClusterIP as it blocks its address, and
// an egress policy is judged on the backend a connection was balanced to,
// not on the ClusterIP it was addressed to. Deleting the policies
// restores the Service.
func TestServiceForbiddenByPolicy(t *testing.T) {
	e := newEnv(t)
	rt := e.node("n1").Runtime(t)
	caller := e.labeledPod(rt, "default", "client", "n1", map[string]string{"role": "client"}, nil, nil)
	backend := e.labeledPod(rt, "default", "web-1", "n1", map[string]string{"app": "web"}, nil,
		map[string]int32{"http": backendTCP})
	e.serve(backend, "--tcp", fmt.Sprint(backendTCP), "--udp", fmt.Sprint(backendUDP))
	web := e.webService("web", corev1.ServiceAffinityNone)
	e.setEndpoints(web, map[string]bool{backend.IP.String(): true})
	vip := web.Spec.ClusterIP + ":80"
	direct := fmt.Sprintf("%s:%d", backend.IP, backendTCP)
	e.reachable(caller, vip)

	t.Run("ingress policy on the backend", func(t *testing.T) {
		e.createPolicy(&networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-friends-only"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: selector("app", "web"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
					{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "friend"}}},
				}}},
			},
		})
		e.blocked(caller, direct)
		e.blocked(caller, vip)
		e.deletePolicy("default", "web-friends-only")
		e.reachable(caller, vip)
	})
	t.Run("egress policy judged on the backend, not the ClusterIP", func(t *testing.T) {
		// Everything but the backend's own address is allowed, the
		// ClusterIP included: only a policy applied after load balancing
		// sees that the connection goes to the backend.
		e.createPolicy(&networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "client-not-web"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: selector("role", "client"),
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
					{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{backend.IP.String() + "/32"}}},
				}}},
			},
		})
		e.blocked(caller, direct)
		e.blocked(caller, vip)
		e.deletePolicy("default", "client-not-web")
		e.reachable(caller, vip)
	})
}
