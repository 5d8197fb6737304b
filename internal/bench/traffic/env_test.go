package traffic_test

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	route53sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/bench/machine"
	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/octavia"
	r53 "github.com/drover-dev/drover/internal/cloud/route53"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/dnsbed"
	"github.com/drover-dev/drover/internal/test/suite"
	"github.com/drover-dev/drover/internal/test/testbed"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// poolLabel groups the workload clusters of a scenario; each ProdSet selects its pool.
const poolLabel = "bench.drover.dev/pool"

func TestMain(m *testing.M) {
	level := zapcore.ErrorLevel
	if os.Getenv("DROVER_TEST_VERBOSE") != "" {
		level = zapcore.Level(-4)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	code := m.Run()
	closeEnv(code != 0)
	os.Exit(code)
}

// envSpec names a test bed: its workload clusters, each in a pool, and the publisher's
// Linger (0: its default, as in production).
type envSpec struct {
	name   string
	pools  map[string][]string // pool -> cluster names
	linger time.Duration
	// maxPerCluster, when set, is the most Prods per cluster the bed's ProdSet CRD allows
	// instead of the API's 10 (a benchmark's large set on the few clusters this machine
	// can run).
	maxPerCluster int
	// pageSize, when set, is the publisher's Route53 listing page size instead of
	// Route53's 300: moto cannot page within one name's weighted records (it ignores
	// StartRecordIdentifier), so a service of more than 300 Prods is listed in one page.
	// Real Route53 takes a page per 300 records there.
	pageSize int32
}

// env is a running test bed, moto and manager. Only one runs at a time: a benchmark
// keeps its env across its calls (the testing package calls a benchmark again with a
// larger b.N), and the next benchmark's env replaces it.
type env struct {
	spec envSpec
	bed  *testbed.Testbed
	cp   client.Client
	moto *awstest.Moto
	// wire is the proxy the manager reaches moto through: it sees the requests on the
	// wire, for the checks that count them.
	wire *awstest.FaultProxy
	// sdk and reader read Route53 for the checks (not through the recorder, unpaced).
	sdk    *route53sdk.Client
	reader *r53.Client

	stopManager func() error
	// rec records the publisher's Route53 calls, pub the ProdSets' hand-offs to the
	// publisher.
	rec *recorder
	pub *publishRecorder
	// linger is the publisher's Linger.
	linger time.Duration
	// clients are the Route53 APIs the recorder can call through, by pacing name.
	clients map[string]route53.API
	pacing  string

	fixtures map[string]any
	closers  []func()
	failed   bool
}

// pacing is how the manager's Route53 client is paced.
type pacing struct {
	// name labels the variant in benchmark names and reports.
	name string
	// limit paces the publisher's Route53 client (awsclient.Unlimited: none).
	limit awsclient.Limit
}

var (
	// unpaced: moto answers as fast as it can; what drover itself costs.
	unpaced = pacing{name: "r53limit=none", limit: awsclient.Unlimited}
	// paced: the client-side Route53 limit of production (awsclient.DefaultRoute53Limit,
	// 4 requests a second for the whole account, no burst).
	paced = pacing{name: "r53limit=4rps", limit: awsclient.DefaultRoute53Limit}
)

var current struct {
	sync.Mutex
	env *env
}

// useEnv returns the running env if it matches spec, else stops it and starts one.
func useEnv(tb testing.TB, spec envSpec) *env {
	tb.Helper()
	current.Lock()
	defer current.Unlock()
	e := current.env
	if e != nil && (e.spec.name != spec.name || e.failed) {
		e.close(e.failed)
		current.env, e = nil, nil
	}
	if e == nil {
		var err error
		if e, err = startEnv(tb, spec); err != nil {
			tb.Fatal(err)
		}
		current.env = e
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			e.failed = true // its logs are kept, and the next user starts afresh
		}
	})
	return e
}

func closeEnv(keepLogs bool) {
	current.Lock()
	defer current.Unlock()
	if current.env != nil {
		current.env.close(keepLogs || current.env.failed)
		current.env = nil
	}
}

