package prodset

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// claimant is a ProdSet asking for zone Z1's shop.example.com.
func claimant(ns, name, uid string, created time.Time, holds bool) *droverv1.ProdSet {
	s := &droverv1.ProdSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid), CreationTimestamp: metav1.NewTime(created)},
		Spec:       droverv1.ProdSetSpec{Traffic: &droverv1.ProdSetTraffic{HostedZoneID: "Z1", RecordName: "Shop.Example.com."}},
	}
	if holds {
		s.Status.Traffic = &droverv1.ProdSetTrafficStatus{ClaimedName: "Z1/shop.example.com"}
	}
	return s
}

func TestClaims(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	key := claimKey("Z1", "Shop.Example.com.")
	if key != "Z1/shop.example.com" {
		t.Fatalf("claimKey = %q", key)
	}

	// Loaded from the statuses: of two that say they hold the name, the older keeps it.
	older := claimant("a", "older", "u-older", t0, true)
	newer := claimant("b", "newer", "u-newer", t0.Add(time.Hour), true)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(older, newer).WithStatusSubresource(older, newer).Build()
	var woken []types.NamespacedName
	cl := &claims{wake: func(n types.NamespacedName) { woken = append(woken, n) }}
	if h, ok, err := cl.hold(ctx, c, c, key, newer); err != nil || ok || h.set.Name != "older" {
		t.Fatalf("newer asks: holder %v granted %v (%v); want older to keep it", h.set, ok, err)
	}
	if _, ok, _ := cl.hold(ctx, c, c, key, older); !ok {
		t.Fatal("the holder asking again is refused")
	}

	// A third set asks while the holder exists: refused, and woken when it is let go.
	third := claimant("c", "third", "u-third", t0.Add(2*time.Hour), false)
	if _, ok, _ := cl.hold(ctx, c, c, key, third); ok {
		t.Fatal("a third set got a held name")
	}
	cl.release(key, "u-somebody-else")
	if len(woken) != 0 {
		t.Fatalf("releasing as a set that does not hold it woke %v", woken)
	}
	cl.release(key, older.UID)
	if len(woken) != 2 {
		t.Fatalf("woken %v, want the two sets that asked", woken)
	}
	if _, ok, _ := cl.hold(ctx, c, c, key, third); !ok {
		t.Fatal("the name is free and the third set is refused")
	}

	// A holder deleted without letting go (the registry still names it) loses the name
	// to the next set that asks.
	if err := c.Delete(ctx, newer); err != nil {
		t.Fatal(err)
	}
	cl2 := &claims{held: map[string]holder{key: {set: types.NamespacedName{Namespace: "b", Name: "newer"}, uid: "u-newer"}}, loaded: true}
	if _, ok, err := cl2.hold(ctx, c, c, key, third); err != nil || !ok {
		t.Fatalf("a gone holder keeps the name: %v %v", ok, err)
	}
	// A holder that moved to another name and said so loses it too.
	moved := &droverv1.ProdSet{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: "a", Name: "older"}, moved); err != nil {
		t.Fatal(err)
	}
	moved.Spec.Traffic.RecordName = "elsewhere.example.com"
	if err := c.Update(ctx, moved); err != nil {
		t.Fatal(err)
	}
	moved.Status.Traffic = nil
	if err := c.Status().Update(ctx, moved); err != nil {
		t.Fatal(err)
	}
	cl3 := &claims{held: map[string]holder{key: {set: types.NamespacedName{Namespace: "a", Name: "older"}, uid: "u-older"}}, loaded: true}
	if _, ok, err := cl3.hold(ctx, c, c, key, third); err != nil || !ok {
		t.Fatalf("a holder that moved keeps the name: %v %v", ok, err)
	}
}
