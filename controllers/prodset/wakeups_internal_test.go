package prodset

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// A gate's verdict or a name let go never waits for the controller, and no set is lost:
// thousands of wake-ups with nobody reading return at once, and each set is delivered
// once they are read, however often it was woken.
func TestWakeupsNeverBlockAndLoseNoSet(t *testing.T) {
	w := newWakeups()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 3000 {
			w.add(types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("s%d", i%1000)})
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("waking sets blocked with nobody reading")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.run(ctx) }()
	seen := map[string]int{}
	for len(seen) < 1000 {
		select {
		case ev := <-w.out:
			seen[ev.Object.Name]++
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of 1000 sets delivered", len(seen))
		}
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("set %s delivered %d times for wake-ups made before delivery, want once", name, n)
		}
	}
	// Woken again later: delivered again.
	w.add(types.NamespacedName{Namespace: "ns", Name: "s1"})
	select {
	case ev := <-w.out:
		if ev.Object.Name != "s1" {
			t.Errorf("delivered %s", ev.Object.Name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a later wake-up was lost")
	}
}

// The revision is the template's hash for the set's generation, computed again only
// when the generation moves.
func TestRevisionsAreMemoisedPerGeneration(t *testing.T) {
	var rs revisions
	set := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{UID: "u1", Generation: 1}}
	set.Spec.Template.Spec.Version = "v1"
	v1 := rs.of(set)
	if v1 != Revision(&set.Spec.Template) {
		t.Fatalf("revision %s, want the template's hash", v1)
	}
	set.Spec.Template.Spec.Version = "v2" // same generation: a write the set has not seen yet
	if got := rs.of(set); got != v1 {
		t.Errorf("the same generation hashed again: %s", got)
	}
	set.Generation = 2
	if got := rs.of(set); got != Revision(&set.Spec.Template) || got == v1 {
		t.Errorf("a new generation kept the old hash: %s", got)
	}
	rs.forget("u1")
	if len(rs.all) != 0 {
		t.Error("a forgotten set is still memoised")
	}
}
