package kubectlovnet

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// Environment variables that name the OVN databases when no flag does.
const (
	EnvNB = "OVNET_NB"
	EnvSB = "OVNET_SB"
)

// The chart's Services in front of OVN central (charts/ovnet/templates/ovn-central.yaml).
const (
	serviceNB = "ovn-nb"
	serviceSB = "ovn-sb"
)

// Options are the flags every subcommand shares.
type Options struct {
	// Kubeconfig and Context pick the cluster as kubectl does; empty means
	// KUBECONFIG, then ~/.kube/config, and its current context.
	Kubeconfig string
	Context    string
	// NB and SB are OVSDB remotes ("tcp:IP:PORT", "unix:PATH"); empty
	// means found (see Databases).
	NB, SB string

	Stdout, Stderr io.Writer
	// Getenv reads the environment (os.Getenv unless a test replaces it).
	Getenv func(string) string
}

// bindGlobal adds the shared flags to fs.
func (o *Options) bindGlobal(fs *flag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&o.Context, "context", o.Context, "kubeconfig context (default: the current one)")
	fs.StringVar(&o.NB, "nb", o.NB, "OVN northbound database, e.g. tcp:10.0.0.2:6641 (default: $"+EnvNB+", then the ovn-nb Service's endpoint)")
	fs.StringVar(&o.SB, "sb", o.SB, "OVN southbound database, e.g. tcp:10.0.0.2:6642 (default: $"+EnvSB+", then the ovn-sb Service's endpoint)")
}

// Client returns a client of the cluster the kubeconfig names.
func (o *Options) Client() (client.Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme()})
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	return c, nil
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := ovnetv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Database is one OVN database's address and where it was found.
type Database struct {
	Remote string
	// Source says where Remote came from: "flag", "env", "service ns/name".
	Source string
}

// Databases finds the NB and SB addresses: the flags, else the
// environment, else the chart's ovn-nb/ovn-sb Services (an endpoint's
// address, as OVN central runs on the host network; else the ClusterIP).
func (o *Options) Databases(ctx context.Context, c client.Client) (nb, sb Database, err error) {
	if nb, err = o.database(ctx, c, o.NB, EnvNB, serviceNB); err != nil {
		return nb, sb, err
	}
	sb, err = o.database(ctx, c, o.SB, EnvSB, serviceSB)
	return nb, sb, err
}

func (o *Options) database(ctx context.Context, c client.Client, flagValue, env, service string) (Database, error) {
	if flagValue != "" {
		return Database{Remote: flagValue, Source: "flag"}, nil
	}
	if v := o.getenv(env); v != "" {
		return Database{Remote: v, Source: "$" + env}, nil
	}
	if c == nil {
		return Database{}, fmt.Errorf("no address for %s: give --%s or $%s", service, strings.TrimPrefix(service, "ovn-"), env)
	}
	return serviceDatabase(ctx, c, service, env)
}

func (o *Options) getenv(key string) string {
	if o.Getenv != nil {
		return o.Getenv(key)
	}
	return os.Getenv(key)
}

// serviceDatabase reads the chart's Service of that name in any namespace.
func serviceDatabase(ctx context.Context, c client.Client, name, env string) (Database, error) {
	var services corev1.ServiceList
	if err := c.List(ctx, &services); err != nil {
		return Database{}, fmt.Errorf("list services for %s: %w", name, err)
	}
	for i := range services.Items {
		svc := &services.Items[i]
		if svc.Name != name || len(svc.Spec.Ports) == 0 {
			continue
		}
		port := svc.Spec.Ports[0].Port
		src := "service " + svc.Namespace + "/" + svc.Name
		if ips := readyEndpoints(ctx, c, svc); len(ips) > 0 {
			remotes := make([]string, len(ips))
			for i, ip := range ips {
				remotes[i] = "tcp:" + hostPort(ip, port)
			}
			return Database{Remote: strings.Join(remotes, ","), Source: src + " endpoints"}, nil
		}
		if svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
			return Database{Remote: fmt.Sprintf("tcp:%s", hostPort(svc.Spec.ClusterIP, port)), Source: src}, nil
		}
	}
	return Database{}, fmt.Errorf("no address for %s: give --%s or $%s, or install the chart's %s Service",
		name, strings.TrimPrefix(name, "ovn-"), env, name)
}

// readyEndpoints are the addresses of the Service's ready endpoints:
// every member of a Raft cluster, so that ovn-nbctl, which writes and
// reads at the leader, finds it among them.
func readyEndpoints(ctx context.Context, c client.Client, svc *corev1.Service) []string {
	var list discoveryv1.EndpointSliceList
	if err := c.List(ctx, &list, client.InNamespace(svc.Namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: svc.Name}); err != nil {
		return nil
	}
	var ips []string
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready || len(ep.Addresses) == 0 {
				continue
			}
			ips = append(ips, ep.Addresses[0])
		}
	}
	slices.Sort(ips)
	return ips
}

// hostPort is OVSDB's "IP:PORT", IPv6 addresses bracketed.
func hostPort(ip string, port int32) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}
