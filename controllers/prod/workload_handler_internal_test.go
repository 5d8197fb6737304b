package prod

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/manifests"
)

// A watch's first list of objects that are exactly as their Prods' inventories record
// wakes no Prod; an object new to the inventory, re-created by someone else, changed in
// what drover applied, older than the apply, or not a Prod's, wakes its Prod as before.
func TestAWatchListingObjectsAsAppliedWakesNoProd(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	prod := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web", UID: "uid-p"}}
	prod.Status.Inventory = []droverv1.ObjectReference{
		{Kind: "ConfigMap", Version: "v1", Namespace: "shop", Name: "cfg", UID: "uid-cfg", Applied: "conf.fields.3"},
	}
	r := &Reconciler{Client: fake.NewClientBuilder().WithScheme(scheme).WithObjects(prod).WithStatusSubresource(prod).Build()}
	if err := r.Client.Status().Update(context.Background(), prod); err != nil {
		t.Fatal(err)
	}
	live := func(edit func(*unstructured.Unstructured)) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetNamespace("shop")
		u.SetName("cfg")
		u.SetUID("uid-cfg")
		u.SetGeneration(3)
		u.SetLabels(manifests.OwnerLabels(prod))
		u.SetAnnotations(map[string]string{droverv1.ProdRefAnnotation: "team/web"})
		manifests.SetCachedFields(u, "fields")
		if edit != nil {
			edit(u)
		}
		return u
	}
	cases := []struct {
		name  string
		obj   *unstructured.Unstructured
		wakes bool
	}{
		{name: "as applied", obj: live(nil)},
		{name: "a newer generation", obj: live(func(u *unstructured.Unstructured) { u.SetGeneration(4) })},
		{name: "re-created by someone else", obj: live(func(u *unstructured.Unstructured) { u.SetUID("uid-other") }), wakes: true},
		{name: "drover's fields changed", obj: live(func(u *unstructured.Unstructured) { manifests.SetCachedFields(u, "edited") }), wakes: true},
		{name: "older than the apply", obj: live(func(u *unstructured.Unstructured) { u.SetGeneration(2) }), wakes: true},
		{name: "not in the inventory", obj: live(func(u *unstructured.Unstructured) { u.SetName("new") }), wakes: true},
		{name: "being deleted", obj: live(func(u *unstructured.Unstructured) { now := metav1.Now(); u.SetDeletionTimestamp(&now) }), wakes: true},
		{name: "another Prod's labels", obj: live(func(u *unstructured.Unstructured) {
			u.SetLabels(manifests.OwnerLabels(&droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web", UID: "uid-q"}}))
		}), wakes: true},
		{name: "a Prod that does not exist", obj: live(func(u *unstructured.Unstructured) {
			u.SetAnnotations(map[string]string{droverv1.ProdRefAnnotation: "team/gone"})
		}), wakes: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var woken []types.NamespacedName
			h := workloadHandler{
				EventHandler: handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
					ns, name, _ := manifests.ProdOf(o)
					woken = append(woken, types.NamespacedName{Namespace: ns, Name: name})
					return nil
				}),
				known: r.knownToProd,
				echo:  func(client.Object) bool { return false },
			}
			q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[ctrl.Request]())
			defer q.ShutDown()
			h.Create(context.Background(), event.CreateEvent{Object: c.obj}, q)
			if got := len(woken) > 0; got != c.wakes {
				t.Fatalf("created: woken %v, want %v", got, c.wakes)
			}
			woken = nil
			h.Update(context.Background(), event.UpdateEvent{ObjectOld: c.obj, ObjectNew: c.obj}, q)
			if len(woken) == 0 {
				t.Fatal("an update is always mapped to its Prod")
			}
		})
	}
}

// The events of drover's own write of an object (its version or an earlier one) wake no
// Prod; a later version, another object and a deletion do.
func TestTheEchoOfDroversOwnWriteWakesNoProd(t *testing.T) {
	r := &Reconciler{}
	obj := func(uid, rv string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetNamespace("shop")
		u.SetName("cfg")
		u.SetUID(types.UID(uid))
		u.SetResourceVersion(rv)
		u.SetAnnotations(map[string]string{droverv1.ProdRefAnnotation: "team/web"})
		return u
	}
	r.wrote(obj("uid-cfg", "12"))
	woken := 0
	h := workloadHandler{
		EventHandler: handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []ctrl.Request {
			woken++
			return nil
		}),
		known:  func(context.Context, client.Object) bool { return false },
		echo:   r.workloadWrites.Echo,
		forget: r.workloadWrites.Forget,
	}
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[ctrl.Request]())
	defer q.ShutDown()
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		send  func()
		wakes bool
	}{
		{"the create drover made", func() { h.Create(ctx, event.CreateEvent{Object: obj("uid-cfg", "10")}, q) }, false},
		{"drover's apply", func() {
			h.Update(ctx, event.UpdateEvent{ObjectOld: obj("uid-cfg", "10"), ObjectNew: obj("uid-cfg", "12")}, q)
		}, false},
		{"a change after drover's write", func() {
			h.Update(ctx, event.UpdateEvent{ObjectOld: obj("uid-cfg", "12"), ObjectNew: obj("uid-cfg", "13")}, q)
		}, true},
		{"an object re-created by someone else", func() { h.Create(ctx, event.CreateEvent{Object: obj("uid-other", "11")}, q) }, true},
		{"a deletion", func() { h.Delete(ctx, event.DeleteEvent{Object: obj("uid-cfg", "12")}, q) }, true},
	} {
		woken = 0
		c.send()
		if got := woken > 0; got != c.wakes {
			t.Errorf("%s: woken %v, want %v", c.name, got, c.wakes)
		}
	}
	// The deletion forgot the write: nothing of an object others delete is kept.
	if r.workloadWrites.Echo(obj("uid-cfg", "10")) {
		t.Error("drover's write of a deleted object is still recorded")
	}
}
