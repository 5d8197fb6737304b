package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/clouds/prometheustest"
)

// What the sample RolloutPolicy's baseline gate needs, in the sandbox: a Prometheus with
// an error ratio for each Prod. The sandbox runs a real Prometheus (the one the tests run,
// `make prometheus`) scraping an endpoint the sandbox serves, which gives each Prod an
// error ratio around 1% that moves every scrape, three times higher for worseVersion, so
// that the baseline gate passes the other versions and fails that one.

// worseVersion is the version whose error ratio is three times the others'.
const worseVersion = "v4"

// errorRatioMetric is the gauge the sandbox serves, labelled by Prod.
const errorRatioMetric = "sandbox_error_ratio"

// sandboxBaseline is how the sandbox's baseline gates sample: 10 s, once a second.
const (
	sandboxBaselineWindow   = 10 * time.Second
	sandboxBaselineInterval = time.Second
)

// metrics is the sandbox's Prometheus and the endpoint it scrapes.
type metrics struct {
	st   *prometheustest.Standalone
	exp  *prometheustest.Exporter
	prom *prometheustest.Server
}

// startMetrics starts the endpoint and a Prometheus scraping it every second, their files
// under dir.
func startMetrics(dir string) (*metrics, error) {
	d := filepath.Join(dir, "prometheus")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	m := &metrics{st: prometheustest.NewStandalone(d)}
	err := m.st.Do(func() {
		m.exp = prometheustest.NewExporter(m.st)
		m.prom = prometheustest.Start(m.st, prometheustest.Options{ScrapeTargets: []string{m.exp.Addr()}})
	})
	if err != nil {
		m.st.Close()
		return nil, fmt.Errorf("starting Prometheus (make prometheus puts it in bin/prometheus/): %w", err)
	}
	return m, nil
}

func (m *metrics) stop() { m.st.Close() }

// run sets each Prod's error ratio from the version it runs, every 200 ms, until ctx ends.
func (m *metrics) run(ctx context.Context, cp client.Reader) {
	//nolint:gosec // G404: made-up error ratios for a demonstration, not a secret.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for ctx.Err() == nil {
		prods := &droverv1.ProdList{}
		if err := cp.List(ctx, prods); err == nil {
			for _, p := range prods.Items {
				v := 0.01 * (0.9 + 0.2*rng.Float64())
				if p.Spec.Version == worseVersion {
					v *= 3
				}
				_ = m.st.Do(func() { m.exp.Set(errorRatioMetric, map[string]string{"prod": p.Name}, v) })
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}
