package prodset

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/gates"
	"github.com/drover-dev/drover/internal/plan"
	"github.com/drover-dev/drover/internal/tenancy"
)

// applied is what a test's interceptor saw of one server-side apply of a Prod.
type applied struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
}

// createBed is a Reconciler over a fake client whose Prod applies are recorded (and
// not written), with a Prod of another author, "web-c3", in the set's namespace.
type createBed struct {
	r        *Reconciler
	s        *scope
	recorder *events.FakeRecorder
	client   client.Client

	mu                sync.Mutex
	applies           []applied
	inFlight, highest int
	// hold, when set, runs at the start of every apply (outside mu).
	hold func()
}

func newCreateBed(t *testing.T, clusters int) *createBed {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	squatter := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-c3"}}
	b := &createBed{recorder: events.NewFakeRecorder(100)}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(squatter).WithInterceptorFuncs(interceptor.Funcs{
		Apply: func(_ context.Context, _ client.WithWatch, obj runtime.ApplyConfiguration, _ ...client.ApplyOption) error {
			if b.hold != nil {
				b.hold()
			}
			data, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			var a applied
			if err := json.Unmarshal(data, &a); err != nil {
				return err
			}
			b.mu.Lock()
			b.inFlight++
			b.highest = max(b.highest, b.inFlight)
			b.mu.Unlock()
			time.Sleep(20 * time.Millisecond) // a write takes time: the others overlap it
			b.mu.Lock()
			defer b.mu.Unlock()
			b.inFlight--
			b.applies = append(b.applies, a)
			return nil
		},
	}).Build()
	b.client = c
	b.r = &Reconciler{Client: c, Recorder: b.recorder, Gates: &gates.Runner{}}
	set := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "set-uid"}}
	set.Spec.Template.Spec.Version = "v1"
	b.s = &scope{set: set, revision: "r1"}
	b.s.ro.createRevision = "r1"
	for i := range clusters {
		b.s.plan.Create = append(b.s.plan.Create, plan.NewProd{Cluster: fmt.Sprintf("c%d", i+1)})
	}
	b.s.gateFailures = b.r.gateFailures(b.s)
	return b
}

func (b *createBed) events() []string {
	var out []string
	for {
		select {
		case e := <-b.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// A set's new Prods are written several at once, but no more than createConcurrency;
// each carries the Prod controller's finalizer; a name another author's Prod has is
// skipped, never written; one event tells of them all.
func TestNewProdsAreWrittenInParallelNeverOnAnotherOwnersName(t *testing.T) {
	b := newCreateBed(t, 20)
	if _, err := b.r.reconcileCreateProds(context.Background(), b.s); err != nil {
		t.Fatal(err)
	}
	if len(b.applies) != 20 {
		t.Fatalf("%d Prods written, want the plan's 20", len(b.applies))
	}
	names := map[string]bool{}
	for _, a := range b.applies {
		n := a.Metadata.Name
		if n == "web-c3" {
			t.Errorf("the set wrote Prod web-c3, another author's")
		}
		if names[n] {
			t.Errorf("Prod %s written twice", n)
		}
		names[n] = true
		if len(a.Metadata.Finalizers) != 1 || a.Metadata.Finalizers[0] != droverv1.ProdFinalizer {
			t.Errorf("Prod %s created with finalizers %v, want [%s]", n, a.Metadata.Finalizers, droverv1.ProdFinalizer)
		}
	}
	if !names["web-c3-1"] {
		t.Errorf("the Prod on c3 is not web-c3-1 (the next free name): %v", names)
	}
	if b.highest < 2 || b.highest > createConcurrency {
		t.Errorf("at most %d Prods written at once, want between 2 and %d", b.highest, createConcurrency)
	}
	evs := b.events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want one for the 20 Prods: %q", len(evs), evs)
	}
	if !strings.HasPrefix(evs[0], "Normal Created created 20 Prods on clusters c1, c10, ") || !strings.Contains(evs[0], "web-c3-1") {
		t.Errorf("event %q, want one Created naming the 20 Prods and their clusters", evs[0])
	}
	if len(evs[0]) > maxEventMessage+len("Normal Created ") {
		t.Errorf("event of %d bytes, want at most %d", len(evs[0]), maxEventMessage)
	}
}

// A gate of the set that fails while its Prods are written stops the writes: those
// started go on, no other starts.
func TestAGateFailureStopsTheParallelCreates(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer failing.Close()
	b := newCreateBed(t, 30)
	var once sync.Once
	failed := make(chan struct{})
	b.hold = func() {
		once.Do(func() {
			job := gates.Job{Owner: types.NamespacedName{Namespace: "shop", Name: "web"}, Key: "fails", Targets: []gates.Target{{Prod: "p"}},
				Policy: tenancy.Policy{SingleTeam: true},
				Gate:   droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{URL: failing.URL, Tries: 1, SuccessPercent: 100, Interval: &metav1.Duration{Duration: time.Millisecond}}}}
			for deadline := time.Now().Add(10 * time.Second); !b.r.Gates.Get(job).Done; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Error("the gate gave no verdict")
					break
				}
			}
			close(failed)
		})
		<-failed
	}
	if _, err := b.r.reconcileCreateProds(context.Background(), b.s); err != nil {
		t.Fatal(err)
	}
	if !b.s.interrupted {
		t.Fatal("the gate's failure did not interrupt the reconcile")
	}
	if n := len(b.applies); n == 0 || n > createConcurrency {
		t.Errorf("%d Prods written, want those started before the failure: 1 to %d", n, createConcurrency)
	}
	evs := b.events()
	if len(evs) != 1 || !strings.Contains(evs[0], fmt.Sprintf("created %d Prods", len(b.applies))) && len(b.applies) > 1 {
		t.Errorf("events %q, want one naming the %d Prods written", evs, len(b.applies))
	}

	// Interrupted already: nothing is written.
	b2 := newCreateBed(t, 5)
	b2.s.interrupted = true
	if _, err := b2.r.reconcileCreateProds(context.Background(), b2.s); err != nil {
		t.Fatal(err)
	}
	if len(b2.applies) != 0 || len(b2.events()) != 0 {
		t.Errorf("an interrupted reconcile wrote %d Prods", len(b2.applies))
	}
}

// A name taken by another author's Prod after the set chose it, while the write waited
// for its turn, is not written over: that Prod is left alone, the others are written.
func TestANameTakenWhileWaitingIsNotWrittenOver(t *testing.T) {
	b := newCreateBed(t, 20)
	var once sync.Once
	b.hold = func() {
		once.Do(func() {
			// While the first writes run, the last Prod's name is taken.
			late := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-c20"}}
			if err := b.client.Create(context.Background(), late); err != nil {
				t.Error(err)
			}
		})
	}
	_, err := b.r.reconcileCreateProds(context.Background(), b.s)
	if err == nil || !strings.Contains(err.Error(), "web-c20") {
		t.Errorf("error %v, want one saying web-c20 was taken", err)
	}
	if len(b.applies) != 19 {
		t.Errorf("%d Prods written, want the 19 others", len(b.applies))
	}
	for _, a := range b.applies {
		if a.Metadata.Name == "web-c20" {
			t.Error("the set wrote over web-c20, another author's Prod")
		}
	}
}
