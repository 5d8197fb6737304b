package prod

import (
	"context"
	"maps"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/manifests"
)

// An object found absent when it was claimed and created by someone else before drover
// writes it is not taken over: the Prod is refused (NotOwned) and the object is left as
// its creator made it. The other writer wins the race deterministically here: its
// create lands just before drover's first write of any kind to the workload cluster.
// (The envtest suite's TestAnInventoriedObjectReCreatedBySomeoneElseIsNotTakenOver runs
// the same race against a real API server, where it is won only now and then.)
func TestAnObjectCreatedAfterItWasClaimedIsNotTakenOver(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	foreign := func() *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "settings", Labels: map[string]string{"team": "other"}},
			Data: map[string]string{"owner": "other"}}
	}
	raced := false
	race := func(ctx context.Context, c client.WithWatch) {
		if !raced {
			raced = true
			if err := c.Create(ctx, foreign(), client.FieldOwner("other")); err != nil {
				t.Fatal(err)
			}
		}
	}
	base := fake.NewClientBuilder().WithScheme(scheme).Build()
	workload := interceptor.NewClient(base, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			race(ctx, c)
			return c.Create(ctx, obj, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			race(ctx, c)
			return c.Apply(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			race(ctx, c)
			return c.Patch(ctx, obj, patch, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			race(ctx, c)
			return c.Update(ctx, obj, opts...)
		},
	})

	prod := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web", UID: "uid-p"}}
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"namespace": "shop", "name": "settings", "labels": map[string]any{}},
		"data":     map[string]any{"owner": "drover"}}}
	o.SetLabels(manifests.OwnerLabels(prod))
	s := &scope{prod: prod, workload: workload, claimed: []droverv1.ObjectReference{manifests.RefOf(o)}} // found absent: no UID
	r := &Reconciler{ProgressInterval: time.Second}

	_, _, refused, err := r.applyObject(ctx, s, o, droverv1.ObjectReference{}, "cfg")
	if err != nil || !refused {
		t.Fatalf("applyObject: refused %t, err %v; want refused without error", refused, err)
	}
	if s.applyReason != droverv1.ProdNotOwnedReason {
		t.Errorf("reason %q (%v), want %s", s.applyReason, s.applyErr, droverv1.ProdNotOwnedReason)
	}
	got := &corev1.ConfigMap{}
	if err := base.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "settings"}, got); err != nil {
		t.Fatal(err)
	}
	want := foreign()
	if !maps.Equal(got.Labels, want.Labels) || !maps.Equal(got.Data, want.Data) {
		t.Errorf("the other writer's object changed: labels %v data %v", got.Labels, got.Data)
	}
	for _, m := range got.ManagedFields {
		if m.Manager == droverv1.FieldManager {
			t.Errorf("drover manages fields of the other writer's object: %+v", m)
		}
	}
}
