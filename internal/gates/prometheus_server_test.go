package gates_test

import (
	"context"
	"strings"
	"testing"
	"time"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/gates"
	"github.com/drover-dev/drover/internal/test/clouds/prometheustest"
)

// TestPrometheusGateAgainstPrometheus evaluates gates through a real Prometheus server
// scraping an exporter whose values the test sets.
func TestPrometheusGateAgainstPrometheus(t *testing.T) {
	exp := prometheustest.NewExporter(t)
	eu := map[string]string{"prod": "shop-eu-1"}
	exp.Set("shop_error_ratio", eu, 0.001)
	exp.Set("shop_error_ratio", map[string]string{"prod": "shop-us-1"}, 0.3)
	prom := prometheustest.Start(t, prometheustest.Options{ScrapeTargets: []string{exp.Addr()}})
	prom.WaitForQuery(t, `shop_error_ratio{prod="shop-eu-1"}`, 30*time.Second)

	ctx := context.Background()
	q := gates.PrometheusQuerier{Address: prom.URL()}
	gate := droverv1.PrometheusGate{Query: `shop_error_ratio{prod="{{ .Prod }}"}`, Comparison: "<", Threshold: "0.01"}
	target := gates.Target{Prod: "shop-eu-1", Version: "v2"}

	t.Run("holds", func(t *testing.T) {
		res, err := q.Evaluate(ctx, gate, target, time.Now())
		if err != nil || !res.Holds || res.Value != 0.001 {
			t.Fatalf("0.001 < 0.01 should hold: %+v, %v", res, err)
		}
	})

	t.Run("no sample", func(t *testing.T) {
		_, err := q.Evaluate(ctx, gate, gates.Target{Prod: "shop-ap-1"}, time.Now())
		if err == nil || !strings.Contains(err.Error(), "returned 0 samples") {
			t.Fatalf("a Prod without the series cannot be judged: %v", err)
		}
	})

	t.Run("several samples", func(t *testing.T) {
		_, err := q.Evaluate(ctx, droverv1.PrometheusGate{Query: "shop_error_ratio", Comparison: "<", Threshold: "0.01"}, target, time.Now())
		if err == nil || !strings.Contains(err.Error(), "returned 2 samples") {
			t.Fatalf("a query selecting both Prods cannot be judged: %v", err)
		}
		res, err := q.Evaluate(ctx, droverv1.PrometheusGate{Query: "max(shop_error_ratio)", Comparison: ">=", Threshold: "0.3"}, target, time.Now())
		if err != nil || !res.Holds || res.Value != 0.3 {
			t.Fatalf("the aggregate max(...) is one sample, 0.3: %+v, %v", res, err)
		}
	})

	t.Run("invalid PromQL", func(t *testing.T) {
		_, err := q.Evaluate(ctx, droverv1.PrometheusGate{Query: "rate(shop_error_ratio[", Comparison: "<", Threshold: "1"}, target, time.Now())
		if err == nil || !strings.Contains(err.Error(), "was refused by Prometheus") {
			t.Fatalf("Prometheus refuses a parse error: %v", err)
		}
	})

	// Runs last: it changes the exporter's value.
	t.Run("does not hold after the value rises", func(t *testing.T) {
		exp.Set("shop_error_ratio", eu, 0.5)
		prom.WaitForQuery(t, `shop_error_ratio{prod="shop-eu-1"} == 0.5`, 30*time.Second)
		res, err := q.Evaluate(ctx, gate, target, time.Now())
		if err != nil || res.Holds || res.Value != 0.5 || !strings.Contains(res.Message, "does not hold") {
			t.Fatalf("0.5 < 0.01 should not hold: %+v, %v", res, err)
		}
	})
}
