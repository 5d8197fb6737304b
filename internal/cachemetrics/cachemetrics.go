// Package cachemetrics computes gauges from the manager's informer cache at scrape time:
// how many objects are in which state right now. Nothing is counted as objects change,
// so the numbers cannot drift from what the API server holds, and a scrape costs one list
// from memory.
//
// Only the elected leader reports: a standby replica's cache would count the same objects
// again, and its controllers decide nothing.
package cachemetrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Collector is a prometheus.Collector whose metrics a function computes from a reader.
type Collector struct {
	descs   []*prometheus.Desc
	collect func(ctx context.Context, r client.Reader, ch chan<- prometheus.Metric) error
	src     atomic.Pointer[source]
}

type source struct {
	reader  client.Reader
	elected <-chan struct{}
}

var _ prometheus.Collector = &Collector{}

// New returns a Collector of descs; collect sends their metrics, read from r.
func New(collect func(ctx context.Context, r client.Reader, ch chan<- prometheus.Metric) error, descs ...*prometheus.Desc) *Collector {
	return &Collector{descs: descs, collect: collect}
}

// Use makes the Collector read from r once elected is closed (a manager's Elected()).
// Until it is called the Collector reports nothing. The last call wins.
func (c *Collector) Use(r client.Reader, elected <-chan struct{}) {
	c.src.Store(&source{reader: r, elected: elected})
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A list that fails reports nothing rather
// than a wrong number.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	src := c.src.Load()
	if src == nil {
		return
	}
	select {
	case <-src.elected:
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	buf := make(chan prometheus.Metric, 64)
	done := make(chan error, 1)
	go func() {
		done <- c.collect(ctx, src.reader, buf)
		close(buf)
	}()
	var ms []prometheus.Metric
	for m := range buf {
		ms = append(ms, m)
	}
	if err := <-done; err != nil {
		return
	}
	for _, m := range ms {
		ch <- m
	}
}

// Counts is a helper for gauges by labels: it counts occurrences of label tuples.
type Counts map[[2]string]float64

// Add counts one object with labels a, b.
func (c Counts) Add(a, b string) { c[[2]string{a, b}]++ }

// Send sends one gauge per label tuple of desc (two variable labels).
func (c Counts) Send(ch chan<- prometheus.Metric, desc *prometheus.Desc) {
	for k, v := range c {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, k[0], k[1])
	}
}