func startEnv(tb testing.TB, spec envSpec) (*env, error) {
	start := time.Now()
	var workloads []testbed.WorkloadOptions
	for pool, clusters := range spec.pools {
		for _, c := range clusters {
			workloads = append(workloads, testbed.WorkloadOptions{Name: c, Labels: map[string]string{poolLabel: pool}})
		}
	}
	crds, err := crdDirectory(tb, spec.maxPerCluster)
	if err != nil {
		return nil, err
	}
	bed, err := testbed.Start(context.Background(), testbed.Options{
		Scheme:            setup.Scheme(),
		CRDDirectoryPaths: []string{crds},
		Workloads:         workloads,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the test bed: %w", err)
	}
	moto, err := awstest.StartServer(io.Discard)
	if err != nil {
		bed.KeepLogs()
		_ = bed.Stop()
		return nil, err
	}
	e := &env{spec: spec, bed: bed, cp: bed.ControlPlane.Client, moto: moto, fixtures: map[string]any{}}
	if e.wire, err = awstest.StartFaultProxy(moto.Endpoint(), 1); err != nil {
		moto.Stop()
		bed.KeepLogs()
		_ = bed.Stop()
		return nil, err
	}
	e.sdk = moto.Clients(tb).Route53
	e.reader = r53.New(e.sdk, r53.Options{PageSize: spec.pageSize})
	if err := e.startManager(tb); err != nil {
		e.close(true)
		return nil, err
	}
	tb.Logf("env %s: %d workload clusters and moto up in %s", spec.name, len(workloads), time.Since(start).Round(time.Millisecond))
	return e, nil
}

func (e *env) close(keepLogs bool) {
	if e.rec != nil {
		// Let the last batch finish, unpaced, so that stopping the manager cancels none.
		e.rec.use(e.clients[unpaced.name])
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if !e.rec.inFlight() && time.Since(e.rec.last()) > max(time.Second, 3*e.linger) {
				break
			}
		}
	}
	if e.stopManager != nil {
		if err := e.stopManager(); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
		e.stopManager = nil
	}
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.wire.Close()
	e.moto.Stop()
	if keepLogs {
		e.bed.KeepLogs()
		fmt.Fprintln(os.Stderr, "test bed process logs kept in", e.bed.LogDir())
	}
	if err := e.bed.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test bed:", err)
	}
}

// startManager runs the manager's real wiring in process, its Route53 publisher
// recorded. The publisher keeps its defaults (PollInterval; Linger unless the env says),
// as in production.
func (e *env) startManager(tb testing.TB) error {
	e.clients = map[string]route53.API{}
	for _, p := range []pacing{unpaced, paced} {
		opts := e.wire.Options(e.moto.Options())
		opts.Route53Limit = p.limit
		cfg, err := awsclient.LoadConfig(context.Background(), opts)
		if err != nil {
			return err
		}
		e.clients[p.name] = r53.New(awsclient.NewClients(cfg, opts).Route53, r53.Options{PageSize: e.spec.pageSize})
	}
	e.rec = &recorder{api: e.clients[unpaced.name]}
	e.pacing = unpaced.name
	pub := &route53.Publisher{API: e.rec, Linger: e.spec.linger, Log: ctrl.Log.WithName("route53"), OnLinger: e.rec.lingered}
	// InSync of an unknown ticket only sets the publisher's defaults, so that Linger
	// reads as the publisher uses it.
	_, _ = pub.InSync(context.Background(), "")
	e.pub = &publishRecorder{Publisher: pub}
	// The rollback fixture's HTTP check server listens on loopback, which the gates of a
	// namespace without a Tenant reach only when --gate-networks names it.
	stop, err := suite.StartManager(context.Background(), e.bed, setup.Options{Publisher: e.pub, Octavia: octaviaStandIn{},
		DefaultOctaviaProjects: []string{dnsbed.StandInProject}, GateNetworks: []string{"127.0.0.0/8"}})
	if err != nil {
		return err
	}
	e.stopManager, e.linger = stop, pub.Linger
	return nil
}

// pace switches the publisher's Route53 client to p's pacing. The manager keeps running
// (and keeps what its publisher learnt, such as its index of health checks), so that a
// measurement sees a manager in its steady state, not one just started.
func (e *env) pace(tb testing.TB, p pacing) {
	tb.Helper()
	e.quiet(tb, 5*time.Minute)
	e.rec.use(e.clients[p.name])
	e.pacing = p.name
}

// octaviaStandIn answers every Octavia load balancer ACTIVE and ONLINE, with a VIP
// derived from its id: each Prod gets an endpoint (status.endpoint, from the mirror
// controller) for its Octavia path record, without an Octavia to run. Octavia is not on
// the paths these benchmarks measure.
type octaviaStandIn struct{}

func (octaviaStandIn) Snapshot(_ context.Context, id string) (*octavia.Snapshot, error) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	n := h.Sum32()
	return &octavia.Snapshot{
		LoadBalancer: octavia.LoadBalancer{ID: id, Name: id, ProjectID: dnsbed.StandInProject, VIP: fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff|1),
			ProvisioningStatus: "ACTIVE", OperatingStatus: "ONLINE", AdminStateUp: true},
		ReadAt: time.Now(),
	}, nil
}

// zone is a hosted zone of moto.
type zone struct{ id, name string }

func (e *env) createZone(tb testing.TB, name string) zone {
	tb.Helper()
	out, err := e.sdk.CreateHostedZone(context.Background(), &route53sdk.CreateHostedZoneInput{
		Name: aws.String(name), CallerReference: aws.String(fmt.Sprintf("bench-%s-%d", name, time.Now().UnixNano())),
	})
	if err != nil {
		tb.Fatalf("creating hosted zone %s: %v", name, err)
	}
	return zone{id: strings.TrimPrefix(aws.ToString(out.HostedZone.Id), "/hostedzone/"), name: name}
}

