package gates

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

// secret is what the servers below answer with; no verdict may hold it.
const secret = "aws_secret_access_key=AKIAEXAMPLE"

// countingServer answers every request with status and the secret in its body, and
// counts the requests that reached it.
func countingServer(t *testing.T, status int) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(secret))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func withTenant(spec droverv1.TenantSpec) tenancy.Policy {
	t := &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Spec: spec}
	return tenancy.Resolve("team-a", map[string]string{droverv1.TenantLabel: "shop"}, func(string) (*droverv1.Tenant, bool) { return t, true }, false)
}

func httpGate(url string) droverv1.HTTPCheckGate {
	return droverv1.HTTPCheckGate{URL: url, Tries: 2, Interval: &metav1.Duration{Duration: time.Millisecond}, Timeout: &metav1.Duration{Duration: 5 * time.Second}}
}

func TestHTTPCheckNetworkRules(t *testing.T) {
	srv, n := countingServer(t, http.StatusOK)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	for _, tc := range []struct {
		name   string
		policy tenancy.Policy
		url    string
		// want is in the verdict's message; arrive says whether the requests reach srv.
		want   string
		arrive bool
	}{
		{"the defaults refuse loopback", tenancy.Policy{Namespace: "team-a"}, srv.URL + "/healthz", "refused: the defaults for namespace \"team-a\" (no Tenant) do not allow gate address 127.0.0.1 (spec.gateNetworks): it is loopback", false},
		{"the defaults refuse a name that resolves to loopback (checked when dialling)", tenancy.Policy{Namespace: "team-a"}, "http://localhost:" + port + "/healthz", "it is loopback", false},
		{"a Tenant without gateNetworks refuses loopback", withTenant(droverv1.TenantSpec{}), srv.URL + "/healthz", "refused: Tenant \"shop\" does not allow gate address 127.0.0.1 (spec.gateNetworks): it is loopback", false},
		{"a Tenant naming 0.0.0.0/0 still refuses loopback", withTenant(droverv1.TenantSpec{GateNetworks: []string{"0.0.0.0/0"}}), srv.URL + "/healthz", "it is loopback", false},
		{"a Tenant whose prefixes the URL misses", withTenant(droverv1.TenantSpec{GateURLPrefixes: []string{"https://checks.shop.example.com/"}, GateNetworks: []string{"127.0.0.0/8"}}), srv.URL + "/healthz", "(spec.gateURLPrefixes): it starts with none of the Tenant's prefixes", false},
		{"a Tenant naming 127.0.0.0/8", withTenant(droverv1.TenantSpec{GateNetworks: []string{"127.0.0.0/8"}}), srv.URL + "/healthz", "1 Prods answered 200", true},
		{"a Tenant naming 127.0.0.0/8 and the URL's prefix", withTenant(droverv1.TenantSpec{GateURLPrefixes: []string{srv.URL + "/"}, GateNetworks: []string{"127.0.0.0/8"}}), srv.URL + "/healthz", "1 Prods answered 200", true},
		{"single-team mode", tenancy.Policy{SingleTeam: true}, srv.URL + "/healthz", "1 Prods answered 200", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.Load()
			r := &Runner{}
			v := waitVerdict(t, r, Job{Owner: owner, Key: tc.name, Gate: droverv1.Gate{HTTPCheck: ptrTo(httpGate(tc.url))}, Targets: []Target{{Prod: "p"}}, Policy: tc.policy})
			if !strings.Contains(v.Message, tc.want) {
				t.Fatalf("verdict %q does not say %q", v.Message, tc.want)
			}
			if v.Passed != tc.arrive {
				t.Fatalf("passed %t: %+v", v.Passed, v)
			}
			if got := n.Load() - before; (got > 0) != tc.arrive {
				t.Fatalf("%d requests reached the server", got)
			}
		})
	}
}

