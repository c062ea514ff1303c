package uninstall

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
)

func TestVerdict(t *testing.T) {
	ref := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ovnet-node", UID: "u1"}
	now := metav1.Now()
	ds := func(uid types.UID, deleting bool) *appsv1.DaemonSet {
		d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ovnet-node", UID: uid}}
		if deleting {
			d.DeletionTimestamp = &now
		}
		return d
	}
	tests := []struct {
		name    string
		ds      *appsv1.DaemonSet
		leaving bool
	}{
		{"DaemonSet stays: restart or update", ds("u1", false), false},
		{"DaemonSet gone: helm uninstall", nil, true},
		{"DaemonSet being deleted (foreground)", ds("u1", true), true},
		{"DaemonSet replaced by another of the same name", ds("u2", false), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(ref, tt.ds); got.Leaving != tt.leaving || got.Reason == "" {
				t.Errorf("verdict = %+v, want leaving %v with a reason", got, tt.leaving)
			}
		})
	}
}

func TestDaemonSetOwner(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		refs []metav1.OwnerReference
		want bool
	}{
		{"DaemonSet controller", []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "x", Controller: &yes}}, true},
		{"DaemonSet, not controller", []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "x", Controller: &no}}, false},
		{"ReplicaSet controller", []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", Controller: &yes}}, false},
		{"no owner", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: tt.refs}}
			if got := daemonSetOwner(pod) != nil; got != tt.want {
				t.Errorf("daemonSetOwner = %v, want %v", got, tt.want)
			}
		})
	}
}

// The watch's record: a DaemonSet deleted, or marked for deletion, is
// remembered by UID; an ordinary update is not.
func TestHandlerRecordsDeletions(t *testing.T) {
	now := metav1.Now()
	live := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "a", UID: "live"}}
	deleting := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "b", UID: "deleting", DeletionTimestamp: &now}}
	gone := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "c", UID: "gone"}}
	tomb := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "d", UID: "tomb"}}
	d := NewDeparture(nil, types.NamespacedName{Namespace: "kube-system", Name: "p"})
	h := d.Handler()
	h.OnAdd(live, false)
	h.OnUpdate(live, live)
	h.OnUpdate(live, deleting)
	h.OnDelete(gone)
	h.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "kube-system/d", Obj: tomb})
	want := map[types.UID]string{"deleting": "being deleted", "gone": "deleted", "tomb": "deleted"}
	if len(d.seen) != len(want) {
		t.Errorf("seen = %v, want %v", d.seen, want)
	}
	for uid, what := range want {
		if d.seen[uid] != what {
			t.Errorf("seen[%s] = %q, want %q", uid, d.seen[uid], what)
		}
	}
}