// serviceWeightsIn reads the weights Route53 holds for the service-level records of
// service, by SetIdentifier.
func (e *env) serviceWeightsIn(ctx context.Context, zoneID, service string) (map[string]int64, error) {
	sets, err := e.reader.RecordSets(ctx, zoneID, r53.RecordQuery{Name: service})
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, r := range sets {
		if r.SetIdentifier != nil {
			out[aws.ToString(r.SetIdentifier)] = aws.ToInt64(r.Weight)
		}
	}
	return out, nil
}

// setID is the SetIdentifier of a Prod's service-level record.
func setID(namespace, prod string) string { return route53.DefaultOwner + "/" + namespace + "/" + prod }

// waitFor polls cond every 250ms until it holds, failing tb after timeout with what
// cond last said.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("waited %s for %s: %s", timeout, what, why)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// quiet waits until the manager has nothing in flight: no ProdSet with a DNS change
// pending, and no Route53 call for a while (the publisher's linger, three times, and at
// least a second), so that a measurement starts from rest.
func (e *env) quiet(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	rest := max(time.Second, 3*e.linger)
	waitFor(tb, timeout, "the manager to be quiet", func() (bool, string) {
		sets := &droverv1.ProdSetList{}
		if err := e.cp.List(context.Background(), sets, client.InNamespace(e.bed.Namespace)); err != nil {
			return false, err.Error()
		}
		for _, s := range sets.Items {
			if t := s.Status.Traffic; t != nil && t.ChangeID != "" {
				return false, fmt.Sprintf("ProdSet %s has DNS change %s in flight", s.Name, t.ChangeID)
			}
			for _, p := range s.Status.Prods {
				if p.PendingWeight != nil {
					return false, fmt.Sprintf("Prod %s has a pending weight", p.Name)
				}
			}
		}
		if e.rec.inFlight() {
			return false, "a Route53 call is in flight"
		}
		if since := time.Since(e.rec.last()); since < rest {
			return false, fmt.Sprintf("the last Route53 call was %s ago", since.Round(time.Millisecond))
		}
		return true, ""
	})
}

// loadAverage is the machine's load (/proc/loadavg: 1, 5 and 15 minutes), for the
// reports: these benchmarks share the machine.
func loadAverage() string {
	l := machine.LoadAverage()
	if l == "" {
		return "unknown"
	}
	return fmt.Sprintf("%s (%d CPUs)", l, goruntime.NumCPU())
}

// apiRequests is the control plane's apiserver_request_total now, summed by verb and
// resource ("PATCH prodsets/status"); watches left out.
func (e *env) apiRequests(ctx context.Context) (map[string]float64, error) {
	cs, err := kubernetes.NewForConfig(e.bed.ControlPlane.Config)
	if err != nil {
		return nil, err
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the control plane's metrics: %w", err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	f := families["apiserver_request_total"]
	if f == nil {
		return out, nil
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["verb"] == "WATCH" || labels["resource"] == "" {
			continue
		}
		key := labels["verb"] + " " + labels["resource"]
		if sub := labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		out[key] += m.GetCounter().GetValue()
	}
	return out, nil
}

// topRequests describes the largest differences between two apiRequests readings.
func topRequests(before, after map[string]float64, n int) string {
	type kv struct {
		key string
		n   int
	}
	var diffs []kv
	total := 0
	for k, v := range after {
		if d := int(v - before[k]); d > 0 {
			diffs = append(diffs, kv{k, d})
			total += d
		}
	}
	slices.SortFunc(diffs, func(a, b kv) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.key, b.key)
	})
	parts := []string{fmt.Sprintf("%d in all", total)}
	for _, d := range diffs[:min(n, len(diffs))] {
		parts = append(parts, fmt.Sprintf("%s %d", d.key, d.n))
	}
	return strings.Join(parts, ", ")
}

// crdDirectory is config/crd/bases, or, with maxPerCluster, a copy of it whose ProdSet
// CRD allows that many Prods per cluster.
func crdDirectory(tb testing.TB, maxPerCluster int) (string, error) {
	bases := filepath.Join("..", "..", "..", "config", "crd", "bases")
	if maxPerCluster == 0 {
		return bases, nil
	}
	dir := tb.TempDir()
	entries, err := os.ReadDir(bases)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(bases, e.Name()))
		if err != nil {
			return "", err
		}
		if e.Name() == "drover.dev_prodsets.yaml" {
			const field = "maxPerCluster:"
			i := bytes.Index(data, []byte(field))
			j := bytes.Index(data[max(i, 0):], []byte("maximum: 10\n"))
			if i < 0 || j < 0 {
				return "", fmt.Errorf("no maximum of maxPerCluster in %s", e.Name())
			}
			at := i + j
			data = append(append(slices.Clone(data[:at]), fmt.Appendf(nil, "maximum: %d\n", maxPerCluster)...), data[at+len("maximum: 10\n"):]...)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			return "", err
		}
	}
	return dir, nil
}
