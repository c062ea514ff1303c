package uninstall

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The node pods' grants; kube-system stands for the release namespace.
// +kubebuilder:rbac:groups="",resources=nodes,verbs=list
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;create;delete,namespace=kube-system

// NodeDirs removes, on every node, what ovnet's pods kept on the host:
// OVN central's databases, which no pod can tell an uninstall from a
// restart by, and the directories the pods' hostPath volumes created, which
// a container cannot remove while it mounts them. It runs one short pod per
// node once ovnet's own pods are gone.
type NodeDirs struct {
	// Namespace runs the pods (the release's).
	Namespace string
	// Image has a shell; the chart passes ovnet's own.
	Image       string
	PullPolicy  corev1.PullPolicy
	PullSecrets []string
	// Files are removed: named one by one, so that a directory set to
	// somewhere shared loses nothing but ovnet's.
	Files []string
	// Empty are removed when nothing is left in them, deepest first.
	Empty []string
	// Wait bounds the wait for ovnet's pods to go and for the node pods.
	Wait time.Duration
}

// nodePodLabel marks the node pods, valued with the node's name.
const nodePodLabel = "ovnet.io/uninstall-node"

// poll is how often pods are listed while waiting.
const poll = time.Second

func cleanNodeDirs(ctx context.Context, c client.Client, cl Cluster) (string, error) {
	d := cl.NodeDirs
	if d == nil {
		return "not asked", nil
	}
	if err := d.validate(); err != nil {
		return "", err
	}
	// A pod on a node that is down never goes: clean the others anyway.
	note := ""
	gone, cancel := context.WithTimeout(ctx, d.Wait)
	left, err := waitOvnetPodsGone(gone, c, d.Namespace)
	cancel()
	if err != nil && ctx.Err() == nil {
		note = fmt.Sprintf(", though ovnet's pods %s were still there", strings.Join(left, ", "))
	}
	ctx, cancel = context.WithTimeout(ctx, d.Wait)
	defer cancel()
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return "", err
	}
	var pods []*corev1.Pod
	defer func() { deletePods(c, pods) }()
	for _, n := range nodes.Items {
		p := d.pod(n.Name)
		if err := c.Create(ctx, p); err != nil {
			return "", fmt.Errorf("node %s: %w", n.Name, err)
		}
		pods = append(pods, p)
	}
	if len(pods) == 0 {
		return "no nodes", nil
	}
	if err := waitPodsDone(ctx, c, pods); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d nodes%s", len(pods), note), nil
}

// waitOvnetPodsGone waits until no pod of the chart's controller,
// DaemonSets or OVN central is left: they stop within their grace period,
// and the OVS container removes its database only as it stops. It returns
// those left when ctx ends.
func waitOvnetPodsGone(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	comp, err := labels.NewRequirement("app.kubernetes.io/component", selection.In,
		[]string{"controller", "node", "ovs", "ovn-central"})
	if err != nil {
		return nil, err
	}
	name, err := labels.NewRequirement("app.kubernetes.io/name", selection.Equals, []string{"ovnet"})
	if err != nil {
		return nil, err
	}
	sel := labels.NewSelector().Add(*comp, *name)
	for {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return nil, err
		}
		if len(pods.Items) == 0 {
			return nil, nil
		}
		var left []string
		for _, p := range pods.Items {
			left = append(left, p.Name)
		}
		select {
		case <-ctx.Done():
			return left, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// waitPodsDone waits until every one of pods has succeeded; one that
// failed, or one still not done when ctx ends, is an error naming its
// node. Pods of an earlier, interrupted run are not counted.
func waitPodsDone(ctx context.Context, c client.Client, pods []*corev1.Pod) error {
	ours := map[string]bool{}
	for _, p := range pods {
		ours[p.Name] = true
	}
	for {
		var list corev1.PodList
		if err := c.List(ctx, &list, client.InNamespace(pods[0].Namespace), client.HasLabels{nodePodLabel}); err != nil {
			return err
		}
		var waiting []string
		done := 0
		for _, p := range list.Items {
			if !ours[p.Name] {
				continue
			}
			switch p.Status.Phase {
			case corev1.PodSucceeded:
				done++
			case corev1.PodFailed:
				return fmt.Errorf("node %s: pod %s failed: %s", p.Spec.NodeName, p.Name, p.Status.Message)
			default:
				waiting = append(waiting, p.Spec.NodeName)
			}
		}
		if done == len(pods) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nodes %s did not run their clean-up: %w", strings.Join(waiting, ", "), ctx.Err())
		case <-time.After(poll):
		}
	}
}

// deletePods removes the node pods, whatever happened; on a fresh context,
// since the caller's may have ended.
func deletePods(c client.Client, pods []*corev1.Pod) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range pods {
		_ = c.Delete(ctx, p, client.PropagationPolicy(metav1.DeletePropagationBackground))
	}
}

