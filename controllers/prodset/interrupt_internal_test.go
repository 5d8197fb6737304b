package prodset

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/gates"
	"github.com/drover-dev/drover/internal/tenancy"
)

// A gate of the set that fails while a reconcile writes its Prods interrupts the
// writes; one of another set, or one that passes, does not.
func TestAGateFailureInterruptsTheWrites(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer failing.Close()
	runner := &gates.Runner{}
	r := &Reconciler{Gates: runner}
	set := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
	other := types.NamespacedName{Namespace: "shop", Name: "cart"}
	run := func(owner types.NamespacedName, key, url string) {
		t.Helper()
		job := gates.Job{Owner: owner, Key: key, Targets: []gates.Target{{Prod: "p"}}, Policy: tenancy.Policy{SingleTeam: true},
			Gate: droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{URL: url, Tries: 1, SuccessPercent: 100, Interval: &metav1.Duration{Duration: time.Millisecond}}}}
		for deadline := time.Now().Add(10 * time.Second); !runner.Get(job).Done; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gate %s: no verdict", key)
			}
		}
	}
	ctx := context.Background()

	run(types.NamespacedName{Namespace: "shop", Name: "web"}, "before", failing.URL)
	s := &scope{set: set}
	s.gateFailures = r.gateFailures(s)
	if r.interrupted(ctx, s) {
		t.Fatal("a failure the reconcile read before it began interrupts it")
	}
	run(types.NamespacedName{Namespace: "shop", Name: "web"}, "passes", ok.URL)
	run(other, "fails", failing.URL)
	if r.interrupted(ctx, s) {
		t.Fatal("a passed gate, or another set's failure, interrupts the writes")
	}
	run(types.NamespacedName{Namespace: "shop", Name: "web"}, "fails", failing.URL)
	if !r.interrupted(ctx, s) || s.requeue == 0 {
		t.Fatalf("a failure of the set's gate while it writes: interrupted %v, requeue %s", s.interrupted, s.requeue)
	}
	if !r.interrupted(ctx, s) {
		t.Fatal("an interrupted reconcile writes no more Prods")
	}
	if r := (&Reconciler{}); r.interrupted(ctx, &scope{set: set}) {
		t.Fatal("a manager without gates is never interrupted")
	}
}
