package releasediff

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

var now = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func reconciler(objs ...client.Object) *Reconciler {
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithStatusSubresource(&droverv1.ReleaseDiff{}).Build()
	return &Reconciler{Client: c, TTL: 10 * time.Minute, PerNamespace: 2, Now: func() time.Time { return now }}
}

func completed(name string, at time.Time) *droverv1.ReleaseDiff {
	t := metav1.NewTime(at)
	return &droverv1.ReleaseDiff{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Spec: droverv1.ReleaseDiffSpec{ProdSet: "web"}, Status: droverv1.ReleaseDiffStatus{CompletedTime: &t}}
}

func TestACompletedDiffGoesAfterItsTTL(t *testing.T) {
	ctx := context.Background()
	fresh, old := completed("fresh", now.Add(-time.Minute)), completed("old", now.Add(-11*time.Minute))
	r := reconciler(fresh, old)
	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(fresh)})
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != 9*time.Minute {
		t.Errorf("a diff completed a minute ago comes back after %s, want 9m", res.RequeueAfter)
	}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(fresh), &droverv1.ReleaseDiff{}); err != nil {
		t.Errorf("a diff within its TTL was deleted: %v", err)
	}
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(old)}); err != nil {
		t.Fatal(err)
	}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(old), &droverv1.ReleaseDiff{}); !apierrors.IsNotFound(err) {
		t.Errorf("a diff past its TTL is still there: %v", err)
	}
}

func TestDiffsOfANamespaceWaitTheirTurn(t *testing.T) {
	ctx := context.Background()
	waiting := &droverv1.ReleaseDiff{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "third", Generation: 1}, Spec: droverv1.ReleaseDiffSpec{ProdSet: "web"}}
	r := reconciler(waiting)
	for i := range 2 {
		if !r.acquire("shop") {
			t.Fatalf("diff %d of a namespace did not get a place", i+1)
		}
	}
	if !r.acquire("pay") {
		t.Fatal("another namespace's diff waits for shop's")
	}
	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(waiting)})
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter == 0 {
		t.Error("a queued diff is not tried again")
	}
	got := &droverv1.ReleaseDiff{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(waiting), got); err != nil {
		t.Fatal(err)
	}
	c := meta.FindStatusCondition(got.Status.Conditions, droverv1.ReconcilingCondition)
	if c == nil || c.Reason != droverv1.ReleaseDiffQueuedReason || got.Status.CompletedTime != nil {
		t.Fatalf("a third diff of shop: Reconciling %+v, completed %v; want Queued and not completed", c, got.Status.CompletedTime)
	}
	r.release("shop")
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(waiting)}); err != nil {
		t.Fatal(err)
	}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(waiting), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.CompletedTime == nil {
		t.Error("once a place was free the diff was not computed")
	}
	if s := meta.FindStatusCondition(got.Status.Conditions, droverv1.StalledCondition); s == nil || s.Reason != droverv1.ReleaseDiffProdSetNotFoundReason {
		t.Errorf("a diff of a ProdSet that does not exist: Stalled %+v", s)
	}
	if r.inFlight["shop"] != 1 {
		t.Errorf("shop holds %d places after the diff, want the 1 taken before", r.inFlight["shop"])
	}
}
