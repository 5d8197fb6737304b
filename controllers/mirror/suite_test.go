package mirror_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/elbv2"
	"github.com/drover-dev/drover/internal/cloud/octavia"
	r53 "github.com/drover-dev/drover/internal/cloud/route53"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
	"github.com/drover-dev/drover/internal/test/suite"
	"github.com/drover-dev/drover/internal/test/testbed"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// The suite: a control plane with two workload clusters (real kube-apiservers), moto for
// ELBv2 and Route53, and the real Octavia API and worker (Debian's packages, no-op
// drivers). Each test gets moto reset, a fault proxy in front of the shared Octavia, and
// a manager of its own pointed at both.
var (
	bed *testbed.Testbed
	cp  client.Client
)

const (
	w1, w2       = "w-1", "w-2"
	pollInterval = 2 * time.Second
	// settle bounds every wait for the mirror to catch up: generous, since on a loaded
	// 2-core machine one Octavia read can take seconds. What the tests prove does not
	// depend on it (a wait returns as soon as its condition holds).
	settle = time.Minute
	// linger is how long the Route53 publisher collects weights before a change goes:
	// long enough here that the ProdSets evicted by one maintenance, reconciled at once
	// by separate workers of a loaded 2-core machine, land in one batch.
	linger = time.Second
	// managerNamespace is the manager's, where it records what released Prods left behind.
	managerNamespace = "drover-system"
)

func TestMain(m *testing.M) {
	level := zapcore.ErrorLevel
	if os.Getenv("DROVER_TEST_VERBOSE") != "" {
		level = zapcore.Level(-4)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	var err error
	bed, err = testbed.Start(context.Background(), testbed.Options{
		Scheme:            setup.Scheme(),
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		Workloads: []testbed.WorkloadOptions{
			{Name: w1, Labels: map[string]string{"topology.drover.dev/region": "eu"}},
			{Name: w2, Labels: map[string]string{"topology.drover.dev/region": "us"}},
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test bed:", err)
		os.Exit(1)
	}
	cp = bed.ControlPlane.Client
	if err := cp.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: managerNamespace}}); err != nil {
		fmt.Fprintln(os.Stderr, "creating the manager's namespace:", err)
		os.Exit(1)
	}
	code := awstest.Run(runner(func() int { return octaviatest.Main(m, octaviatest.Options{}) }))
	if code != 0 {
		bed.KeepLogs()
		fmt.Fprintln(os.Stderr, "test bed process logs kept in", bed.LogDir())
	}
	if err := bed.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test bed:", err)
	}
	os.Exit(code)
}

type runner func() int

func (r runner) Run() int { return r() }

// env is one test's clouds and manager.
type env struct {
	moto    *awstest.Moto
	octavia *octaviatest.Server
	proxy   *octaviatest.FaultProxy
	// aws is the fault proxy the manager reaches moto through (the test's own clients,
	// from moto.Clients, do not go through it).
	aws     *awstest.FaultProxy
	network awstest.Network
}

// requestsSince returns a function that tells how many requests of service's operation
// the manager sent through e.aws since requestsSince was called: what went on the wire,
// whatever drover's own metrics say.
func (e *env) requestsSince(service, operation string) func() int {
	before := e.aws.Requests(service, operation)
	return func() int { return e.aws.Requests(service, operation) - before }
}

// start resets moto, puts fault proxies in front of moto and Octavia and runs a manager
// against them until the test ends. awsOptions change the options of the manager's AWS
// clients (moto's: a few quick retries, no rate limits).
func start(t *testing.T, awsOptions ...func(*awsclient.Options)) *env {
	t.Helper()
	return startWith(t, nil, awsOptions...)
}

// startWith is start with the manager's options changed by manager. The manager is in
// single-team mode unless manager turns it off: the suite's Prods live in a namespace
// without a Tenant, whose defaults may mirror no OpenStack project's load balancer
// (tenancy_test.go tests the boundary).
func startWith(t *testing.T, manager func(*setup.Options), awsOptions ...func(*awsclient.Options)) *env {
	t.Helper()
	return startEnv(t, nil, manager, awsOptions...)
}

// startEnv is startWith with the options of the manager's Octavia client changed by
// octaviaOptions.
func startEnv(t *testing.T, octaviaOptions func(*octavia.Options), manager func(*setup.Options), awsOptions ...func(*awsclient.Options)) *env {
	t.Helper()
	e := &env{moto: awstest.Shared(t), octavia: octaviatest.Shared(t)}
	e.network = e.moto.DefaultNetwork(t)
	e.proxy = octaviatest.NewFaultProxy(t, e.octavia.Endpoint())
	seed := fnv.New64a()
	_, _ = seed.Write([]byte(t.Name()))
	e.aws = awstest.NewFaultProxy(t, e.moto.Endpoint(), seed.Sum64())
	octaviaOpts := octavia.Options{Endpoint: e.proxy.URL(), ProjectID: e.octavia.ProjectID()}
	if octaviaOptions != nil {
		octaviaOptions(&octaviaOpts)
	}
	oc, err := octavia.New(context.Background(), octaviaOpts)
	if err != nil {
		t.Fatal(err)
	}
	awsOpts := e.aws.Options(e.moto.Options())
	for _, o := range awsOptions {
		o(&awsOpts)
	}
	clients, err := awsclient.New(context.Background(), awsOpts)
	if err != nil {
		t.Fatal(err)
	}
	opts := setup.Options{
		WorkloadClientTimeout: 5 * time.Second,
		ProdResyncInterval:    10 * time.Second,
		Octavia:               oc,
		ELBv2:                 elbv2.New(clients.ELBv2, elbv2.Options{}),
		NLBNetwork:            nlb.Network{VPCID: e.network.VPCID, Subnets: e.network.SubnetIDs()},
		MirrorPollInterval:    pollInterval,
		Publisher: &route53.Publisher{
			API: r53.New(clients.Route53, r53.Options{}), Linger: linger, PollInterval: 250 * time.Millisecond,
			Log: ctrl.Log.WithName("route53"),
		},
		SingleTeam:       true,
		ManagerNamespace: managerNamespace,
	}
	if manager != nil {
		manager(&opts)
	}
	stop, err := suite.StartManager(context.Background(), bed, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return e
}
