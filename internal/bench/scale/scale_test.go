// Package scale measures the drover manager at scale: Prods over workload clusters of
// the test bed (each a real kube-apiserver and etcd), the manager run as its real binary
// so that its memory and CPU are its own process's. It times the first apply of every
// Prod and, above all, the full resync after a manager restart, and sets each figure
// beside the least any manager could do.
//
//	go test -run='^$' -bench=. -benchtime=1x -timeout=60m ./internal/bench/scale/
//
// sizes come from DROVER_BENCH_PRODS (2000), DROVER_BENCH_CLUSTERS (20),
// DROVER_BENCH_PRODS_PER_SET (10) and DROVER_BENCH_SETS_PER_ZONE (10);
// DROVER_BENCH_DEPLOYMENT=0 leaves the Deployment out of every Prod (1, the default,
// keeps it), a ConfigMap and a headless Service each, as issue 21 has them;
// DROVER_BENCH_RESTART=kill restarts with SIGKILL instead of SIGTERM;
// DROVER_BENCH_MANAGER_ARGS adds manager flags (e.g. --prod-concurrency=20);
// DROVER_BENCH_SETTLE (15s) is how long after the resync the settled RSS is read.
// TestResyncSmoke runs the same code at 30 Prods over 3 clusters in every `make test`.
package scale

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func init() {
	// envtest logs through controller-runtime; the test bed's own progress goes to Logf.
	ctrl.SetLogger(logr.Discard())
}

// BenchmarkResync is the scale benchmark. ns/op is the resync's time (s-resync).
func BenchmarkResync(b *testing.B) {
	size := Size{
		Prods:        envInt(b, "DROVER_BENCH_PRODS", 2000),
		Clusters:     envInt(b, "DROVER_BENCH_CLUSTERS", 20),
		PerSet:       envInt(b, "DROVER_BENCH_PRODS_PER_SET", 10),
		SetsPerZone:  envInt(b, "DROVER_BENCH_SETS_PER_ZONE", 10),
		NoDeployment: !envBool(b, "DROVER_BENCH_DEPLOYMENT", true),
	}
	opts := options{
		Kill:        os.Getenv("DROVER_BENCH_RESTART") == "kill",
		ManagerArgs: strings.Fields(os.Getenv("DROVER_BENCH_MANAGER_ARGS")),
		Settle:      envDuration(b, "DROVER_BENCH_SETTLE", 15*time.Second),
	}
	// One run whatever b.N: -benchtime=1x.
	s := newScenario(b, size, opts)
	s.startManager()
	s.baseline()
	s.firstApply()
	s.restart()
	if !s.res.WorkloadWrites.empty() {
		b.Fatalf("the resync wrote to the workload clusters: %s", s.res.WorkloadWrites)
	}
	if want := float64(size.Prods * size.objectsPerProd()); s.res.Verified+s.res.Applied < want {
		b.Fatalf("the resync compared %v objects with the workload clusters, want every Prod's (%v)", s.res.Verified+s.res.Applied, want)
	}
	s.floor()
	// Printed, not logged: a benchmark's log is cut to ten lines without -v.
	fmt.Println(s.res.table())
	// The benchmark checks its own result: the first apply's workload requests (not
	// its times, which depend on the machine and its load).
	if err := s.res.firstApplyCheck(); err != nil {
		b.Fatal(err)
	}

	r := s.res
	b.ReportMetric(float64(r.Resync.Nanoseconds()), "ns/op") // not the checks around it
	b.ReportMetric(r.Resync.Seconds(), "s-resync")
	b.ReportMetric(float64(r.SettleRSS)/mib, "MiB-rss")
	b.ReportMetric(float64(r.ResyncHWM)/mib, "MiB-hwm")
	b.ReportMetric(r.netCPU().Seconds(), "cpu-s")
	b.ReportMetric(float64(r.Size.Prods), "prods")
	b.ReportMetric(r.FirstAvailable.Seconds(), "s-first-apply")
	b.ReportMetric(r.workloadRequests(), "req-workload")
	b.ReportMetric(float64(len(r.Size.manifestKinds())*r.Size.Clusters), "req-workload-min")
	b.ReportMetric(r.Verified, "objects-verified")
	b.ReportMetric(r.Applied, "objects-applied")
}

