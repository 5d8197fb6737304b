package rollouts_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/dnsbed"
	"github.com/drover-dev/drover/internal/test/suite"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// DNS is Route53: moto behind the AWS fault proxy, which keeps each change PENDING for
// propagation as Route53 does, and drover's Route53 publisher (internal/test/dnsbed).
// The tests read the records moto holds and the changes the proxy saw.
var (
	bed *testbed.Testbed
	cp  client.Client
	dns *dnsbed.Bed

	// manager is the running manager; restartManager replaces it. managerOpts are the
	// options of every start; each start gets a Route53 publisher of its own from dns.
	managerMu   sync.Mutex
	stopManager func() error
	managerOpts setup.Options
)

const (
	region = "topology.drover.dev/region"
	pool   = "drover.dev/pool"
	// The clusters: two per region, each running its Deployments for real.
	eu1, eu2, us1, us2 = "eu-1", "eu-2", "us-1", "us-2"
	// propagation is how long Route53 keeps a change PENDING.
	propagation = time.Second
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	level := zapcore.ErrorLevel
	if os.Getenv("DROVER_TEST_VERBOSE") != "" {
		level = zapcore.Level(-4)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	ctx := context.Background()
	var workloads []testbed.WorkloadOptions
	for _, name := range []string{eu1, eu2, us1, us2} {
		workloads = append(workloads, testbed.WorkloadOptions{Name: name, Controllers: true,
			Labels: map[string]string{region: name[:2], pool: "shop"}})
	}
	var err error
	if dns, err = dnsbed.Start(dnsbed.Options{Propagation: propagation}); err != nil {
		fmt.Fprintln(os.Stderr, "starting moto:", err)
		return 1
	}
	defer dns.Close()
	managerOpts = setup.Options{WorkloadClientTimeout: 5 * time.Second, ProdResyncInterval: 5 * time.Second}
	bed, err = testbed.Start(ctx, testbed.Options{
		Scheme:            setup.Scheme(),
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "..", "config", "crd", "bases")},
		Workloads:         workloads,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test bed:", err)
		return 1
	}
	defer func() {
		if err := bed.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the test bed:", err)
		}
	}()
	cp = bed.ControlPlane.Client
	// The check servers and Prometheus of the tests listen on 127.0.0.1, which only a
	// Tenant naming 127.0.0.0/8 reaches (gates_test.go shows that the defaults and other
	// Tenants do not). The Tenant allows the Prods what the defaults do.
	if err := joinTenant(ctx, bed.Namespace, &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: loopbackTenant},
		Spec: droverv1.TenantSpec{GateNetworks: []string{"127.0.0.0/8"}, OctaviaProjects: []string{dnsbed.StandInProject}}}); err != nil {
		fmt.Fprintln(os.Stderr, "setting up the tests' Tenant:", err)
		return 1
	}
	if stopManager, err = suite.StartManager(ctx, bed, dns.Options(managerOpts)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		bed.KeepLogs()
		fmt.Fprintln(os.Stderr, "test bed process logs kept in", bed.LogDir())
	}
	managerMu.Lock()
	defer managerMu.Unlock()
	if err := stopManager(); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
	}
	return code
}

// restartManager stops the manager and starts a new one, as a crashed and restarted
// manager pod would: everything it knew in memory is gone, its Route53 publisher's
// tickets and batches too (the new manager has a new publisher).
func restartManager(t *testing.T) {
	t.Helper()
	managerMu.Lock()
	defer managerMu.Unlock()
	if err := stopManager(); err != nil {
		t.Fatalf("stopping the manager: %v", err)
	}
	var err error
	if stopManager, err = suite.StartManager(context.Background(), bed, dns.Options(managerOpts)); err != nil {
		t.Fatalf("starting the manager again: %v", err)
	}
}

// loopbackTenant is the Tenant of the tests' namespace: it lets gates reach 127.0.0.1.
const loopbackTenant = "rollouts-loopback"

// joinTenant creates tenant (unless it exists) and labels namespace with its name.
func joinTenant(ctx context.Context, namespace string, tenant *droverv1.Tenant) error {
	if err := cp.Create(ctx, tenant); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return labelNamespace(ctx, namespace, &tenant.Name)
}

// labelNamespace sets namespace's drover.dev/tenant label to *tenant, or removes it
// when tenant is nil.
func labelNamespace(ctx context.Context, namespace string, tenant *string) error {
	ns := &corev1.Namespace{}
	if err := cp.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return err
	}
	before := ns.DeepCopy()
	if tenant == nil {
		delete(ns.Labels, droverv1.TenantLabel)
	} else {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[droverv1.TenantLabel] = *tenant
	}
	return cp.Patch(ctx, ns, client.MergeFrom(before))
}