// pod is the node's clean-up: on the host network and bound to the node by
// name, so it runs on a node without a CNI, whatever its taints.
func (d *NodeDirs) pod(node string) *corev1.Pod {
	var mounts []corev1.VolumeMount
	var volumes []corev1.Volume
	for i, dir := range d.mountDirs() {
		name := fmt.Sprintf("host-%d", i)
		volumes = append(volumes, corev1.Volume{Name: name,
			VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}})
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: "/host" + dir})
	}
	var secrets []corev1.LocalObjectReference
	for _, s := range d.PullSecrets {
		secrets = append(secrets, corev1.LocalObjectReference{Name: s})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, GenerateName: "ovnet-uninstall-node-",
			Labels: map[string]string{nodePodLabel: labelValue(node)}},
		Spec: corev1.PodSpec{
			NodeName: node, HostNetwork: true, RestartPolicy: corev1.RestartPolicyNever,
			Tolerations:      []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			ImagePullSecrets: secrets, Volumes: volumes,
			Containers: []corev1.Container{{
				Name: "clean", Image: d.Image, ImagePullPolicy: d.PullPolicy, Command: []string{"/bin/sh", "-c", d.script()},
				VolumeMounts: mounts,
				SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To(int64(0)), AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			}},
		},
	}
}

// script removes the files, then the empty directories, and says what is
// left; a directory someone else still uses stays.
func (d *NodeDirs) script() string {
	var b strings.Builder
	for _, f := range d.Files {
		fmt.Fprintf(&b, "rm -f -- '/host%s'\n", f)
	}
	empty := slices.Clone(d.Empty)
	slices.SortFunc(empty, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, e := range empty {
		fmt.Fprintf(&b, "rmdir -- '/host%s' 2>/dev/null || true\n", e)
	}
	b.WriteString("left=''\n")
	for _, p := range append(slices.Clone(d.Files), empty...) {
		fmt.Fprintf(&b, "[ -e '/host%s' ] && left=\"$left %s\"\n", p, p)
	}
	b.WriteString("echo \"left on the node:${left:- nothing}\"\n")
	return b.String()
}

// mountDirs are the host directories the pod mounts: the parents of what
// it removes, but never one of those (a mount point cannot be removed) nor
// one inside another.
func (d *NodeDirs) mountDirs() []string {
	removed := append(slices.Clone(d.Files), d.Empty...)
	var out []string
	for _, p := range removed {
		parent := path.Dir(p)
		for slices.Contains(removed, parent) {
			parent = path.Dir(parent)
		}
		out = append(out, parent)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return slices.DeleteFunc(out, func(m string) bool {
		return slices.ContainsFunc(out, func(o string) bool { return o != m && (o == "/" || strings.HasPrefix(m, o+"/")) })
	})
}

// labelValue fits a node name into a label value (63 characters).
func labelValue(node string) string {
	if len(node) > 63 {
		return node[:63]
	}
	return node
}

// validate refuses a path the script would misread: each must be absolute,
// clean, below the root, and free of quotes.
func (d *NodeDirs) validate() error {
	for _, p := range append(slices.Clone(d.Files), d.Empty...) {
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" || strings.ContainsAny(p, "'\n") {
			return fmt.Errorf("host path %q: want an absolute, clean path below / without quotes", p)
		}
	}
	return nil
}
