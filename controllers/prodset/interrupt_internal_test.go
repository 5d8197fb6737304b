package prodset

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/gates"
	"github.com/drover-dev/drover/internal/rollout"
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

// A reconcile whose Prod writes a gate failure interrupted decides again at once, from
// the status it would have written (in memory), against the set as stored; any other
// reconcile, or one of a set being deleted, does not.
func TestAnInterruptedReconcileDecidesAgainFromItsOwnStatus(t *testing.T) {
	ctx := context.Background()
	r := &Reconciler{Gates: &gates.Runner{}, Now: time.Now}
	stored := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Generation: 3}}
	stored.Status.Rollout = &droverv1.RolloutStatus{Revision: "v2", Phase: droverv1.RolloutProgressing, Step: 0}
	set := stored.DeepCopy()
	// What the first pass decided: step 1 started, p1 moved in it.
	set.Status.Rollout.Step = 1
	set.Status.Rollout.Prods = []droverv1.RolloutProdStatus{{Name: "p1", Step: 1}}

	first := r.newScope(set, stored)
	first.wroteMidway = true
	if again := r.decideAgain(ctx, first); again != nil {
		t.Fatal("a reconcile that was not interrupted decides again")
	}
	first.interrupted = true
	again := r.decideAgain(ctx, first)
	if again == nil {
		t.Fatal("an interrupted reconcile does not decide again")
	}
	if again.set != set || again.stored != stored {
		t.Error("the second pass does not go on with the set in memory, against the set as stored")
	}
	if ro := again.read.Status.Rollout; ro.Step != 1 || len(ro.Prods) != 1 || ro.Prods[0].Name != "p1" {
		t.Errorf("the second pass starts from rollout %+v, want the first pass's (step 1, p1 moved)", ro)
	}
	if again.read.Status.ObservedGeneration != 3 {
		t.Errorf("the second pass starts from observedGeneration %d, want 3 as the first pass would have written", again.read.Status.ObservedGeneration)
	}
	if again.interrupted || !again.wroteMidway {
		t.Errorf("second pass: interrupted %v, wroteMidway %v; want false, true (the first pass wrote on the way)", again.interrupted, again.wroteMidway)
	}
	if again := r.decideAgain(ctx, again); again != nil {
		t.Error("a second pass that was not interrupted decides again")
	}

	deleting := set.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	gone := r.newScope(deleting, stored)
	gone.interrupted = true
	if r.decideAgain(ctx, gone) != nil {
		t.Error("a set being deleted decides again")
	}
}

// The second pass's verdict write is patched against the set as stored, not as the pass
// started from it: it carries what the first pass decided of the rollout (the step it
// started, the Prods it moved), which the API server does not have yet, with the verdict.
func TestTheVerdictOfASecondPassCarriesTheFirstPassesRollout(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	stored := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Generation: 1}}
	stored.Status.Rollout = &droverv1.RolloutStatus{Revision: "v2", PreviousRevision: "v1", Phase: droverv1.RolloutProgressing}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(stored.DeepCopy()).WithStatusSubresource(&droverv1.ProdSet{}).Build()
	if err := c.Get(ctx, client.ObjectKeyFromObject(stored), stored); err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{Client: c, Gates: &gates.Runner{}, Now: time.Now}

	set := stored.DeepCopy()
	set.Status.Rollout.Step = 1 // the first pass: step 1 started, p1 moved in it
	set.Status.Rollout.Prods = []droverv1.RolloutProdStatus{{Name: "p1", Step: 1, Phase: droverv1.RolloutProdPhase(rollout.Updating)}}
	first := r.newScope(set, stored)
	first.interrupted = true
	again := r.decideAgain(ctx, first)

	// The second pass's decision: the gate failed, the step's Prods revert.
	ro := again.set.Status.Rollout
	ro.Phase = droverv1.RolloutRollingBack
	ro.Prods[0].Phase = droverv1.RolloutProdPhase(rollout.Reverting)
	ro.Gates = []droverv1.GateOutcome{{Step: 1, Passed: false, Message: "check failed", Time: metav1.Now()}}
	if err := r.persistRollout(ctx, again); err != nil {
		t.Fatal(err)
	}
	got := &droverv1.ProdSet{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(stored), got); err != nil {
		t.Fatal(err)
	}
	g := got.Status.Rollout
	if g.Phase != droverv1.RolloutRollingBack || g.Step != 1 || len(g.Gates) != 1 || len(g.Prods) != 1 || g.Prods[0].Name != "p1" {
		t.Errorf("stored rollout after the verdict's write: phase %s step %d gates %d prods %+v; want RollingBack, step 1, the verdict and p1",
			g.Phase, g.Step, len(g.Gates), g.Prods)
	}
}
