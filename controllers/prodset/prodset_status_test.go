package prodset

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/traffic"
)

// A reconcile that could not plan (a list failed, the spec could not be read) decided
// nothing about the weights: TrafficReady keeps its last verdict rather than claiming
// every weight in sync, and a set without one reads Unknown. A frozen set is judged
// against the weights it would publish: one DNS does not have is not in sync.
func TestTrafficReadyWithoutAPlanOrFrozen(t *testing.T) {
	r := &Reconciler{Publisher: &traffic.Memory{}}
	prod := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Name: "shop-a"}}
	conditions.Set(prod, metav1.Condition{Type: droverv1.ProdAvailableCondition, Status: metav1.ConditionTrue, Reason: "Available"})
	newSet := func() *droverv1.ProdSet {
		set := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "ns"}}
		set.Spec.Traffic = &droverv1.ProdSetTraffic{HostedZoneID: "Z1", RecordName: "shop.example.com"}
		return set
	}

	set := newSet()
	pending := metav1.Condition{Type: droverv1.ProdSetTrafficReadyCondition, Status: metav1.ConditionFalse,
		Reason: droverv1.ProdSetTrafficPendingReason, Message: "weights not published yet: shop-a (0, want 100)"}
	conditions.Set(set, pending)
	r.setTrafficReady(&scope{set: set, prods: []*droverv1.Prod{prod}, summaries: map[string]*droverv1.ProdSummary{}}, true)
	if c := conditions.Get(set, droverv1.ProdSetTrafficReadyCondition); c.Status != pending.Status || c.Message != pending.Message {
		t.Errorf("TrafficReady after a reconcile without a plan = %s %q, want the last verdict %s %q", c.Status, c.Message, pending.Status, pending.Message)
	}

	set = newSet()
	r.setTrafficReady(&scope{set: set, prods: []*droverv1.Prod{prod}, summaries: map[string]*droverv1.ProdSummary{}}, true)
	if c := conditions.Get(set, droverv1.ProdSetTrafficReadyCondition); c == nil || c.Status != metav1.ConditionUnknown {
		t.Errorf("TrafficReady of a new set without a plan = %v, want Unknown", c)
	}

	// A frozen set publishes nothing: a Prod DNS does not have is not in sync.
	set = newSet()
	frozen := &scope{set: set, prods: []*droverv1.Prod{prod}, summaries: map[string]*droverv1.ProdSummary{}, planned: true}
	frozen.plan.Frozen = true
	r.setTrafficReady(frozen, true)
	if c := conditions.Get(set, droverv1.ProdSetTrafficReadyCondition); c == nil || c.Status != metav1.ConditionFalse || !strings.HasPrefix(c.Message, "frozen") {
		t.Errorf("TrafficReady of a frozen set with a weight not published = %v, want False, frozen", c)
	}

	// With a plan, the Prod's weight not yet published is Pending, as before.
	set = newSet()
	r.setTrafficReady(&scope{set: set, prods: []*droverv1.Prod{prod}, summaries: map[string]*droverv1.ProdSummary{}, planned: true}, true)
	if c := conditions.Get(set, droverv1.ProdSetTrafficReadyCondition); c == nil || c.Status != metav1.ConditionFalse || c.Reason != droverv1.ProdSetTrafficPendingReason {
		t.Errorf("TrafficReady with a plan and a weight not published = %v, want False/%s", c, droverv1.ProdSetTrafficPendingReason)
	}
}
