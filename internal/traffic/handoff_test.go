package traffic

import (
	"errors"
	"testing"

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

// A manager without a maintenance controller's hand-offs (nil) has nothing pending.
func TestNilHandoffs(t *testing.T) {
	var h *Handoffs
	set := types.NamespacedName{Namespace: "ns", Name: "shop"}
	h.Forget(set)
	if h.Pending(set) || h.Made("m1") {
		t.Error("a nil registry has hand-offs")
	}
}
