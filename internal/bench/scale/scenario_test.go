package scale

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/bench/machine"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/testbed"
)

const (
	// pollInterval is how often the control plane is listed while Prods converge.
	pollInterval = 2 * time.Second
	// The restarted manager's /metrics is scraped every 1/resyncPollShare of the time
	// since it started, within [resyncPollFloor, resyncPollCeiling]: a resolution of 2.5% of
	// the resync at a cost to the manager that stays small (a scrape computes gauges
	// from its whole cache; the report gives what the scrapes cost).
	resyncPollShare   = 40
	resyncPollFloor   = 250 * time.Millisecond
	resyncPollCeiling = 3 * time.Second
	// quietFor is how long the control plane must stay unchanged, the manager idle,
	// before the manager is restarted.
	quietFor = 5 * time.Second
	// stopTimeout is the manager's grace period after SIGTERM.
	stopTimeout = 30 * time.Second
)

// options are the knobs of a run besides its size.
type options struct {
	// Kill restarts the manager with SIGKILL (a crash) instead of SIGTERM.
	Kill bool
	// ManagerArgs are added to the manager's flags (after the benchmark's own).
	ManagerArgs []string
	// FirstTimeout bounds the first apply; ResyncTimeout the resync.
	FirstTimeout, ResyncTimeout time.Duration
	// Settle is how long after the resync the settled RSS is read.
	Settle time.Duration
	// StartTimeout bounds each kube-apiserver's start.
	StartTimeout time.Duration
}

// scenario is one run: the test bed, the manager binary and what was measured.
type scenario struct {
	tb   testing.TB
	ctx  context.Context
	size Size
	opts options
	sets []setSpec

	root, dir, binary, kubeconfig string
	bed                           *testbed.Testbed
	cp                            client.Client
	mgr                           *harness.Manager
	metricsURL                    string
	// scraper scrapes the manager's metrics as Prometheus does: HTTPS, with a token of
	// a ServiceAccount bound to the chart's metrics-reader ClusterRole.
	scraper *harness.MetricsScraper
	// mgrStarted is when the running manager process was started.
	mgrStarted time.Time
	// benchProdLists counts the LISTs of Prods the benchmark made while the restarted
	// manager resynced; they are taken out of the control plane's request counts.
	benchProdLists float64

	res result
}

// result is what a run measured.
type result struct {
	Size Size
	Sets int
	// signal restarted the manager; settle is how long after the resync SettleRSS was read.
	signal string
	settle time.Duration
	// Load is /proc/loadavg at the start, before the restart and after the resync.
	Load []string

	Build, BedStart time.Duration

	// Baseline is the first manager connected to every cluster, before any ProdSet.
	Baseline     procStats
	BaselineHeap float64

	// The first apply, from creating the ProdSets: every Prod created, every Prod
	// Applied and Available for its generation, every weight published and the control
	// plane quiet.
	FirstCreated, FirstAvailable, FirstSettled time.Duration
	FirstCPU                                   time.Duration
	FirstHWM, FirstRSS                         int64
	FirstHeap                                  float64
	FirstWorkloadReq, FirstCPReq               requestCounts

	// The restart.
	Stop time.Duration
	// The resync, from starting the new manager until done (see restart).
	Resync                      time.Duration
	ResyncCPU                   time.Duration
	ResyncHWM                   int64
	DoneRSS, SettleRSS          int64
	DoneHeap, SettleHeap        float64
	Reconciles, ReconcileErrors map[string]float64
	WorkloadReq, CPReq          requestCounts
	// Watches the restarted manager opened: its informers (each delivered its initial
	// list through the watch).
	WorkloadWatches, CPWatches requestCounts
	// The restarted manager's own count of its requests (rest_client_requests_total,
	// watches counted when they start) to the workload clusters and the control plane,
	// and the most it sent to one workload cluster.
	MgrWorkloadReq, MgrCPReq, BusiestCluster float64
	// Verified and Applied are the Prods' objects the restarted manager compared with
	// the workload clusters and found in sync, and those it applied
	// (drover_prod_objects_compared_total).
	Verified, Applied float64
	// ProdReconcileMean is the mean time of one Prod reconcile in the resync.
	ProdReconcileMean        time.Duration
	WorkloadWrites, CPWrites objectDiff
	Throttled                int
	// Scrapes of the manager's /metrics during the resync, and what one costs it (with
	// every Prod, and in the baseline with none).
	Scrapes                      int
	ScrapeCPU, BaselineScrapeCPU time.Duration

	// The floor: the benchmark listing every resource type once in every cluster.
	FloorTime, FloorCPU time.Duration
	FloorRequests       int
	FloorHeap           int64
	ProdBytes           int64
}

