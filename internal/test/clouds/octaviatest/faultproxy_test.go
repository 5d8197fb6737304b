package octaviatest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// backend answers every request with 200 and "<method> <path> host=<Host>".
func backend(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" host="+r.Host)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func send(ctx context.Context, t *testing.T, method, url string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), nil
}

func TestFaultProxyForwardsWithTheProxysHost(t *testing.T) {
	p := NewFaultProxy(t, backend(t).URL)
	code, body, err := send(t.Context(), t, http.MethodGet, p.URL()+"v2.0/lbaas/loadbalancers/lb1")
	if err != nil || code != http.StatusOK {
		t.Fatalf("got %d %q %v, want 200", code, body, err)
	}
	// Octavia builds pagination links from the Host it was sent: they must name the
	// proxy, so that the next pages go through it too.
	want := "GET /v2.0/lbaas/loadbalancers/lb1 host=" + strings.TrimSuffix(strings.TrimPrefix(p.URL(), "http://"), "/")
	if body != want {
		t.Errorf("backend saw %q, want %q", body, want)
	}
	if got := p.Requests(); !slices.Equal(got, []string{"GET /v2.0/lbaas/loadbalancers/lb1"}) {
		t.Errorf("Requests() = %q", got)
	}
}

func TestFaultProxyStatusForNRequests(t *testing.T) {
	p := NewFaultProxy(t, backend(t).URL)
	f := Fault{Method: http.MethodGet, Path: "/pools/*/members", Kind: Status, Status: http.StatusConflict, Times: 2}
	p.Inject(f)
	members := p.URL() + "v2.0/lbaas/pools/p1/members"
	for i, want := range []int{409, 409, 200} {
		code, body, err := send(t.Context(), t, http.MethodGet, members)
		if err != nil || code != want {
			t.Fatalf("request %d: got %d %q %v, want %d", i+1, code, body, err, want)
		}
		if code == http.StatusConflict && !strings.Contains(body, `"faultcode": "Client"`) {
			t.Errorf("request %d: body %q is not Octavia's error format", i+1, body)
		}
	}
	if got := p.Hits(f); got != 2 {
		t.Errorf("Hits = %d, want 2", got)
	}
}

func TestFaultProxyMatchesMethodPathAndQuery(t *testing.T) {
	p := NewFaultProxy(t, backend(t).URL)
	p.Inject(Fault{Method: http.MethodGet, Path: "/pools/*/members", Query: "marker=", Kind: Status, Status: http.StatusInternalServerError})
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "v2.0/lbaas/pools/p1/members?limit=2&marker=m2", 500},
		{http.MethodGet, "v2/lbaas/pools/p2/members?marker=m9", 500},
		{http.MethodGet, "v2.0/lbaas/pools/p1/members?limit=2", 200},     // first page
		{http.MethodPut, "v2.0/lbaas/pools/p1/members?marker=x", 200},    // other method
		{http.MethodGet, "v2.0/lbaas/pools/p1?marker=x", 200},            // other path
		{http.MethodGet, "v2.0/lbaas/pools/p1/members/m1?marker=x", 200}, // one segment more
	} {
		code, _, err := send(t.Context(), t, tc.method, p.URL()+tc.path)
		if err != nil || code != tc.want {
			t.Errorf("%s %s: got %d %v, want %d", tc.method, tc.path, code, err, tc.want)
		}
	}
}

func TestFaultProxyUntilClearedAndEmptyMembers(t *testing.T) {
	p := NewFaultProxy(t, backend(t).URL)
	p.Inject(Fault{Path: "/pools/*/members", Kind: EmptyMembers})
	for range 3 {
		code, body, err := send(t.Context(), t, http.MethodGet, p.URL()+"v2.0/lbaas/pools/p1/members")
		if err != nil || code != http.StatusOK || body != `{"members": [], "members_links": []}` {
			t.Fatalf("got %d %q %v, want an empty member list", code, body, err)
		}
	}
	p.Clear()
	if _, body, _ := send(t.Context(), t, http.MethodGet, p.URL()+"v2.0/lbaas/pools/p1/members"); !strings.HasPrefix(body, "GET /v2.0/lbaas/pools/p1/members") {
		t.Errorf("after Clear got %q, want the backend's answer", body)
	}
}

func TestFaultProxyHang(t *testing.T) {
	p := NewFaultProxy(t, backend(t).URL)
	p.Inject(Fault{Path: "/loadbalancers/*", Kind: Hang})
	lb := p.URL() + "v2.0/lbaas/loadbalancers/lb1"

	// Until the client gives up.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if _, _, err := send(ctx, t, http.MethodGet, lb); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the client's deadline", err)
	}
	if d := time.Since(begin); d < 200*time.Millisecond {
		t.Errorf("returned after %s, before the client's deadline", d)
	}

	// Until cleared.
	done := make(chan int, 1)
	go func() {
		code, _, _ := send(t.Context(), t, http.MethodGet, lb)
		done <- code
	}()
	select {
	case code := <-done:
		t.Fatalf("a hung request returned %d before Clear", code)
	case <-time.After(200 * time.Millisecond):
	}
	p.Clear()
	select {
	case code := <-done:
		if code != http.StatusServiceUnavailable {
			t.Errorf("released request got %d, want 503", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Clear did not release the hung request")
	}
	if code, _, err := send(t.Context(), t, http.MethodGet, lb); err != nil || code != http.StatusOK {
		t.Errorf("after Clear got %d %v, want 200", code, err)
	}
}

func TestLbaasPath(t *testing.T) {
	for in, want := range map[string]string{
		"/v2.0/lbaas/pools/p/members":           "/pools/p/members",
		"/load-balancer/v2/lbaas/loadbalancers": "/loadbalancers",
		"/v2.0/":                                "/v2.0/",
	} {
		if got := lbaasPath(in); got != want {
			t.Errorf("lbaasPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStartFailsNamingTheInstaller(t *testing.T) {
	missing := installation{
		Python: "/nonexistent/python3", API: "/nonexistent/octavia-api", Worker: "/nonexistent/octavia-worker",
		RabbitMQServer: "/nonexistent/rabbitmq-server", Epmd: "/nonexistent/epmd", OctaviaPkg: "/nonexistent/octavia",
	}
	s, err := start(t.TempDir(), Options{}, missing)
	if s != nil || err == nil {
		t.Fatalf("start without Octavia = %v, %v; want an error", s, err)
	}
	for _, want := range []string{"hack/ensure-octavia.sh", "/nonexistent/octavia-api", "octavia-worker", "rabbitmq-server"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestOctaviaConf(t *testing.T) {
	conf := string(octaviaConf("/d", 5672, 9876, Options{PaginationMaxLimit: 2}))
	for _, want := range []string{
		"transport_url = rabbit://guest:guest@127.0.0.1:5672/",
		"bind_host = 127.0.0.1\nbind_port = 9876\nauth_strategy = noauth",
		"pagination_max_limit = 2",
		"connection = sqlite:////d/octavia.db?timeout=60",
		"amphora_driver = amphora_noop_driver",
		"jobboard_enabled = False",
		"ca_private_key = /d/ca.key\nca_private_key_passphrase = " + caPassphrase,
		"oslo.messaging._drivers.impl_rabbit=DEBUG",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("octavia.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(string(octaviaConf("/d", 1, 2, Options{})), "pagination_max_limit") {
		t.Error("pagination_max_limit set without being asked")
	}
}
