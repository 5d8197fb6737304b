package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/test/builder"

	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/dnsbed"
	"github.com/drover-dev/drover/internal/test/suite"
	"github.com/drover-dev/drover/internal/test/testbed"
	"github.com/drover-dev/drover/internal/traffic"
)

// The envtest tests run the plugin's commands in process against a control plane where
// the manager's real wiring runs, with three workload clusters (each its own
// kube-apiserver and etcd): a and b (pool shop) for the rollout tests, c (pool cart) for
// maintenance. DNS is Route53: moto behind the AWS fault proxy, which keeps each change
// PENDING for a second as Route53 does, and drover's Route53 publisher
// (internal/test/dnsbed); expectServing reads the weights moto holds. The test bed starts
// with the first test that needs it (startBed), so the pure tests run alone in a second.
var (
	bed        *testbed.Testbed
	cp         client.Client
	kubeconfig string
	dns        *dnsbed.Bed
	zone       string

	bedOnce   sync.Once
	bedErr    error
	stopBed   = func() {}
	bedFailed = func() {}
)

const pool = "drover.dev/pool"

func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 {
		bedFailed()
	}
	stopBed()
	os.Exit(code)
}

// startBed starts the test bed and the manager once for the package.
func startBed(t *testing.T) {
	t.Helper()
	bedOnce.Do(func() { bedErr = start() })
	if bedErr != nil {
		t.Fatalf("starting the test bed: %v", bedErr)
	}
}

func start() error {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	var err error
	if dns, err = dnsbed.Start(dnsbed.Options{Propagation: time.Second}); err != nil {
		return err
	}
	if zone, err = dns.CreateZone(context.Background(), "example.com"); err != nil {
		dns.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var workloads []testbed.WorkloadOptions
	for _, name := range []string{"a", "b", "c"} {
		p := "shop"
		if name == "c" {
			p = "cart"
		}
		region := map[string]string{"a": "eu", "b": "us", "c": "eu"}[name]
		workloads = append(workloads, testbed.WorkloadOptions{Name: name, Labels: map[string]string{pool: p, "topology.drover.dev/region": region}})
	}
	b, err := testbed.Start(ctx, testbed.Options{
		Scheme:            setup.Scheme(),
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		Workloads:         workloads,
	})
	if err != nil {
		cancel()
		dns.Close()
		return err
	}
	bed, cp = b, b.ControlPlane.Client
	dir, err := os.MkdirTemp("", "kubectl-drover-test-")
	if err != nil {
		cancel()
		return errors.Join(err, b.Stop())
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := b.WriteControlPlaneKubeconfig(kubeconfig); err != nil {
		cancel()
		return errors.Join(err, b.Stop())
	}
	stopManager, err := suite.StartManager(ctx, b, dns.Options(setup.Options{
		WorkloadClientTimeout:      5 * time.Second,
		MaintenanceRecheckInterval: time.Second,
	}))
	if err != nil {
		cancel()
		return errors.Join(err, b.Stop())
	}
	bedFailed = func() {
		b.KeepLogs()
		fmt.Fprintln(os.Stderr, "test bed process logs kept in", b.LogDir())
	}
	stopBed = func() {
		if err := stopManager(); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
		cancel()
		if err := b.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the test bed:", err)
		}
		dns.Close()
		_ = os.RemoveAll(dir)
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// kubectlDrover runs the plugin in process with args against the control plane and
// returns what it wrote.
func kubectlDrover(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out := &syncBuffer{}
	err := runCommand(t.Context(), out, args...)
	t.Logf("$ kubectl drover %s\n%s(err: %v)", strings.Join(args, " "), out.String(), err)
	return out.String(), err
}

func runCommand(ctx context.Context, out *syncBuffer, args ...string) error {
	cmd := NewCommand(Streams{In: strings.NewReader(""), Out: out, ErrOut: out}, Options{PollInterval: 200 * time.Millisecond})
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig}, args...))
	return cmd.ExecuteContext(ctx)
}

// newSet creates a ProdSet of ConfigMaps (available as soon as applied) on the
// clusters of pool p; opts change it.
func newSet(t *testing.T, name, p string, replicas int32, opts ...builder.SetOption) *droverv1.ProdSet {
	t.Helper()
	set := builder.ProdSet(bed.Namespace, name, append([]builder.SetOption{builder.Replicas(replicas), builder.OnClusters(pool, p),
		builder.Records(zone, name+".example.com", 1),
		// An endpoint for each Prod (dnsbed.OctaviaStandIn): Route53 records point at it.
		builder.LoadBalancer("lb-" + name)}, opts...)...)
	NewWithT(t).Expect(cp.Create(t.Context(), set)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), set) })
	return set
}

func getSet(g Gomega, name string) *droverv1.ProdSet {
	set := &droverv1.ProdSet{}
	g.Expect(cp.Get(context.Background(), client.ObjectKey{Namespace: bed.Namespace, Name: name}, set)).To(Succeed())
	return set
}

func updateSet(g Gomega, name string, mutate func(*droverv1.ProdSet)) {
	g.Eventually(func() error {
		set := &droverv1.ProdSet{}
		if err := cp.Get(context.Background(), client.ObjectKey{Namespace: bed.Namespace, Name: name}, set); err != nil {
			return err
		}
		mutate(set)
		return cp.Update(context.Background(), set)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}

// route53Weights are the weights Route53 (moto) holds for the set's records, by Prod
// ("<namespace>/<name>").
func route53Weights(g Gomega, name string) map[string]int32 {
	set := getSet(g, name)
	weights, err := dns.Records(traffic.Service{Zone: zone, Name: set.Spec.Traffic.RecordName})
	g.Expect(err).NotTo(HaveOccurred())
	return weights
}

// expectServing waits until every Prod of the set serves at weight 100 in Route53, and
// the set's status says so.
func expectServing(g Gomega, name string, replicas int) {
	g.Eventually(func(g Gomega) {
		set := getSet(g, name)
		g.Expect(set.Status.ServingReplicas).To(BeEquivalentTo(replicas))
		g.Expect(set.Status.Prods).To(HaveLen(replicas))
		want := map[string]int32{}
		for _, p := range set.Status.Prods {
			g.Expect(p.PublishedWeight).To(HaveValue(BeEquivalentTo(100)), "Prod %s", p.Name)
			g.Expect(p.PendingWeight).To(BeNil(), "Prod %s", p.Name)
			want[set.Namespace+"/"+p.Name] = 100
		}
		g.Expect(dns.Records(traffic.Service{Zone: zone, Name: set.Spec.Traffic.RecordName})).To(Equal(want), "the weights Route53 holds")
	}, 90*time.Second, 200*time.Millisecond).Should(Succeed())
}
