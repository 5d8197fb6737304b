package prodset_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/testbed"
	"github.com/drover-dev/drover/internal/traffic"
)

// The suite runs the manager's real wiring against a control plane with Cluster API's
// and drover's CRDs and four workload clusters in two regions, each its own
// kube-apiserver and etcd. DNS is traffic.Memory, which keeps Route53's semantics that
// matter here: one change at a time per zone, PENDING before INSYNC.
var (
	bed *testbed.Testbed
	cp  client.Client
	dns *traffic.Memory
)

const (
	region = "topology.drover.dev/region"
	pool   = "drover.dev/pool"
	// The clusters: two per region.
	eu1, eu2, us1, us2 = "eu-1", "eu-2", "us-1", "us-2"
	zone               = "Z0PRODSETTEST"
	// propagation is how long a DNS change stays PENDING.
	propagation = 500 * time.Millisecond
)

var allClusters = []string{eu1, eu2, us1, us2}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	scheme := setup.Scheme()
	var workloads []testbed.WorkloadOptions
	for _, name := range allClusters {
		workloads = append(workloads, testbed.WorkloadOptions{Name: name, Labels: map[string]string{region: name[:2], pool: "shop"}})
	}
	var err error
	bed, err = testbed.Start(ctx, testbed.Options{
		Scheme:            scheme,
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
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
	dns = &traffic.Memory{Propagation: propagation}

	mgr, err := ctrl.NewManager(bed.ControlPlane.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the manager:", err)
		return 1
	}
	if _, err := setup.Controllers(ctx, mgr, setup.Options{
		WorkloadClientTimeout:      5 * time.Second,
		Publisher:                  dns,
		MaintenanceRecheckInterval: 2 * time.Second,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "setting up controllers:", err)
		return 1
	}
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(ctx) }()

	code := m.Run()
	if code != 0 {
		bed.KeepLogs()
		fmt.Fprintln(os.Stderr, "test bed process logs kept in", bed.LogDir())
	}
	cancel()
	if err := <-mgrDone; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
	}
	return code
}

// zapLevel is quiet by default; DROVER_TEST_VERBOSE=1 shows the controllers' logs.
func zapLevel() zapcore.Level {
	if os.Getenv("DROVER_TEST_VERBOSE") != "" {
		return zapcore.Level(-4)
	}
	return zapcore.ErrorLevel
}
