package prod_test

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
)

// The suite runs the real manager wiring against a real test bed: a control plane with
// Cluster API's and drover's CRDs and three workload clusters, each its own
// kube-apiserver and etcd. The first two also run kube-controller-manager, kube-scheduler
// and kwok, so Deployments really roll out.
var (
	bed *testbed.Testbed
	cp  client.Client
)

const (
	rolloutCluster = "workload-1"
	otherCluster   = "workload-2"
	outageCluster  = "workload-3"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	scheme := setup.Scheme()
	var err error
	bed, err = testbed.Start(ctx, testbed.Options{
		Scheme:            scheme,
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		Workloads: []testbed.WorkloadOptions{
			{Name: rolloutCluster, Labels: map[string]string{"topology.drover.dev/region": "eu"}, Controllers: true},
			{Name: otherCluster, Labels: map[string]string{"topology.drover.dev/region": "eu"}, Controllers: true},
			{Name: outageCluster, Labels: map[string]string{"topology.drover.dev/region": "us"}},
		},
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

	mgr, err := ctrl.NewManager(bed.ControlPlane.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the manager:", err)
		return 1
	}
	if _, err := setup.Controllers(ctx, mgr, setup.Options{WorkloadClientTimeout: 5 * time.Second, ProdResyncInterval: 3 * time.Second}); err != nil {
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
