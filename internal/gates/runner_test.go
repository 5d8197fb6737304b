package gates

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

// waitVerdict polls the runner until the job has a verdict.
func waitVerdict(t *testing.T, r *Runner, job Job) Verdict {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if v := r.Get(job); v.Done {
			return v
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no verdict for %s", job.Key)
	return Verdict{}
}

func TestRunnerPrometheusWindow(t *testing.T) {
	var value atomic.Value
	value.Store("0.001")
	var errorsLeft atomic.Int32
	var queries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries.Add(1)
		if errorsLeft.Load() > 0 {
			errorsLeft.Add(-1)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("unavailable"))
			return
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"` + value.Load().(string) + `"]}]}}`))
	}))
	defer srv.Close()
	var mu sync.Mutex
	var woken []types.NamespacedName
	r := &Runner{Prometheus: PrometheusQuerier{Address: srv.URL}, Done: func(o types.NamespacedName) {
		mu.Lock()
		defer mu.Unlock()
		woken = append(woken, o)
	}}
	owner := types.NamespacedName{Namespace: "default", Name: "shop"}
	gate := droverv1.Gate{Prometheus: &droverv1.PrometheusGate{Query: "error_ratio", Comparison: "<", Threshold: "0.01",
		Window: &metav1.Duration{Duration: 300 * time.Millisecond}, Interval: &metav1.Duration{Duration: 50 * time.Millisecond}}}
	targets := []Target{{Prod: "shop-eu-1", Version: "v2"}}

	// Holding over the whole window passes, after several evaluations; asking again does
	// not start another run.
	v := waitVerdict(t, r, Job{Owner: owner, Key: "a", Gate: gate, Targets: targets})
	if !v.Passed || !strings.Contains(v.Message, "held for 300ms") {
		t.Fatalf("verdict %+v", v)
	}
	n := queries.Load()
	if n < 4 {
		t.Errorf("%d queries over a 300ms window every 50ms", n)
	}
	time.Sleep(100 * time.Millisecond)
	if r.Get(Job{Owner: owner, Key: "a", Gate: gate, Targets: targets}); queries.Load() != n {
		t.Error("a verdict is kept: the same key runs once")
	}
	mu.Lock()
	if len(woken) != 1 || woken[0] != owner {
		t.Errorf("Done called with %v", woken)
	}
	mu.Unlock()

	// A value that does not hold fails at once.
	value.Store("0.5")
	v = waitVerdict(t, r, Job{Owner: owner, Key: "b", Gate: gate, Targets: targets})
	if v.Passed || !strings.Contains(v.Message, "does not hold") {
		t.Fatalf("verdict %+v", v)
	}
	if n := r.Failures(owner); n != 1 {
		t.Errorf("Failures after one passed and one failed run: %d, want 1", n)
	}

	// Errors: a couple are tolerated, three in a row fail the gate.
	value.Store("0.001")
	errorsLeft.Store(2)
	if v = waitVerdict(t, r, Job{Owner: owner, Key: "c", Gate: gate, Targets: targets}); !v.Passed {
		t.Fatalf("two failed queries then good ones: %+v", v)
	}
	errorsLeft.Store(1000)
	v = waitVerdict(t, r, Job{Owner: owner, Key: "d", Gate: gate, Targets: targets})
	if v.Passed || !strings.Contains(v.Message, "3 queries in a row failed") {
		t.Fatalf("verdict %+v", v)
	}
	if n := r.Failures(owner); n != 2 {
		t.Errorf("Failures after two failed runs: %d, want 2", n)
	}
	if n := r.Failures(types.NamespacedName{Namespace: "default", Name: "other"}); n != 0 {
		t.Errorf("another owner's Failures: %d, want 0", n)
	}
	r.Forget(owner, func(string) bool { return false })
	if n := r.Failures(owner); n != 2 {
		t.Errorf("Failures after forgetting runs of an owner still there: %d, want 2", n)
	}
	r.Forget(owner, nil)
	if n := r.Failures(owner); n != 0 {
		t.Errorf("Failures of an owner forgotten whole: %d, want 0", n)
	}
}

func TestRunnerForgetStopsARun(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer srv.Close()
	var done atomic.Int32
	r := &Runner{Done: func(types.NamespacedName) { done.Add(1) }}
	owner := types.NamespacedName{Namespace: "default", Name: "shop"}
	gate := droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{URL: srv.URL + "/?prod={{ .Prod }}", Tries: 1000, SuccessPercent: 100,
		Interval: &metav1.Duration{Duration: 20 * time.Millisecond}}}
	job := Job{Owner: owner, Key: "long", Gate: gate, Targets: []Target{{Prod: "p"}}, Policy: tenancy.Policy{SingleTeam: true}}
	if v := r.Get(job); v.Done {
		t.Fatalf("a run of 1000 tries is not done at once: %+v", v)
	}
	for requests.Load() < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	r.Forget(owner, func(key string) bool { return key != "long" })
	time.Sleep(100 * time.Millisecond)
	n := requests.Load()
	time.Sleep(200 * time.Millisecond)
	if requests.Load() != n {
		t.Error("a forgotten run goes on requesting")
	}
	if done.Load() != 0 {
		t.Error("a forgotten run wakes its owner")
	}
	// Asked again after Forget, the key starts afresh.
	if v := r.Get(job); v.Done || v.Message != "started" {
		t.Errorf("after Forget: %+v", v)
	}
	r.Forget(owner, nil)
}

// A baseline gate's own address is judged by the namespace's tenancy, as a prometheus
// gate's is: a tenant cannot make the manager query loopback (or anything its gate
// networks do not list) and read numbers back. Nothing is requested; the gate cannot
// judge, so it is inconclusive, never a pass.
func TestBaselineGateAddressIsJudgedByTheTenancy(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"value":[0,"1"]}]}}`))
	}))
	defer srv.Close()
	r := &Runner{MaxErrors: 2}
	gate := droverv1.Gate{Baseline: &droverv1.BaselineGate{Address: srv.URL, Metrics: []droverv1.BaselineMetric{{Name: "errors", Query: "up"}},
		Window: &metav1.Duration{Duration: 10 * time.Millisecond}, Interval: &metav1.Duration{Duration: time.Millisecond}}}
	job := Job{Owner: types.NamespacedName{Namespace: "shop", Name: "web"}, Key: "k", Gate: gate,
		Targets: []Target{{Prod: "canary"}}, Baseline: []Target{{Prod: "base"}}, Policy: tenancy.Policy{}}
	v := waitVerdict(t, r, job)
	if v.Passed || !v.Inconclusive || !strings.Contains(v.Message, "refused") || !strings.Contains(v.Message, "loopback") {
		t.Fatalf("verdict %+v, want inconclusive with the refusal", v)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the refused address was queried %d times", n)
	}
}
