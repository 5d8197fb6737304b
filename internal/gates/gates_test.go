package gates

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

func noSleep(context.Context, time.Duration) error { return nil }

func TestHTTPCheck(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		prod := r.URL.Query().Get("prod")
		calls[prod]++
		switch {
		case prod == "down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case prod == "flaky" && calls[prod]%2 == 0:
			w.WriteHeader(http.StatusInternalServerError)
		case r.URL.Path != "/healthz":
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	gate := func(pct int32) droverv1.HTTPCheckGate {
		return droverv1.HTTPCheckGate{URL: "http://{{ .Host }}/healthz?prod={{ .Prod }}", ExpectedStatus: 200, Tries: 4, SuccessPercent: pct,
			Interval: &metav1.Duration{Duration: time.Millisecond}}
	}
	// The check server listens on 127.0.0.1, which only single-team mode (or a Tenant
	// naming 127.0.0.0/8) reaches; guard_test.go shows the others cannot.
	h := HTTPChecker{Sleep: noSleep, Policy: tenancy.Policy{SingleTeam: true}}
	ctx := context.Background()

	res, err := h.Check(ctx, gate(100), []Target{{Prod: "a", Host: host}, {Prod: "b", Host: host}})
	if err != nil || !res.Passed || res.Tries["a"] != 4 || res.Successes["b"] != 4 {
		t.Fatalf("healthy Prods: %+v, %v", res, err)
	}
	res, _ = h.Check(ctx, gate(100), []Target{{Prod: "a", Host: host}, {Prod: "down", Host: host}})
	if res.Passed || !strings.Contains(res.Message, "down: 0/4 tries succeeded (last: status 503, want 200)") {
		t.Fatalf("a Prod answering 503 fails the gate: %+v", res)
	}
	res, _ = h.Check(ctx, gate(50), []Target{{Prod: "flaky", Host: host}})
	if !res.Passed || res.Successes["flaky"] != 2 {
		t.Fatalf("2 of 4 meets 50%%: %+v", res)
	}
	res, _ = h.Check(ctx, gate(75), []Target{{Prod: "flaky", Host: host}})
	if res.Passed {
		t.Fatalf("2 of 4 misses 75%%: %+v", res)
	}
	res, _ = h.Check(ctx, gate(100), []Target{{Prod: "gone", Host: "127.0.0.1:1"}})
	if res.Passed || !strings.Contains(res.Message, "gone: 0/4") {
		t.Fatalf("an unreachable Prod fails the gate: %+v", res)
	}
	if _, err := h.Check(ctx, droverv1.HTTPCheckGate{URL: "http://{{ .Nope }}/"}, []Target{{Prod: "a"}}); err == nil {
		t.Fatal("a URL template naming an unknown field is an error")
	}
}

// prometheus answers /api/v1/query as Prometheus does, from a table of query -> body.
func prometheus(t *testing.T, answers map[string]string) (*httptest.Server, *[]url.Values) {
	var seen []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		seen = append(seen, r.URL.Query())
		body, ok := answers[r.URL.Query().Get("query")]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestPrometheusGate(t *testing.T) {
	vector := func(v string) string {
		return `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1764072000.000,"` + v + `"]}]}}`
	}
	srv, seen := prometheus(t, map[string]string{
		`error_ratio{prod="shop-eu-1",version="v2"}`: vector("0.004"),
		`error_ratio{prod="shop-us-1",version="v2"}`: vector("0.2"),
		`scalar(1)`:  `{"status":"success","data":{"resultType":"scalar","result":[1764072000.000,"1"]}}`,
		`by_pod`:     `{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}`,
		`no_samples`: `{"status":"success","data":{"resultType":"vector","result":[]}}`,
	})
	q := PrometheusQuerier{Address: srv.URL}
	gate := droverv1.PrometheusGate{Query: `error_ratio{prod="{{ .Prod }}",version="{{ .Version }}"}`, Comparison: "<", Threshold: "0.01"}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()

	res, err := q.Evaluate(ctx, gate, Target{Prod: "shop-eu-1", Version: "v2"}, at)
	if err != nil || !res.Holds || res.Value != 0.004 {
		t.Fatalf("0.004 < 0.01: %+v, %v", res, err)
	}
	if got := (*seen)[0].Get("time"); got != "1795608000.000" {
		t.Errorf("evaluated at %s", got)
	}
	res, err = q.Evaluate(ctx, gate, Target{Prod: "shop-us-1", Version: "v2"}, at)
	if err != nil || res.Holds || !strings.Contains(res.Message, "does not hold") {
		t.Fatalf("0.2 < 0.01: %+v, %v", res, err)
	}
	res, err = q.Evaluate(ctx, droverv1.PrometheusGate{Query: "scalar(1)", Comparison: ">=", Threshold: "1"}, Target{}, at)
	if err != nil || !res.Holds {
		t.Fatalf("scalar: %+v, %v", res, err)
	}
	for query, want := range map[string]string{
		"by_pod":     "returned 2 samples",
		"no_samples": "returned 0 samples",
		"rate(x[":    "was refused by Prometheus",
	} {
		if _, err := q.Evaluate(ctx, droverv1.PrometheusGate{Query: query, Comparison: "<", Threshold: "1"}, Target{}, at); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", query, err, want)
		}
	}
	if _, err := (PrometheusQuerier{}).Evaluate(ctx, gate, Target{}, at); err == nil {
		t.Error("no address anywhere is an error")
	}
}
