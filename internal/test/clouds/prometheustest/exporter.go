package prometheustest

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Exporter serves /metrics on 127.0.0.1 from a registry of its own, holding gauges
// whose values the test sets: the application a Prometheus gate watches.
type Exporter struct {
	t      T
	srv    *httptest.Server
	reg    *prometheus.Registry
	mu     sync.Mutex
	gauges map[string]*prometheus.GaugeVec
}

// NewExporter starts an Exporter on a free port; it stops when the test ends.
func NewExporter(t T) *Exporter {
	t.Helper()
	e := &Exporter{t: t, reg: prometheus.NewRegistry(), gauges: map[string]*prometheus.GaugeVec{}}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{}))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// Addr is the exporter's host:port, a scrape target for Options.ScrapeTargets.
func (e *Exporter) Addr() string { return e.srv.Listener.Addr().String() }

// Set sets the gauge name{labels} to v. The first Set of a name fixes its label names;
// a later Set with other label names fails the test.
func (e *Exporter) Set(name string, labels map[string]string, v float64) {
	e.t.Helper()
	g, err := e.gauge(name, labels).GetMetricWith(labels)
	if err != nil {
		e.t.Fatalf("prometheustest: setting %s%v: %v", name, labels, err)
	}
	g.Set(v)
}

// Delete removes the series name{labels}, so the next scrape no longer reports it.
func (e *Exporter) Delete(name string, labels map[string]string) {
	e.t.Helper()
	e.gauge(name, labels).Delete(labels)
}

func (e *Exporter) gauge(name string, labels map[string]string) *prometheus.GaugeVec {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if g, ok := e.gauges[name]; ok {
		return g
	}
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: "Set by prometheustest.Exporter."}, names)
	if err := e.reg.Register(g); err != nil {
		e.t.Fatalf("prometheustest: registering %s: %v", name, err)
	}
	e.gauges[name] = g
	return g
}
