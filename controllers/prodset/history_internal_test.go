package prodset

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// A kept revision the metadata cache shows as the set's is known without a request (a
// restarted manager read one ControllerRevision per set); one it does not show as the
// set's, someone else's of that name or one labelled another revision, is asked of the
// API server as before.
func TestEnsureKnowsAKeptRevisionFromItsMetadata(t *testing.T) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{appsv1.AddToScheme, droverv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	set := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "shop", UID: "uid-set"}}
	set.Spec.Template.Spec.Version = "v2"
	rev := Revision(&set.Spec.Template)
	kept := func(owner types.UID, revLabel string) *appsv1.ControllerRevision {
		cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: RevisionName("shop", rev),
			Labels: map[string]string{droverv1.ProdSetNameLabel: "shop", droverv1.RevisionLabel: revLabel}}, Data: runtime.RawExtension{Raw: []byte(`{}`)}}
		controller := true
		cr.OwnerReferences = []metav1.OwnerReference{{APIVersion: droverv1.GroupVersion.String(), Kind: "ProdSet", Name: "shop", UID: owner, Controller: &controller}}
		return cr
	}
	for _, tc := range []struct {
		name      string
		cr        *appsv1.ControllerRevision
		wantReads int
	}{
		{"the set's", kept(set.UID, rev), 0},
		{"another set's of that name", kept("uid-other", rev), 1},
		{"labelled another revision", kept(set.UID, "other"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tc.cr).Build()
			reads := 0
			live := interceptor.NewClient(store, interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					reads++
					return c.Get(ctx, key, obj, opts...)
				},
			})
			h := history{reader: live, metadata: store, writer: store}
			if err := h.ensure(context.Background(), set, rev, nil); err != nil {
				t.Fatal(err)
			}
			if reads != tc.wantReads {
				t.Errorf("%d reads from the API server, want %d", reads, tc.wantReads)
			}
			if tc.wantReads == 0 && h.cached(set.UID, rev) == nil {
				t.Error("the revision's template is not remembered")
			}
		})
	}
}