// newScenario starts the test bed and builds the manager; Cleanup stops both.
func newScenario(tb testing.TB, size Size, opts options) *scenario {
	tb.Helper()
	size, err := size.normalize()
	if err != nil {
		tb.Fatal(err)
	}
	if opts.FirstTimeout == 0 {
		opts.FirstTimeout = 30 * time.Minute
	}
	if opts.ResyncTimeout == 0 {
		opts.ResyncTimeout = 15 * time.Minute
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 5 * time.Minute
	}
	s := &scenario{tb: tb, ctx: tb.Context(), size: size, opts: opts, sets: size.sets()}
	s.res.Size, s.res.Sets = size, len(s.sets)
	s.res.signal, s.res.settle = opts.signalName(), opts.Settle
	s.res.Load = append(s.res.Load, loadavg())

	if s.root, err = testbed.RepoRoot(); err != nil {
		tb.Fatal(err)
	}
	if s.dir, err = os.MkdirTemp("", "drover-bench-scale-"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.cleanup)

	s.binary = filepath.Join(s.dir, "manager")
	start := time.Now()
	if err := harness.BuildManager(s.ctx, s.root, s.binary); err != nil {
		tb.Fatal(err)
	}
	s.res.Build = time.Since(start)

	start = time.Now()
	s.bed, err = testbed.Start(s.ctx, testbed.Options{
		CRDDirectoryPaths: []string{filepath.Join(s.root, "config", "crd", "bases")},
		Namespace:         namespace,
		Workloads:         size.workloads(),
		Scheme:            setup.Scheme(),
		StartTimeout:      opts.StartTimeout,
		Logf: func(format string, args ...any) {
			if !strings.Contains(format, "workload %s up") { // one line per cluster is noise at 20
				tb.Logf(format, args...)
			}
		},
	})
	if err != nil {
		tb.Fatalf("starting the test bed: %v", err)
	}
	s.res.BedStart = time.Since(start)
	s.cp = s.bed.ControlPlane.Client
	s.kubeconfig = filepath.Join(s.dir, "control-plane.kubeconfig")
	if err := s.bed.WriteControlPlaneKubeconfig(s.kubeconfig); err != nil {
		tb.Fatal(err)
	}
	if s.scraper, err = harness.InstallMetricsReader(s.ctx, s.root, s.cp, s.bed.ControlPlane.Config, "monitoring", "prometheus", 6*time.Hour); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("test bed: control plane and %d workload clusters up in %s; manager built in %s",
		size.Clusters, s.res.BedStart.Round(time.Millisecond), s.res.Build.Round(time.Millisecond))
	return s
}

