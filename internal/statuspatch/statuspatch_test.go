package statuspatch

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/cluster-api/util/patch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/fresh"
)

const synced = droverv1.ProdMirrorSyncedCondition

// bench is a Prod in a fake API server whose every write is followed by a look at what
// it stored.
type bench struct {
	c client.Client
	// stored is every version the writes left, as stored.
	stored []*droverv1.Prod
	gets   int
	// between, if set, runs after the first write: another writer's.
	between func(c client.WithWatch)
	// first, if set, runs before the first write is tried: another writer's.
	first func(c client.WithWatch)
	tries int
}

func newBench(t *testing.T) (*bench, *droverv1.Prod) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	prod := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web"}}
	b := &bench{}
	look := func(ctx context.Context, c client.WithWatch, err error) error {
		if err != nil {
			return err
		}
		p := &droverv1.Prod{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(prod), p); err != nil {
			t.Fatal(err)
		}
		b.stored = append(b.stored, p)
		if b.between != nil && len(b.stored) == 1 {
			b.between(c)
		}
		return nil
	}
	b.c = fake.NewClientBuilder().WithScheme(scheme).WithObjects(prod).WithStatusSubresource(prod).
		WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				b.gets++
				return c.Get(ctx, key, obj, opts...)
			},
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
				b.try(c)
				return look(ctx, c, c.Patch(ctx, obj, p, opts...))
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				b.try(c.(client.WithWatch))
				return look(ctx, c.(client.WithWatch), c.SubResource(sub).Patch(ctx, obj, p, opts...))
			},
		}).Build()
	if err := b.c.Get(context.Background(), client.ObjectKeyFromObject(prod), prod); err != nil {
		t.Fatal(err)
	}
	b.gets = 0
	return b, prod
}

func (b *bench) try(c client.WithWatch) {
	b.tries++
	if b.first != nil && b.tries == 1 {
		b.first(c)
	}
}

func setSynced(p *droverv1.Prod, status metav1.ConditionStatus) {
	conditions.Set(p, metav1.Condition{Type: synced, Status: status, Reason: "Test"})
}

