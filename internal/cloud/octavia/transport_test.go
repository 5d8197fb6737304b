package octavia

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	dto "github.com/prometheus/client_model/go"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
)

func TestOperation(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         string
		counted      bool
	}{
		{"GET", "/v2.0/lbaas/loadbalancers/lb1", "GetLoadBalancer", true},
		{"GET", "/v2.0/lbaas/loadbalancers", "ListLoadBalancers", true},
		{"GET", "/load-balancer/v2.0/lbaas/loadbalancers/lb1/status", "GetLoadBalancerStatus", true},
		{"PUT", "/v2.0/lbaas/loadbalancers/lb1/failover", "PutLoadBalancerFailover", true},
		{"GET", "/v2.0/lbaas/listeners", "ListListeners", true},
		{"GET", "/v2.0/lbaas/pools", "ListPools", true},
		{"GET", "/v2.0/lbaas/pools/p1/members", "ListMembers", true},
		{"GET", "/v2.0/lbaas/pools/p1/members/m1", "GetMember", true},
		{"PUT", "/v2.0/lbaas/pools/p1/members", "UpdateMembers", true},
		{"POST", "/v2.0/lbaas/pools/p1/members", "CreateMember", true},
		{"DELETE", "/v2.0/lbaas/pools/p1/members/m1", "DeleteMember", true},
		{"GET", "/v2.0/lbaas/healthmonitors/h1", "GetHealthMonitor", true},
		{"PUT", "/v2.0/lbaas/l7policies/x/rules/y", "UpdateL7Rule", true},
		{"GET", "/v2.0/lbaas/unknown", "GET unknown", true},
		{"POST", "/v3/auth/tokens", "", false},
		{"GET", "/", "", false},
	} {
		got, counted := operation(tc.method, tc.path)
		if got != tc.want || counted != tc.counted {
			t.Errorf("operation(%s %s) = %q, %v; want %q, %v", tc.method, tc.path, got, counted, tc.want, tc.counted)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{statusError(404), cloudmetrics.NotFound},
		{statusError(429), cloudmetrics.Throttled},
		{statusError(500), cloudmetrics.Error},
		{statusError(409), cloudmetrics.Error},
		{gophercloud.ErrUnexpectedResponseCode{Actual: 404}, cloudmetrics.NotFound},
		{fmt.Errorf("wrapped: %w", gophercloud.ErrUnexpectedResponseCode{Actual: 429}), cloudmetrics.Throttled},
		{context.DeadlineExceeded, cloudmetrics.Error},
		{errors.New("connection refused"), cloudmetrics.Error},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type stubTransport struct{ status int }

func (s stubTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: s.status, Body: io.NopCloser(strings.NewReader("{}")), Request: req, Header: http.Header{}}, nil
}

func TestTransportRateLimitsAndCounts(t *testing.T) {
	c := httpClient(Options{RateLimit: 20, Burst: 1, Timeout: time.Second}, stubTransport{status: http.StatusTooManyRequests})
	op := "ListHealthMonitors"
	throttled := cloudmetrics.Calls.WithLabelValues(cloudmetrics.Octavia, op, cloudmetrics.Throttled)
	before := counterValue(throttled)

	begin := time.Now()
	for range 5 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://octavia.invalid/v2.0/lbaas/healthmonitors", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	// 20/s with a burst of 1: the first goes at once, each of the other four 50ms later.
	if d := time.Since(begin); d < 190*time.Millisecond {
		t.Errorf("5 requests at 20/s took %s, want at least 200ms", d)
	}
	if got := counterValue(throttled) - before; got != 5 {
		t.Errorf("counted %v throttled %s calls, want 5", got, op)
	}

	// A context that ends while waiting for the limiter: an error, counted.
	c = httpClient(Options{RateLimit: 0.001, Burst: 1}, stubTransport{status: http.StatusOK})
	errs := cloudmetrics.Calls.WithLabelValues(cloudmetrics.Octavia, op, cloudmetrics.Error)
	beforeErr := counterValue(errs)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	for i := range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://octavia.invalid/v2.0/lbaas/healthmonitors", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if i == 0 {
			if err != nil {
				t.Fatalf("first request (the burst): %v", err)
			}
			_ = resp.Body.Close()
			continue
		}
		if err == nil {
			_ = resp.Body.Close()
			t.Fatal("second request passed a limiter of one request per 1000s")
		}
	}
	if got := counterValue(errs) - beforeErr; got != 1 {
		t.Errorf("counted %v failed calls waiting for the limiter, want 1", got)
	}
}

func TestNewRefusesAmbiguousOptions(t *testing.T) {
	for name, opts := range map[string]Options{
		"cloud and endpoint":       {Cloud: "a", Endpoint: "http://127.0.0.1:9876/", ProjectID: "p"},
		"endpoint without project": {Endpoint: "http://127.0.0.1:9876/"},
		"cloud not in clouds.yaml": {Cloud: "nowhere", CloudsFile: "/nonexistent/clouds.yaml"},
	} {
		if c, err := New(t.Context(), opts); err == nil {
			t.Errorf("%s: New = %v, want an error", name, c)
		}
	}
}

// counterValue reads a counter, as prometheus/testutil.ToFloat64 does (testutil's
// diff library is not among the module's requirements).
func counterValue(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
