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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

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

	// manager is the running manager; restartManager replaces it.
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
	managerOpts = dns.Options(setup.Options{WorkloadClientTimeout: 5 * time.Second, ProdResyncInterval: 5 * time.Second})
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
	if stopManager, err = suite.StartManager(ctx, bed, managerOpts); err != nil {
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
// manager pod would: everything it knew in memory is gone.
func restartManager(t *testing.T) {
	t.Helper()
	managerMu.Lock()
	defer managerMu.Unlock()
	if err := stopManager(); err != nil {
		t.Fatalf("stopping the manager: %v", err)
	}
	var err error
	if stopManager, err = suite.StartManager(context.Background(), bed, managerOpts); err != nil {
		t.Fatalf("starting the manager again: %v", err)
	}
}