// The status and the conditions describing it land in one write: no version stored has
// MirrorSynced=True without status.endpoint, with no read and one write.
func TestStatusAndConditionsAreOneWrite(t *testing.T) {
	b, prod := newBench(t)
	rec := fresh.NewRecorder(b.c)
	h, err := NewHelper(prod, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	prod.Status.Endpoint = &droverv1.ProdEndpoint{VIP: "192.0.2.10"}
	setSynced(prod, metav1.ConditionTrue)
	if err := h.Patch(context.Background(), prod, patch.WithOwnedConditions{Conditions: []string{synced}}); err != nil {
		t.Fatal(err)
	}
	if len(b.stored) != 1 {
		t.Fatalf("%d writes, want 1 (the status with its condition)", len(b.stored))
	}
	last := b.stored[0]
	if !conditions.IsTrue(last, synced) || last.Status.Endpoint == nil || last.Status.Endpoint.VIP != "192.0.2.10" {
		t.Errorf("stored: conditions %+v, endpoint %+v", last.Status.Conditions, last.Status.Endpoint)
	}
	if b.gets != 0 {
		t.Errorf("%d reads, want none", b.gets)
	}
	if rec.Version() != last.ResourceVersion {
		t.Errorf("the Recorder's version %q, want the last write's %q", rec.Version(), last.ResourceVersion)
	}
	if !conditions.IsTrue(prod, synced) || prod.Status.Endpoint == nil {
		t.Errorf("the object given changed: %+v", prod.Status)
	}
}

// The metadata changed too (a finalizer removed, say): the patch helper writes, the
// conditions last, so every version stored has conditions that describe status stored
// with or before them, with no read and no write more than the patch helper's own.
func TestConditionsAreWrittenAfterTheStatusTheyDescribe(t *testing.T) {
	b, prod := newBench(t)
	rec := fresh.NewRecorder(b.c)
	h, err := NewHelper(prod, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	prod.Labels = map[string]string{"changed": "too"}
	prod.Status.Endpoint = &droverv1.ProdEndpoint{VIP: "192.0.2.10"}
	setSynced(prod, metav1.ConditionTrue)
	if err := h.Patch(context.Background(), prod, patch.WithOwnedConditions{Conditions: []string{synced}}); err != nil {
		t.Fatal(err)
	}
	if len(b.stored) < 2 {
		t.Fatalf("%d writes, want the metadata and status, then the condition", len(b.stored))
	}
	for i, p := range b.stored {
		if conditions.IsTrue(p, synced) && p.Status.Endpoint == nil {
			t.Errorf("version %d of %d stored MirrorSynced=True without status.endpoint", i+1, len(b.stored))
		}
	}
	last := b.stored[len(b.stored)-1]
	if !conditions.IsTrue(last, synced) || last.Status.Endpoint == nil || last.Status.Endpoint.VIP != "192.0.2.10" || last.Labels["changed"] != "too" {
		t.Errorf("stored at last: labels %v, conditions %+v, endpoint %+v", last.Labels, last.Status.Conditions, last.Status.Endpoint)
	}
	if b.gets != 0 {
		t.Errorf("%d reads, want none: the condition's write starts from the status write's response", b.gets)
	}
	if rec.Version() != last.ResourceVersion {
		t.Errorf("the Recorder's version %q, want the last write's %q", rec.Version(), last.ResourceVersion)
	}
}

// Nothing changed: nothing written.
func TestNoChangeNoWrite(t *testing.T) {
	b, prod := newBench(t)
	h, err := NewHelper(prod, fresh.NewRecorder(b.c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Patch(context.Background(), prod, patch.WithStatusObservedGeneration{}); err != nil {
		t.Fatal(err)
	}
	if b.tries != 0 {
		t.Errorf("%d writes, want none", b.tries)
	}
}

// Only the conditions, or only the rest, changed: one write, as with the patch helper.
func TestOneChangeIsOneWrite(t *testing.T) {
	for name, change := range map[string]func(*droverv1.Prod){
		"conditions": func(p *droverv1.Prod) { setSynced(p, metav1.ConditionFalse) },
		"status":     func(p *droverv1.Prod) { p.Status.Endpoint = &droverv1.ProdEndpoint{VIP: "192.0.2.11"} },
	} {
		t.Run(name, func(t *testing.T) {
			b, prod := newBench(t)
			h, err := NewHelper(prod, fresh.NewRecorder(b.c), nil)
			if err != nil {
				t.Fatal(err)
			}
			change(prod)
			if err := h.Patch(context.Background(), prod); err != nil {
				t.Fatal(err)
			}
			if len(b.stored) != 1 {
				t.Fatalf("%d writes, want 1", len(b.stored))
			}
		})
	}
}

// Another controller writes after the object was read: the one write conflicts, and the
// patch helper merges, the status first. Another writes again between the status and the
// conditions: the conditions' write conflicts, reads the object again from live and keeps
// both other writers' conditions.
func TestAnotherWriterIsKept(t *testing.T) {
	b, prod := newBench(t)
	other := func(cond string) func(c client.WithWatch) {
		return func(c client.WithWatch) {
			o := &droverv1.Prod{}
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(prod), o); err != nil {
				t.Fatal(err)
			}
			conditions.Set(o, metav1.Condition{Type: cond, Status: metav1.ConditionTrue, Reason: "Other"})
			if err := c.Status().Update(context.Background(), o); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.first = other(droverv1.ProdAppliedCondition)
	b.between = other(droverv1.ProdTrafficReadyCondition)
	live := &countingReader{Reader: b.c}
	h, err := NewHelper(prod, fresh.NewRecorder(b.c), live)
	if err != nil {
		t.Fatal(err)
	}
	prod.Status.Endpoint = &droverv1.ProdEndpoint{VIP: "192.0.2.12"}
	setSynced(prod, metav1.ConditionTrue)
	if err := h.Patch(context.Background(), prod, patch.WithOwnedConditions{Conditions: []string{synced}}); err != nil {
		t.Fatal(err)
	}
	got := &droverv1.Prod{}
	if err := b.c.Get(context.Background(), client.ObjectKeyFromObject(prod), got); err != nil {
		t.Fatal(err)
	}
	if !conditions.IsTrue(got, synced) || !conditions.IsTrue(got, droverv1.ProdAppliedCondition) || !conditions.IsTrue(got, droverv1.ProdTrafficReadyCondition) {
		t.Errorf("stored conditions %+v, want the other writers' Applied and TrafficReady and our MirrorSynced", got.Status.Conditions)
	}
	if got.Status.Endpoint == nil || got.Status.Endpoint.VIP != "192.0.2.12" {
		t.Errorf("stored endpoint %+v", got.Status.Endpoint)
	}
	for i, p := range b.stored {
		if conditions.IsTrue(p, synced) && p.Status.Endpoint == nil {
			t.Errorf("version %d of %d stored MirrorSynced=True without status.endpoint", i+1, len(b.stored))
		}
	}
	if live.n == 0 {
		t.Error("the conflicting write was not read again from live")
	}
}

type countingReader struct {
	client.Reader
	n int
}

func (r *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.n++
	return r.Reader.Get(ctx, key, obj, opts...)
}