func (s *scenario) cleanup() {
	failed := s.tb.Failed()
	if s.mgr != nil {
		if failed {
			s.tb.Logf("the end of the manager's log (%s):\n%s", s.mgr.LogPath(), s.mgr.LogTail(40))
		}
		_ = s.mgr.Kill()
	}
	if s.bed != nil {
		if failed {
			s.bed.KeepLogs()
			s.tb.Logf("test bed and manager logs kept in %s", s.bed.LogDir())
		}
		if err := s.bed.Stop(); err != nil {
			s.tb.Errorf("stopping the test bed: %v", err)
		}
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// startManager runs the manager binary with its metrics on a free loopback port (HTTPS,
// authenticated and authorized, as installed) and waits until /metrics answers.
func (s *scenario) startManager() {
	s.tb.Helper()
	port, err := freePort()
	if err != nil {
		s.tb.Fatal(err)
	}
	args := append(harness.LocalManagerArgs(),
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port), "--traffic-provider=memory")
	args = append(args, s.opts.ManagerArgs...)
	s.mgrStarted = time.Now()
	s.mgr, err = harness.StartManager(harness.ManagerOptions{
		Binary: s.binary, Kubeconfig: s.kubeconfig, Args: args,
		LogPath: filepath.Join(s.bed.LogDir(), "manager.log"),
	})
	if err != nil {
		s.tb.Fatal(err)
	}
	s.metricsURL = fmt.Sprintf("https://127.0.0.1:%d/metrics", port)
	s.poll("the manager's /metrics to answer", time.Minute, 100*time.Millisecond, func() (bool, string) {
		_, err := s.scrapeManager()
		return err == nil, fmt.Sprint(err)
	})
}

// managerKeep keeps what the benchmark reads of the manager's metrics.
func managerKeep(name string) bool {
	switch name {
	case "controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
		"workqueue_depth", "controller_runtime_active_workers",
		"capi_cluster_cache_connection_up", "go_memstats_heap_inuse_bytes",
		"controller_runtime_reconcile_time_seconds_sum", "controller_runtime_reconcile_time_seconds_count",
		"rest_client_requests_total", "drover_prod_objects_compared_total":
		return true
	}
	return false
}

func (s *scenario) scrapeManager() (metrics, error) {
	body, err := s.scraper.Scrape(s.ctx, s.metricsURL)
	if err != nil {
		return nil, err
	}
	defer func() { _ = body.Close() }()
	return parseMetrics(body, managerKeep)
}

// proc reads the manager's /proc figures.
func (s *scenario) proc() procStats {
	s.tb.Helper()
	st, err := readProc(s.mgr.Pid())
	if err != nil {
		s.tb.Fatalf("reading the manager's /proc: %v", err)
	}
	return st
}

// heap is the manager's go_memstats_heap_inuse_bytes.
func (s *scenario) heap() float64 {
	s.tb.Helper()
	m, err := s.scrapeManager()
	if err != nil {
		s.tb.Fatalf("scraping the manager: %v", err)
	}
	return m.sum("go_memstats_heap_inuse_bytes", nil)
}

// poll calls cond every interval until it returns true; after timeout it fails the run
// with cond's last explanation. It also fails at once when the manager exits.
func (s *scenario) poll(what string, timeout, interval time.Duration, cond func() (bool, string)) {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	var last string
	err := wait.PollUntilContextCancel(ctx, interval, true, func(context.Context) (bool, error) {
		if s.mgr != nil {
			if err := s.mgr.ExitError(); err != nil {
				return false, err
			}
		}
		var ok bool
		ok, last = cond()
		return ok, nil
	})
	if err != nil {
		s.tb.Fatalf("waiting for %s: %v; last: %s", what, err, last)
	}
}

// baseline waits until the manager is connected to every cluster and idle, with no
// ProdSet yet, and records its memory and CPU.
func (s *scenario) baseline() {
	s.tb.Helper()
	s.poll("the manager to connect to every workload cluster", 5*time.Minute, 500*time.Millisecond, func() (bool, string) {
		m, err := s.scrapeManager()
		if err != nil {
			return false, err.Error()
		}
		up := m.sum("capi_cluster_cache_connection_up", nil)
		return int(up) == s.size.Clusters, fmt.Sprintf("%v of %d connected", up, s.size.Clusters)
	})
	time.Sleep(quietFor)
	s.res.Baseline = s.proc()
	s.res.BaselineHeap = s.heap()
	s.res.BaselineScrapeCPU = s.scrapeCost()
}

// createSets creates every ProdSet, 16 at a time.
func (s *scenario) createSets() {
	s.tb.Helper()
	work := make(chan setSpec)
	errs := make(chan error, len(s.sets))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for spec := range work {
				if err := s.cp.Create(s.ctx, prodSet(spec, !s.size.NoDeployment)); err != nil {
					errs <- fmt.Errorf("creating ProdSet %s: %w", spec.name, err)
				}
			}
		})
	}
	for _, spec := range s.sets {
		work <- spec
	}
	close(work)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		s.tb.Fatal(err)
	}
}

