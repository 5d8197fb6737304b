// Package suite runs an envtest suite the way every controller suite of drover does: a
// test bed, the manager's real wiring (setup.Controllers) in process against it, the
// tests, and the test bed's process logs kept when a test failed.
package suite

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// Run starts the test bed described by bedOpts (its Scheme defaults to setup.Scheme()),
// calls started with it, runs the manager with opts and then m's tests, and returns the
// exit code for os.Exit.
func Run(m *testing.M, bedOpts testbed.Options, opts setup.Options, started func(*testbed.Testbed)) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if bedOpts.Scheme == nil {
		bedOpts.Scheme = setup.Scheme()
	}
	bed, err := testbed.Start(ctx, bedOpts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test bed:", err)
		return 1
	}
	defer func() {
		if err := bed.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the test bed:", err)
		}
	}()
	if started != nil {
		started(bed)
	}

	stop, err := StartManager(ctx, bed, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		bed.KeepLogs()
		fmt.Fprintln(os.Stderr, "test bed process logs kept in", bed.LogDir())
	}
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
	}
	return code
}

// StartManager runs the manager's real wiring (setup.Controllers with opts) in process
// against the test bed's control plane until stop is called; stop waits for it to end.
// A suite may stop it and start another, as a restarted manager would: the new one knows
// only what the API servers keep.
//
// The manager serves its metrics over HTTP on a free loopback port, MetricsURL.
func StartManager(ctx context.Context, bed *testbed.Testbed, opts setup.Options) (stop func() error, _ error) {
	addr, err := freeAddress()
	if err != nil {
		return nil, fmt.Errorf("finding a port for the metrics endpoint: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	mgr, err := ctrl.NewManager(bed.ControlPlane.Config, ctrl.Options{
		Scheme:                 bed.Scheme,
		Cache:                  setup.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: addr},
		HealthProbeBindAddress: "0",
		// A restarted manager registers its controllers under the same names again.
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if _, err := setup.Controllers(ctx, mgr, opts); err != nil {
		cancel()
		return nil, fmt.Errorf("setting up controllers: %w", err)
	}
	metricsURL.Store("http://" + addr + "/metrics")
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() error {
		cancel()
		return <-done
	}, nil
}

var metricsURL atomic.Value

// MetricsURL is the metrics endpoint of the manager StartManager started last.
func MetricsURL() string {
	s, _ := metricsURL.Load().(string)
	return s
}

// freeAddress is a loopback address with a port nothing listens on now.
func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// zapLevel is quiet by default; DROVER_TEST_VERBOSE=1 shows the controllers' logs.
func zapLevel() zapcore.Level {
	if os.Getenv("DROVER_TEST_VERBOSE") != "" {
		return zapcore.Level(-4)
	}
	return zapcore.ErrorLevel
}
