package fresh

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/cluster-api/util/patch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Cluster API's patch helper writes copies of the object it is given, which keeps the
// version it was read at; the Recorder knows the version the helper's last write left.
func TestRecorderKnowsTheVersionThePatchHelperLeft(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	prod := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web"}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(prod).WithStatusSubresource(prod).Build()
	if err := c.Get(ctx, client.ObjectKeyFromObject(prod), prod); err != nil {
		t.Fatal(err)
	}
	read := prod.ResourceVersion

	rec := NewRecorder(c)
	if rec.Version() != "" {
		t.Fatal("a Recorder that wrote nothing knows a version")
	}
	h, err := patch.NewHelper(prod, rec)
	if err != nil {
		t.Fatal(err)
	}
	conditions.Set(prod, metav1.Condition{Type: droverv1.ProdAppliedCondition, Status: metav1.ConditionTrue, Reason: droverv1.ProdAppliedReason})
	prod.Status.AppliedVersion = "v2"
	if err := h.Patch(ctx, prod); err != nil {
		t.Fatal(err)
	}
	stored := &droverv1.Prod{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(prod), stored); err != nil {
		t.Fatal(err)
	}
	if stored.ResourceVersion == read {
		t.Fatal("the patch helper wrote nothing")
	}
	if prod.ResourceVersion != read {
		t.Logf("the patch helper now updates the object it is given (version %s)", prod.ResourceVersion)
	}
	if got := rec.Version(); got != stored.ResourceVersion {
		t.Errorf("Recorder version %q after the helper's writes, want the stored %q (read at %q)", got, stored.ResourceVersion, read)
	}
}