// listProds lists every Prod of the run.
func (s *scenario) listProds() ([]droverv1.Prod, error) {
	list := &droverv1.ProdList{}
	if err := s.cp.List(s.ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// prodReady explains why a Prod is not Applied and Available for its generation on a
// reachable cluster; "" when it is. With traffic, TrafficReady must be True too.
func prodReady(p *droverv1.Prod, traffic bool) string {
	switch {
	case p.Status.ObservedGeneration != p.Generation:
		return fmt.Sprintf("status for generation %d of %d", p.Status.ObservedGeneration, p.Generation)
	case p.Status.AppliedVersion != p.Spec.Version:
		return fmt.Sprintf("applied version %q, want %q", p.Status.AppliedVersion, p.Spec.Version)
	}
	conds := []string{droverv1.ProdClusterReachableCondition, droverv1.ProdAppliedCondition, droverv1.ProdAvailableCondition}
	if traffic {
		conds = append(conds, droverv1.ProdTrafficReadyCondition)
	}
	for _, t := range conds {
		c := meta.FindStatusCondition(p.Status.Conditions, t)
		if c == nil {
			return t + " not set"
		}
		if c.Status != metav1.ConditionTrue {
			return fmt.Sprintf("%s=%s (%s): %s", t, c.Status, c.Reason, c.Message)
		}
	}
	return ""
}

// checkProds explains what keeps the Prods from being all there and ready; "" when
// every Prod is.
func (s *scenario) checkProds(prods []droverv1.Prod, traffic bool) string {
	if len(prods) != s.size.Prods {
		return fmt.Sprintf("%d Prods, want %d", len(prods), s.size.Prods)
	}
	bad := 0
	first := ""
	for i := range prods {
		if why := prodReady(&prods[i], traffic); why != "" {
			if bad == 0 {
				first = fmt.Sprintf("Prod %s: %s", prods[i].Name, why)
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Sprintf("%d of %d Prods not ready; first %s", bad, len(prods), first)
	}
	return ""
}

// checkSets explains which ProdSet has not published every weight; "" when all have.
func (s *scenario) checkSets() string {
	list := &droverv1.ProdSetList{}
	if err := s.cp.List(s.ctx, list, client.InNamespace(namespace)); err != nil {
		return err.Error()
	}
	if len(list.Items) != len(s.sets) {
		return fmt.Sprintf("%d ProdSets, want %d", len(list.Items), len(s.sets))
	}
	for i := range list.Items {
		set := &list.Items[i]
		st := set.Status
		switch {
		case st.ObservedGeneration != set.Generation:
			return fmt.Sprintf("ProdSet %s: status for generation %d of %d", set.Name, st.ObservedGeneration, set.Generation)
		case st.AvailableReplicas != ptr.Deref(set.Spec.Replicas, 1):
			return fmt.Sprintf("ProdSet %s: %d of %d available", set.Name, st.AvailableReplicas, ptr.Deref(set.Spec.Replicas, 1))
		case st.Traffic == nil || st.Traffic.ChangeID != "":
			return fmt.Sprintf("ProdSet %s: a DNS change in flight (%+v)", set.Name, st.Traffic)
		}
		for _, p := range st.Prods {
			if p.Weight == nil || p.PublishedWeight == nil || *p.Weight != *p.PublishedWeight {
				return fmt.Sprintf("ProdSet %s: Prod %s's weight %v not published (%v)", set.Name, p.Name, p.Weight, p.PublishedWeight)
			}
		}
	}
	return ""
}

// firstApply creates the ProdSets and waits until every Prod is Applied and Available,
// then until every weight is published and the control plane stays quiet.
func (s *scenario) firstApply() {
	s.tb.Helper()
	before := s.scrapeAPIServers()
	start := time.Now()
	s.createSets()
	s.tb.Logf("first apply: %d ProdSets created in %s", len(s.sets), time.Since(start).Round(time.Millisecond))
	lastLog := time.Now()
	s.poll("every Prod to be Applied and Available", s.opts.FirstTimeout, pollInterval, func() (bool, string) {
		prods, err := s.listProds()
		if err != nil {
			return false, err.Error()
		}
		if s.res.FirstCreated == 0 && len(prods) == s.size.Prods {
			s.res.FirstCreated = time.Since(start)
		}
		why := s.checkProds(prods, false)
		if why != "" && time.Since(lastLog) > time.Minute {
			s.tb.Logf("first apply after %s: %s", time.Since(start).Round(time.Second), why)
			lastLog = time.Now()
		}
		return why == "", why
	})
	s.res.FirstAvailable = time.Since(start)
	s.tb.Logf("first apply: every Prod Applied and Available after %s", s.res.FirstAvailable.Round(time.Millisecond))
	s.poll("every ProdSet to publish its weights", s.opts.FirstTimeout, pollInterval, func() (bool, string) {
		if why := s.checkSets(); why != "" {
			return false, why
		}
		prods, err := s.listProds()
		if err != nil {
			return false, err.Error()
		}
		why := s.checkProds(prods, true)
		return why == "", why
	})
	s.waitQuiet()
	s.res.FirstSettled = time.Since(start)
	st := s.proc()
	s.res.FirstCPU = st.CPU - s.res.Baseline.CPU
	s.res.FirstHWM, s.res.FirstRSS = st.HWM, st.RSS
	s.res.FirstHeap = s.heap()
	after := s.scrapeAPIServers()
	s.res.FirstWorkloadReq = after.workload.minus(before.workload)
	s.res.FirstCPReq = after.cp.minus(before.cp)
	s.tb.Logf("first apply: settled (weights published, control plane quiet) after %s", s.res.FirstSettled.Round(time.Millisecond))
}

// idle explains why the manager's controllers are not idle, each with at least want
// reconciles; "" when they are. Controllers not in want must be idle too.
func idle(m metrics, want map[string]int) string {
	for _, c := range []string{"prod", "prodset", "nlb-mirror", "rolloutpolicy", "clustermaintenance"} {
		if n := m.sum("controller_runtime_reconcile_total", map[string]string{"controller": c}); n < float64(want[c]) {
			return fmt.Sprintf("%s: %v of %d reconciled", c, n, want[c])
		}
		if d := m.sum("workqueue_depth", map[string]string{"name": c}); d != 0 {
			return fmt.Sprintf("%s: queue depth %v", c, d)
		}
		if a := m.sum("controller_runtime_active_workers", map[string]string{"controller": c}); a != 0 {
			return fmt.Sprintf("%s: %v reconciles running", c, a)
		}
	}
	return ""
}

// waitQuiet waits until the manager is idle and the control plane's drover objects stay
// unchanged for quietFor.
func (s *scenario) waitQuiet() {
	s.tb.Helper()
	prev := s.controlPlaneSnapshot()
	time.Sleep(quietFor)
	s.poll("the control plane to stay quiet", 5*time.Minute, quietFor, func() (bool, string) {
		m, err := s.scrapeManager()
		if err != nil {
			return false, err.Error()
		}
		if why := idle(m, nil); why != "" {
			prev = s.controlPlaneSnapshot()
			return false, why
		}
		cur := s.controlPlaneSnapshot()
		d := prev.diff(cur)
		prev = cur
		return d.empty(), "control plane: " + d.String()
	})
}

// managerRequests sums the manager's rest_client_requests_total by API server: every
// workload cluster together, the control plane, and the workload cluster it sent most.
func (s *scenario) managerRequests(m metrics) (workload, cp, busiest float64) {
	hostOf := func(e *testbed.Env) string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }
	cp = m.sum("rest_client_requests_total", map[string]string{"host": hostOf(s.bed.ControlPlane)})
	for _, w := range s.bed.Workloads {
		n := m.sum("rest_client_requests_total", map[string]string{"host": hostOf(w.Env)})
		workload += n
		busiest = max(busiest, n)
	}
	return workload, cp, busiest
}

// scrapeCost measures the manager CPU one scrape of its /metrics costs, while idle.
func (s *scenario) scrapeCost() time.Duration {
	s.tb.Helper()
	const n = 20
	before := s.proc().CPU
	for range n {
		if _, err := s.scrapeManager(); err != nil {
			s.tb.Fatal(err)
		}
	}
	return (s.proc().CPU - before) / n
}

// restart stops the manager (SIGTERM, or SIGKILL with options.Kill), starts it again
// and measures the resync until it is done: the new process reconciled every Prod and
// ProdSet at least once, its queues are empty and nothing runs, and every Prod is still
// Applied, Available and TrafficReady. Then it checks that the resync wrote nothing to
// the workload clusters. whileStopped runs while no manager runs (to drift objects the
// new manager must find); the snapshots the writes are judged against are taken after it.
func (s *scenario) restart(whileStopped ...func()) {
	s.tb.Helper()
	s.res.Scrapes, s.benchProdLists = 0, 0
	s.res.ScrapeCPU = s.scrapeCost()
	s.res.Load = append(s.res.Load, loadavg())

	start := time.Now()
	if s.opts.Kill {
		if err := s.mgr.Kill(); err != nil {
			s.tb.Fatal(err)
		}
	} else if err := s.mgr.Stop(stopTimeout); err != nil {
		s.tb.Fatal(err)
	}
	s.res.Stop = time.Since(start)
	for _, f := range whileStopped {
		f()
	}
	cpBefore := s.controlPlaneSnapshot()
	wlBefore := s.workloadSnapshot()
	// Let the kube-apiservers count the old manager's watches as ended before counting.
	time.Sleep(time.Second)
	reqBefore := s.scrapeAPIServers()

	s.startManager() // returns once /metrics answers; the resync is timed from the start
	pid := s.mgr.Pid()
	want := map[string]int{"prod": s.size.Prods, "nlb-mirror": s.size.Prods, "prodset": len(s.sets)}
	var m metrics
	resynced := func() string {
		var err error
		s.res.Scrapes++
		if m, err = s.scrapeManager(); err != nil {
			return err.Error()
		}
		if why := idle(m, want); why != "" {
			return why
		}
		if n := compared(m); n < float64(s.size.Prods*s.size.objectsPerProd()) {
			return fmt.Sprintf("%v of %d objects compared with the workload clusters", n, s.size.Prods*s.size.objectsPerProd())
		}
		s.benchProdLists++
		prods, err := s.listProds()
		if err != nil {
			return err.Error()
		}
		return s.checkProds(prods, true)
	}
	for why := resynced(); why != ""; why = resynced() {
		elapsed := time.Since(s.mgrStarted)
		switch {
		case s.mgr.ExitError() != nil:
			s.tb.Fatalf("waiting for the restarted manager to resync: %v", s.mgr.ExitError())
		case elapsed > s.opts.ResyncTimeout:
			s.tb.Fatalf("the restarted manager did not resync within %s; last: %s", s.opts.ResyncTimeout, why)
		}
		time.Sleep(min(max(elapsed/resyncPollShare, resyncPollFloor), resyncPollCeiling))
	}
	s.res.Resync = time.Since(s.mgrStarted)
	done, err := readProc(pid)
	if err != nil {
		s.tb.Fatal(err)
	}
	s.res.ResyncCPU, s.res.ResyncHWM, s.res.DoneRSS = done.CPU, done.HWM, done.RSS
	s.res.DoneHeap = m.sum("go_memstats_heap_inuse_bytes", nil)
	s.res.Reconciles, s.res.ReconcileErrors = map[string]float64{}, map[string]float64{}
	for c := range want {
		s.res.Reconciles[c] = m.sum("controller_runtime_reconcile_total", map[string]string{"controller": c})
		s.res.ReconcileErrors[c] = m.sum("controller_runtime_reconcile_errors_total", map[string]string{"controller": c})
	}
	prod := map[string]string{"controller": "prod"}
	if n := m.sum("controller_runtime_reconcile_time_seconds_count", prod); n > 0 {
		s.res.ProdReconcileMean = time.Duration(m.sum("controller_runtime_reconcile_time_seconds_sum", prod) / n * float64(time.Second))
	}
	s.res.MgrWorkloadReq, s.res.MgrCPReq, s.res.BusiestCluster = s.managerRequests(m)
	s.res.Verified = m.sum("drover_prod_objects_compared_total", map[string]string{"result": "unchanged"})
	s.res.Applied = m.sum("drover_prod_objects_compared_total", map[string]string{"result": "applied"})
	reqAfter := s.scrapeAPIServers()
	s.res.WorkloadReq = reqAfter.workload.minus(reqBefore.workload)
	s.res.CPReq = reqAfter.cp.minus(reqBefore.cp)
	s.res.WorkloadWatches = reqAfter.workloadWatch.minus(reqBefore.workloadWatch)
	s.res.CPWatches = reqAfter.cpWatch.minus(reqBefore.cpWatch)
	if k := (requestKey{Verb: "LIST", Resource: "prods"}); s.res.CPReq[k] >= s.benchProdLists {
		s.res.CPReq[k] -= s.benchProdLists
		if s.res.CPReq[k] == 0 {
			delete(s.res.CPReq, k)
		}
	}
	s.res.Load = append(s.res.Load, loadavg())
	s.res.Throttled = countSinceLastStart(s.mgr.LogPath(), "client-side throttling")

	time.Sleep(s.opts.Settle)
	settled := s.proc()
	s.res.SettleRSS = settled.RSS
	s.res.SettleHeap = s.heap()

	s.res.CPWrites = cpBefore.diff(s.controlPlaneSnapshot())
	wlAfter := s.workloadSnapshot()
	s.res.WorkloadWrites = wlBefore.diff(wlAfter)
	prods, err := s.listProds()
	if err != nil {
		s.tb.Fatal(err)
	}
	if why := s.checkProds(prods, true); why != "" {
		s.tb.Fatalf("after the resync: %s", why)
	}
	if missing := missingObjects(prods, wlAfter); len(missing) > 0 {
		s.tb.Fatalf("after the resync, %d inventoried workload objects are missing, first %s", len(missing), missing[0])
	}
}

// compared is how many of the Prods' objects the manager compared with the workload
// clusters since it started: found in sync or applied.
func compared(m metrics) float64 { return m.sum("drover_prod_objects_compared_total", nil) }

// countSinceLastStart counts the lines containing s in the manager log after its last
// start marker.
func countSinceLastStart(path, s string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	log := string(data)
	if i := strings.LastIndex(log, " starting: "); i >= 0 { // harness's "### <time> starting: <command>"
		log = log[i:]
	}
	return strings.Count(log, s)
}

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	if l := machine.LoadAverage(); l != "" {
		return l
	}
	return "?"
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// signalName names how the manager is restarted.
func (o options) signalName() string {
	if o.Kill {
		return syscall.SIGKILL.String()
	}
	return syscall.SIGTERM.String()
}