func TestHTTPCheckRefusesMetadataBeforeConnecting(t *testing.T) {
	for _, url := range []string{"http://169.254.169.254/latest/meta-data/iam/security-credentials/", "http://[fd00:ec2::254]/latest/meta-data/"} {
		for _, policy := range []tenancy.Policy{{Namespace: "team-a"}, withTenant(droverv1.TenantSpec{GateNetworks: []string{"0.0.0.0/0", "::/0", "169.254.0.0/16"}})} {
			start := time.Now()
			res, err := HTTPChecker{Sleep: noSleep, Policy: policy}.Check(context.Background(), httpGate(url), []Target{{Prod: "p"}})
			if err != nil || res.Passed || !strings.Contains(res.Message, "it is a cloud metadata address") {
				t.Fatalf("%s under %s: %+v, %v", url, policy.Name(), res, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusing took %s: the address is refused before any connection", d)
			}
		}
	}
}

func TestHTTPCheckRedirects(t *testing.T) {
	elsewhere, reached := countingServer(t, http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		case "/elsewhere":
			http.Redirect(w, r, elsewhere.URL+"/latest/meta-data/", http.StatusFound)
		case "/outside":
			http.Redirect(w, r, "/admin", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/healthz", "/checks/healthz":
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	loopback := withTenant(droverv1.TenantSpec{GateNetworks: []string{"127.0.0.0/8"}})
	for _, tc := range []struct {
		name   string
		policy tenancy.Policy
		path   string
		want   string
		passed bool
	}{
		{"to the same host", loopback, "/same", "answered 200", true},
		{"to another host (single-team too)", tenancy.Policy{SingleTeam: true}, "/elsewhere", "(last: redirect to another host refused (only the same scheme, host and port are followed))", false},
		{"to another host under a Tenant", loopback, "/elsewhere", "redirect to another host refused", false},
		{"to a path outside the Tenant's prefixes", withTenant(droverv1.TenantSpec{GateNetworks: []string{"127.0.0.0/8"}, GateURLPrefixes: []string{srv.URL + "/outside"}}), "/outside", "starts with none of the Tenant's prefixes", false},
		{"in a loop", loopback, "/loop", "too many redirects", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := HTTPChecker{Sleep: noSleep, Policy: tc.policy}.Check(context.Background(), httpGate(srv.URL+tc.path), []Target{{Prod: "p"}})
			if err != nil || res.Passed != tc.passed || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("%+v, %v; want %q", res, err, tc.want)
			}
		})
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("%d requests followed a redirect to another host", n)
	}
}

func TestVerdictsHoldNoResponseBody(t *testing.T) {
	failing, _ := countingServer(t, http.StatusInternalServerError)
	notProm, _ := countingServer(t, http.StatusOK)
	json := func(body string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	promError := json(`{"status":"error","errorType":"` + secret + `","error":"` + secret + `"}`)
	badValue := json(`{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"` + secret + `"]}]}}`)
	badType := json(`{"status":"success","data":{"resultType":"` + secret + `","result":[]}}`)
	badScalar := json(`{"status":"success","data":{"resultType":"scalar","result":"` + secret + `"}}`)
	policy := withTenant(droverv1.TenantSpec{GateNetworks: []string{"127.0.0.0/8"}})
	prom := func(addr string) droverv1.Gate {
		return droverv1.Gate{Prometheus: &droverv1.PrometheusGate{Address: addr, Query: "up", Comparison: "<", Threshold: "1",
			Window: &metav1.Duration{Duration: time.Millisecond}, Interval: &metav1.Duration{Duration: time.Millisecond}}}
	}
	for _, tc := range []struct {
		name string
		gate droverv1.Gate
		want string
	}{
		{"an HTTP check answered 500", droverv1.Gate{HTTPCheck: ptrTo(httpGate(failing.URL + "/"))}, "(last: status 500, want 200)"},
		{"a Prometheus address that is not Prometheus", prom(notProm.URL), "the Prometheus address " + notProm.URL + " answered HTTP 200: the answer is not a Prometheus API response"},
		{"a Prometheus address answering 500", prom(failing.URL), "answered HTTP 500: the answer is not a Prometheus API response"},
		{"a Prometheus error", prom(promError.URL), `the query "up" was refused by Prometheus (HTTP 200, error type unknown)`},
		{"a value that is not a number", prom(badValue.URL), "a sample value is not a number"},
		{"a result of another type", prom(badType.URL), "returned a result of an unknown type"},
		{"a scalar that is not one", prom(badScalar.URL), "the answer's scalar is not a Prometheus scalar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := waitVerdict(t, &Runner{MaxErrors: 1}, Job{Owner: owner, Key: tc.name, Gate: tc.gate, Targets: []Target{{Prod: "p"}}, Policy: policy})
			if v.Passed || !strings.Contains(v.Message, tc.want) {
				t.Fatalf("verdict %q, want %q", v.Message, tc.want)
			}
			if strings.Contains(v.Message, "AKIA") || strings.Contains(v.Message, "secret") {
				t.Fatalf("the verdict holds the answer: %q", v.Message)
			}
		})
	}
}

func TestPrometheusGateNetworkRules(t *testing.T) {
	srv, n := countingServer(t, http.StatusOK)
	gate := droverv1.PrometheusGate{Query: "up", Comparison: "<", Threshold: "1"}
	ctx := context.Background()
	// A gate's own address is the tenant's: judged.
	gate.Address = srv.URL
	_, err := PrometheusQuerier{Policy: tenancy.Policy{Namespace: "team-a"}}.Evaluate(ctx, gate, Target{}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "refused: the defaults for namespace \"team-a\" (no Tenant) do not allow gate address 127.0.0.1") {
		t.Fatalf("a gate's address on loopback under the defaults: %v", err)
	}
	_, err = PrometheusQuerier{Policy: withTenant(droverv1.TenantSpec{GateNetworks: []string{"127.0.0.0/8"}, GateURLPrefixes: []string{"http://prometheus.monitoring:9090/"}})}.Evaluate(ctx, gate, Target{}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "spec.gateURLPrefixes") {
		t.Fatalf("a gate's address outside the Tenant's prefixes: %v", err)
	}
	if got := n.Load(); got != 0 {
		t.Fatalf("%d refused queries reached the server", got)
	}
	// The manager's own --prometheus-address is the platform team's: not judged.
	gate.Address = ""
	_, err = PrometheusQuerier{Address: srv.URL, Policy: tenancy.Policy{Namespace: "team-a"}}.Evaluate(ctx, gate, Target{}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "not a Prometheus API response") || n.Load() != 1 {
		t.Fatalf("the manager's address: %v, %d requests", err, n.Load())
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"http://a.example/x", "http://a.example/y?z", true},
		{"http://a.example/", "http://A.EXAMPLE:80/", true},
		{"https://a.example/", "https://a.example:443/", true},
		{"http://a.example/", "https://a.example/", false},
		{"http://a.example/", "http://a.example:8080/", false},
		{"http://a.example/", "http://b.example/", false},
		{"http://a.example/", "http://a.example.b.example/", false},
		{"http://[::1]:80/", "http://[::1]/", true},
		{"http://127.0.0.1/", "http://169.254.169.254/", false},
	} {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := sameOrigin(a, b); got != tc.same {
			t.Errorf("sameOrigin(%s, %s) = %t", tc.a, tc.b, got)
		}
	}
}

func TestReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&url.Error{Op: "Get", URL: "http://x/" + secret, Err: &net.OpError{Op: "dial", Err: &tenancy.Refusal{Message: "no"}}}, "refused: no"},
		{&url.Error{Op: "Get", URL: "http://x/", Err: errRedirectElsewhere}, errRedirectElsewhere.Error()},
		{&url.Error{Op: "Get", URL: "http://x/", Err: context.DeadlineExceeded}, "timeout"},
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: secret, Name: "x", IsNotFound: true}}, "host not found"},
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: secret, Name: "x"}}, "DNS lookup failed"},
		{&net.OpError{Op: "dial", Err: fmt.Errorf("connect: %w", syscall.ECONNREFUSED)}, "connection refused"},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), "connection closed by the server"},
		{errors.New(secret), "request failed"},
	} {
		if got := reason(tc.err); got != tc.want {
			t.Errorf("reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

var owner = types.NamespacedName{Namespace: "team-a", Name: "shop"}