// TestResyncSmoke runs the benchmark's code at a small size and holds it to what the
// benchmark only reports: the restarted manager finds every Prod, writes nothing to
// the workload clusters or to the Prods and ProdSets, and the write check sees a write.
func TestResyncSmoke(t *testing.T) {
	s := newScenario(t, Size{Prods: 30, Clusters: 3, PerSet: 3, SetsPerZone: 5}, options{
		ManagerArgs:  strings.Fields(os.Getenv("DROVER_BENCH_MANAGER_ARGS")),
		FirstTimeout: 5 * time.Minute, ResyncTimeout: 3 * time.Minute, Settle: time.Second,
	})
	s.startManager()
	s.baseline()
	s.firstApply()
	s.restart()
	s.floor()
	t.Log(s.res.table())

	r := s.res
	if !r.WorkloadWrites.empty() {
		t.Errorf("the resync wrote to the workload clusters: %s", r.WorkloadWrites)
	}
	if !r.CPWrites.empty() {
		t.Errorf("the resync wrote to the control plane: %s", r.CPWrites)
	}
	for c, want := range map[string]int{"prod": r.Size.Prods, "prodset": r.Sets} {
		if r.Reconciles[c] < float64(want) {
			t.Errorf("the restarted manager reconciled %s %v times, want at least %d", c, r.Reconciles[c], want)
		}
	}
	// What was verified: every Prod's objects compared with the workload clusters (the
	// restart waits for that too) and found in sync, none applied; and every Prod's
	// conditions hold for its generation (restart checks them after the resync).
	if want := float64(r.Size.Prods * r.Size.objectsPerProd()); r.Verified < want || r.Applied != 0 {
		t.Errorf("the resync found %v objects in sync and applied %v, want all %v of the Prods' objects in sync and none applied", r.Verified, r.Applied, want)
	}
	if applies := r.WorkloadReq.total(func(k requestKey) bool { return k.Verb == "APPLY" }); applies != 0 {
		t.Errorf("the resync sent %v applies with nothing changed, want none", applies)
	}
	if r.Resync <= 0 || r.ResyncCPU <= 0 || r.SettleRSS <= 0 || r.FloorTime <= 0 {
		t.Errorf("a figure was not measured: %+v", r)
	}

	// The write check must see writes: drift two of drover's objects on a workload
	// cluster while no manager runs (delete one ConfigMap, change another's data) and
	// start it again. The resync must put back exactly those two, and nothing else.
	w := s.bed.Workloads[0]
	cms := &corev1.ConfigMapList{}
	if err := w.Client.List(t.Context(), cms, client.HasLabels{droverv1.ProdNameLabel}); err != nil {
		t.Fatal(err)
	}
	if len(cms.Items) < 2 {
		t.Fatalf("%s holds %d of drover's ConfigMaps, want at least 2", w.Name, len(cms.Items))
	}
	gone, edited := &cms.Items[0], &cms.Items[1]
	s.restart(func() {
		if err := w.Client.Delete(t.Context(), gone); err != nil {
			t.Fatal(err)
		}
		edited.Data["LOG_LEVEL"] = "debug"
		if err := w.Client.Update(t.Context(), edited); err != nil {
			t.Fatal(err)
		}
	})
	want := objectDiff{
		Changed: []string{objectKey(w.Name, "ConfigMap", edited.Namespace, edited.Name)},
		Added:   []string{objectKey(w.Name, "ConfigMap", gone.Namespace, gone.Name)},
	}
	if got := s.res.WorkloadWrites; got.String() != want.String() {
		t.Errorf("after drifting two ConfigMaps the resync wrote %s, want %s", got, want)
	}
	if s.res.Applied != 2 || s.res.Verified < float64(r.Size.Prods*r.Size.objectsPerProd()-2) {
		t.Errorf("after drifting two ConfigMaps the resync applied %v objects and found %v in sync, want 2 and the other %d",
			s.res.Applied, s.res.Verified, r.Size.Prods*r.Size.objectsPerProd()-2)
	}
	fixed := &corev1.ConfigMap{}
	if err := w.Client.Get(t.Context(), client.ObjectKeyFromObject(edited), fixed); err != nil {
		t.Fatal(err)
	}
	if fixed.Data["LOG_LEVEL"] != "info" {
		t.Errorf("ConfigMap %s/%s has LOG_LEVEL %q after the resync, want drover's %q", fixed.Namespace, fixed.Name, fixed.Data["LOG_LEVEL"], "info")
	}

	// Drift while the manager runs is put back by the workload watch, without a resync
	// (the next periodic one is 10 minutes away).
	fixed.Data["LOG_LEVEL"] = "trace"
	if err := w.Client.Update(t.Context(), fixed); err != nil {
		t.Fatal(err)
	}
	s.poll("the workload watch to put back drift", 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		cur := &corev1.ConfigMap{}
		if err := w.Client.Get(t.Context(), client.ObjectKeyFromObject(fixed), cur); err != nil {
			return false, err.Error()
		}
		return cur.Data["LOG_LEVEL"] == "info", "LOG_LEVEL " + cur.Data["LOG_LEVEL"]
	})
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// envBool reads name as 0 or 1; unset, def.
func envBool(tb testing.TB, name string, def bool) bool {
	tb.Helper()
	switch v := os.Getenv(name); v {
	case "":
		return def
	case "0":
		return false
	case "1":
		return true
	default:
		tb.Fatalf("%s=%q: want 0 or 1", name, v)
		return def
	}
}

func envDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		tb.Fatalf("%s=%q: want a duration such as 15s", name, v)
	}
	return d
}
