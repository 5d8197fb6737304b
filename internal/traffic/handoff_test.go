package traffic

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestHandoffs(t *testing.T) {
	set := types.NamespacedName{Namespace: "ns", Name: "shop"}
	var h Handoffs
	if _, ok := h.Take(set, ""); ok || h.Pending(set) || h.Made("m1") {
		t.Fatal("an empty registry hands something over")
	}
	// Planned, not handed yet: the set waits, and there is nothing to take.
	h.Plan(set, "m1")
	if !h.Pending(set) || !h.Made("m1") {
		t.Error("a planned hand-off is not pending")
	}
	if _, ok := h.Take(set, ""); ok {
		t.Error("a hand-off was taken before it was handed")
	}
	if err := h.Hand(set, "m1", func() (string, error) { return "B1#shop", nil }, map[string]int32{"shop-a": 0}); err != nil {
		t.Fatal(err)
	}
	// The set's own change in flight, another batch: after it.
	if _, ok := h.Take(set, "B0#shop"); ok {
		t.Error("a hand-off was taken over while the set's own change was in flight")
	}
	// The same batch: taken.
	got, ok := h.Take(set, "B1#shop")
	if !ok || got.Ticket != "B1#shop" || got.Maintenance != "m1" || got.Weights["shop-a"] != 0 || len(got.Weights) != 1 {
		t.Fatalf("Take = %+v, %v", got, ok)
	}
	if h.Pending(set) {
		t.Error("taken, still pending")
	}
	// A publish that fails abandons the plan; so does Abandon.
	h.Plan(set, "m2")
	if err := h.Hand(set, "m2", func() (string, error) { return "", errors.New("no") }, nil); err == nil || h.Pending(set) {
		t.Errorf("a failed hand-off: err %v, pending %v", err, h.Pending(set))
	}
	h.Plan(set, "m3")
	h.Abandon(set, "m3")
	if h.Pending(set) {
		t.Error("abandoned, still pending")
	}
	if err := h.Hand(set, "m3", func() (string, error) { t.Error("published an abandoned hand-off"); return "", nil }, nil); err != nil {
		t.Error(err)
	}
	h.ForgetMaintenance("m1")
	if h.Made("m1") {
		t.Error("a forgotten maintenance is still known")
	}
}

// A hand-off planned and never handed nor abandoned (the reconcile that planned it died
// between the two) holds its set back for stalePlan, then is dropped; a handed one is
// not, however old.
func TestHandoffsDropAStalePlan(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	h := Handoffs{Now: func() time.Time { return now }}
	stuck := types.NamespacedName{Namespace: "ns", Name: "shop"}
	handed := types.NamespacedName{Namespace: "ns", Name: "cart"}
	h.Plan(stuck, "m1")
	h.Plan(handed, "m1")
	if err := h.Hand(handed, "m1", func() (string, error) { return "B1#cart", nil }, map[string]int32{"cart-a": 0}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(stalePlan)
	if !h.Pending(stuck) {
		t.Error("a plan as old as the stale limit was dropped")
	}
	now = now.Add(time.Second)
	if h.Pending(stuck) {
		t.Error("a plan older than the stale limit still holds its set back")
	}
	if !h.Pending(handed) {
		t.Error("a handed hand-off was dropped for its age")
	}
	if _, ok := h.Take(handed, ""); !ok {
		t.Error("the handed hand-off cannot be taken over")
	}
}

// A manager without a maintenance controller's hand-offs (nil) has nothing pending.
func TestNilHandoffs(t *testing.T) {
	var h *Handoffs
	set := types.NamespacedName{Namespace: "ns", Name: "shop"}
	h.Forget(set)
	if h.Pending(set) || h.Made("m1") {
		t.Error("a nil registry has hand-offs")
	}
}
