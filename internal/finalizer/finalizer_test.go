package finalizer

import (
	"context"
	"fmt"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func newClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

// stored reads obj as the API server has it.
func stored(t *testing.T, c client.Client, obj client.Object) *droverv1.Prod {
	t.Helper()
	got := &droverv1.Prod{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), got); err != nil {
		t.Fatal(err)
	}
	return got
}

// Two controllers add their finalizers from the same copy of a Prod, as the Prod
// controller and the mirror do on its first reconcile: both finalizers stay.
func TestFinalizersAddedFromTheSameCopyBothStay(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web"}})
	read := &droverv1.Prod{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "team", Name: "web"}, read); err != nil {
		t.Fatal(err)
	}
	first, second := read.DeepCopy(), read.DeepCopy()
	if added, err := Ensure(ctx, c, c, first, droverv1.ProdFinalizer); err != nil || !added {
		t.Fatalf("first: added %v, %v", added, err)
	}
	if added, err := Ensure(ctx, c, c, second, droverv1.MirrorFinalizer); err != nil || !added {
		t.Fatalf("second, from the older copy: added %v, %v", added, err)
	}
	got := stored(t, c, read).Finalizers
	if !slices.Contains(got, droverv1.ProdFinalizer) || !slices.Contains(got, droverv1.MirrorFinalizer) {
		t.Errorf("stored finalizers %v, want both", got)
	}
	if !slices.Equal(second.Finalizers, got) || second.ResourceVersion != stored(t, c, read).ResourceVersion {
		t.Errorf("the object given is %v at %s, want it as stored", second.Finalizers, second.ResourceVersion)
	}

	// Without a live reader the conflict is returned and nothing is dropped.
	third := read.DeepCopy()
	added, err := Ensure(ctx, c, nil, third, "example.com/user")
	if added || !apierrors.IsConflict(err) {
		t.Errorf("from an old copy without a live reader: added %v, %v; want a conflict", added, err)
	}
	if !slices.Equal(third.Finalizers, read.Finalizers) {
		t.Errorf("the object given keeps finalizers %v after a failed write", third.Finalizers)
	}
	if got2 := stored(t, c, read).Finalizers; !slices.Equal(got2, got) {
		t.Errorf("stored finalizers %v after the refused write, want %v", got2, got)
	}
}

// Nothing is written for a finalizer already there or an object being deleted.
func TestNothingToAdd(t *testing.T) {
	ctx := context.Background()
	now := metav1.Now()
	for name, p := range map[string]*droverv1.Prod{
		"present":  {ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web", Finalizers: []string{droverv1.ProdFinalizer}}},
		"deleting": {ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web", Finalizers: []string{"example.com/user"}, DeletionTimestamp: &now}},
	} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, p)
			read := &droverv1.Prod{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(p), read); err != nil {
				t.Fatal(err)
			}
			rv := read.ResourceVersion
			added, err := Ensure(ctx, c, c, read, droverv1.ProdFinalizer)
			if now := stored(t, c, read).ResourceVersion; added || err != nil || now != rv {
				t.Errorf("added %v, %v; version %s, was %s", added, err, now, rv)
			}
		})
	}
}

// Another writer gets there first twice (a new Prod is written by its ProdSet and two
// controllers at once): the finalizer is still added, to the latest version, keeping what
// the other writer wrote.
func TestAddedAfterRepeatedConflicts(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: "team", Name: "web"}
	others := 0
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web"}}).
		WithInterceptorFuncs(interceptor.Funcs{
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
				if others < 2 { // another writer, just before this write
					others++
					o := &droverv1.Prod{}
					if err := c.Get(ctx, key, o); err != nil {
						return err
					}
					o.Finalizers = append(o.Finalizers, fmt.Sprintf("example.com/other-%d", others))
					if err := c.Update(ctx, o); err != nil {
						return err
					}
				}
				return c.Patch(ctx, obj, p, opts...)
			},
		}).Build()
	read := &droverv1.Prod{}
	if err := c.Get(ctx, key, read); err != nil {
		t.Fatal(err)
	}
	if added, err := Ensure(ctx, c, c, read, droverv1.ProdFinalizer); err != nil || !added {
		t.Fatalf("added %v, %v", added, err)
	}
	want := []string{"example.com/other-1", "example.com/other-2", droverv1.ProdFinalizer}
	if got := stored(t, c, read).Finalizers; !slices.Equal(got, want) {
		t.Errorf("stored finalizers %v, want %v", got, want)
	}
}

// Another writer changes the finalizers after drover read the object (adds one, takes
// its own off): drover's removal keeps what it did, rather than write the list it read.
func TestRemovedKeepingAnotherWritersChange(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: "team", Name: "web"}
	raced := false
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web",
		Finalizers: []string{"example.com/mirror", droverv1.ProdFinalizer}}}).
		WithInterceptorFuncs(interceptor.Funcs{
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
				if !raced {
					raced = true
					o := &droverv1.Prod{}
					if err := c.Get(ctx, key, o); err != nil {
						return err
					}
					o.Finalizers = []string{droverv1.ProdFinalizer, "example.com/other"}
					if err := c.Update(ctx, o); err != nil {
						return err
					}
				}
				return c.Patch(ctx, obj, p, opts...)
			},
		}).Build()
	read := &droverv1.Prod{}
	if err := c.Get(ctx, key, read); err != nil {
		t.Fatal(err)
	}
	if removed, err := Remove(ctx, c, c, read, droverv1.ProdFinalizer); err != nil || !removed {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if got, want := stored(t, c, read).Finalizers, []string{"example.com/other"}; !slices.Equal(got, want) {
		t.Errorf("stored finalizers %v, want %v", got, want)
	}
	if removed, err := Remove(ctx, c, c, read, droverv1.ProdFinalizer); err != nil || removed {
		t.Errorf("removing it again: removed %v, %v; want nothing written", removed, err)
	}
}
