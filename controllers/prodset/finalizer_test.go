package prodset_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/prodset"
)

// finalizerOwners are the field managers that own the Prod's finalizer.
func finalizerOwners(g Gomega, p *droverv1.Prod) []string {
	var out []string
	for _, mf := range p.ManagedFields {
		if mf.FieldsV1 == nil {
			continue
		}
		var fields map[string]any
		g.Expect(json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields)).To(Succeed())
		meta, _ := fields["f:metadata"].(map[string]any)
		if _, ok := meta["f:finalizers"]; ok {
			out = append(out, mf.Manager+"/"+string(mf.Operation))
		}
	}
	return out
}

// withoutSetsFinalizer rewrites p's managedFields as a Prod created before the set's
// applies carried the finalizer has them: the set's apply owns no finalizer, the Prod
// controller's own write (an Update) owns it.
func withoutSetsFinalizer(g Gomega, p *droverv1.Prod) {
	var mfs []metav1.ManagedFieldsEntry
	for _, mf := range p.ManagedFields {
		if mf.FieldsV1 != nil {
			var fields map[string]any
			g.Expect(json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields)).To(Succeed())
			if meta, ok := fields["f:metadata"].(map[string]any); ok {
				delete(meta, "f:finalizers")
			}
			raw, err := json.Marshal(fields)
			g.Expect(err).NotTo(HaveOccurred())
			mf.FieldsV1 = metav1.NewFieldsV1(string(raw))
		}
		mfs = append(mfs, mf)
	}
	mfs = append(mfs, metav1.ManagedFieldsEntry{
		Manager: "manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: droverv1.GroupVersion.String(),
		Time: &metav1.Time{Time: time.Now()}, FieldsType: "FieldsV1",
		FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:finalizers":{".":{},"v:\"` + droverv1.ProdFinalizer + `\"":{}}}}`),
	})
	p.ManagedFields = mfs
}

// The set creates its Prods with the Prod controller's finalizer, owned by the set's
// apply; a new template keeps it; a Prod of the set deleted is still drained and
// cleaned up, and replaced. A Prod from before (its finalizer owned by the Prod
// controller's own write, not by the set) keeps it through the set's applies, and
// goes as well.
func TestProdsAreCreatedWithTheirFinalizer(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	set := newSet(t, "fin", 2, nil)
	names := expectServing(g, set, eu1, us1)

	for _, name := range names {
		p := &droverv1.Prod{}
		g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: name}, p)).To(Succeed())
		g.Expect(p.Finalizers).To(ConsistOf(droverv1.ProdFinalizer))
		// Only the set's apply wrote it: the Prod controller found it there.
		g.Expect(finalizerOwners(g, p)).To(ConsistOf(prodset.FieldManager+"/Apply"), "Prod %s", name)
	}

	// A Prod from before: the set's apply does not own its finalizer.
	legacy := &droverv1.Prod{}
	g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: names[us1]}, legacy)).To(Succeed())
	withoutSetsFinalizer(g, legacy)
	g.Expect(cp.Update(ctx, legacy)).To(Succeed())
	g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(legacy), legacy)).To(Succeed())
	g.Expect(finalizerOwners(g, legacy)).To(ConsistOf("manager/Update"))

	// A new template: every Prod is applied again, and keeps its finalizer.
	updateSet(g, set, func(s *droverv1.ProdSet) { s.Spec.Template.Spec.Version = "v2" })
	g.Eventually(func(g Gomega) {
		for _, p := range prodsOf(g, set) {
			g.Expect(p.Spec.Version).To(Equal("v2"), "Prod %s", p.Name)
			g.Expect(p.Finalizers).To(ConsistOf(droverv1.ProdFinalizer), "Prod %s", p.Name)
			g.Expect(conditions.IsTrue(&p, droverv1.ProdAvailableCondition)).To(BeTrue(), "Prod %s", p.Name)
		}
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(legacy), legacy)).To(Succeed())
	g.Expect(finalizerOwners(g, legacy)).To(ContainElement(prodset.FieldManager+"/Apply"),
		"the set's apply includes the finalizer of a Prod from before")

	// Deleting either Prod: it is drained and its workload objects deleted before it
	// goes, and the set replaces it, with the finalizer.
	for cluster, name := range names {
		p := &droverv1.Prod{}
		g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: name}, p)).To(Succeed())
		inventory := p.Status.Inventory
		g.Expect(inventory).NotTo(BeEmpty())
		g.Expect(cp.Delete(ctx, p)).To(Succeed())
		g.Eventually(func() bool {
			return apierrors.IsNotFound(cp.Get(ctx, client.ObjectKeyFromObject(p), &droverv1.Prod{}))
		}, 60*time.Second, 250*time.Millisecond).Should(BeTrue(), "Prod %s deleted", name)
		w := bed.Workload(cluster)
		for _, ref := range inventory {
			if ref.Kind == "Namespace" {
				continue // drover never deletes one
			}
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind})
			err := w.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, u)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s %s/%s on %s left after its Prod went: %v", ref.Kind, ref.Namespace, ref.Name, cluster, err)
		}
	}
	g.Eventually(func(g Gomega) {
		prods := prodsOf(g, set)
		g.Expect(prods).To(HaveLen(2))
		for _, p := range prods {
			g.Expect(p.Finalizers).To(ConsistOf(droverv1.ProdFinalizer), "replacement %s", p.Name)
			g.Expect(p.DeletionTimestamp.IsZero()).To(BeTrue())
		}
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
}
