package octavia_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/cloud/octavia"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
)

// The tests share one Octavia (it takes several seconds to start). Its lists hold at
// most 2 objects per page, so that every list of a few objects is paginated.
func TestMain(m *testing.M) {
	os.Exit(octaviatest.Main(m, octaviatest.Options{PaginationMaxLimit: 2}))
}

var readAt = time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)

// client is a noauth client of endpoint (the server's, or a proxy's).
func client(t *testing.T, srv *octaviatest.Server, endpoint string) *octavia.Gophercloud {
	t.Helper()
	c, err := octavia.New(t.Context(), octavia.Options{
		Endpoint: endpoint, ProjectID: srv.ProjectID(), RateLimit: -1, Timeout: 10 * time.Second,
		Now: func() time.Time { return readAt },
	})
	if err != nil {
		t.Fatalf("octavia.New: %v", err)
	}
	return c
}

// web is the load balancer most tests read and none changes: a TCP listener whose
// pool has three members (more than a page) and no monitor, and an HTTP listener whose
// pool has two members and an HTTP monitor.
var web struct {
	once sync.Once
	lb   *octaviatest.LoadBalancer
	err  string
}

var webSpec = octaviatest.LoadBalancerSpec{
	Name:       "web",
	VIPAddress: "192.0.2.10",
	Listeners: []octaviatest.ListenerSpec{
		{Name: "https-passthrough", Protocol: "TCP", Port: 443, Pool: &octaviatest.PoolSpec{
			Name: "tcp", Algorithm: "SOURCE_IP",
			Members: []octaviatest.MemberSpec{
				{Name: "c", Address: "10.0.0.10", Port: 8443, Weight: ptr(5)},
				{Name: "a", Address: "10.0.0.2", Port: 8443},
				{Name: "b", Address: "10.0.0.3", Port: 8443, Backup: true},
			},
		}},
		{Name: "http", Protocol: "HTTP", Port: 80, Pool: &octaviatest.PoolSpec{
			Name: "http", Algorithm: "LEAST_CONNECTIONS",
			Members: []octaviatest.MemberSpec{
				{Name: "d", Address: "10.0.1.2", Port: 8080, AdminStateUp: ptr(false)},
				{Name: "e", Address: "10.0.1.1", Port: 8080},
			},
			Monitor: &octaviatest.MonitorSpec{
				Type: "HTTP", Delay: 7, Timeout: 4, MaxRetries: 2, MaxRetriesDown: 5,
				HTTPMethod: "HEAD", URLPath: "/healthz", ExpectedCodes: "200-204",
			},
		}},
	},
}

func webLB(t *testing.T, srv *octaviatest.Server) *octaviatest.LoadBalancer {
	t.Helper()
	web.once.Do(func() {
		// Created by whichever test comes first; a failure fails each test that needs it.
		ok := false
		defer func() {
			if !ok && web.err == "" {
				web.err = "creating the load balancer failed in an earlier test"
			}
		}()
		web.lb = srv.CreateLoadBalancer(t, webSpec)
		ok = true
	})
	if web.lb == nil {
		t.Fatal(web.err)
	}
	return web.lb
}

func ptr[T any](v T) *T { return &v }

func TestSnapshotIsWhatWasCreated(t *testing.T) {
	srv := octaviatest.Shared(t)
	lb := webLB(t, srv)
	tcpL, httpL := lb.Listeners[0], lb.Listeners[1]
	// The no-op drivers report no health: statuses are what a health manager would write.
	srv.SetOperatingStatus(t, octaviatest.LoadBalancerObject, lb.ID, "DEGRADED")
	srv.SetOperatingStatus(t, octaviatest.PoolObject, httpL.PoolID, "DEGRADED")
	srv.SetOperatingStatus(t, octaviatest.MemberObject, httpL.MemberIDs[1], "ONLINE")
	srv.SetOperatingStatus(t, octaviatest.MemberObject, httpL.MemberIDs[0], "ERROR")

	proxy := octaviatest.NewFaultProxy(t, srv.Endpoint())
	got, err := client(t, srv, proxy.URL()).Snapshot(t.Context(), lb.ID)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}

	wantPools := []octavia.Pool{
		{ID: tcpL.PoolID, Name: "tcp", Protocol: "TCP", LBAlgorithm: "SOURCE_IP", AdminStateUp: true, OperatingStatus: "OFFLINE",
			Members: []octavia.Member{ // by address, numerically
				{ID: tcpL.MemberIDs[1], Name: "a", Address: "10.0.0.2", Port: 8443, Weight: 1, AdminStateUp: true, OperatingStatus: "NO_MONITOR"},
				{ID: tcpL.MemberIDs[2], Name: "b", Address: "10.0.0.3", Port: 8443, Weight: 1, Backup: true, AdminStateUp: true, OperatingStatus: "NO_MONITOR"},
				{ID: tcpL.MemberIDs[0], Name: "c", Address: "10.0.0.10", Port: 8443, Weight: 5, AdminStateUp: true, OperatingStatus: "NO_MONITOR"},
			}},
		{ID: httpL.PoolID, Name: "http", Protocol: "HTTP", LBAlgorithm: "LEAST_CONNECTIONS", AdminStateUp: true, OperatingStatus: "DEGRADED",
			Members: []octavia.Member{
				{ID: httpL.MemberIDs[1], Name: "e", Address: "10.0.1.1", Port: 8080, Weight: 1, AdminStateUp: true, OperatingStatus: "ONLINE"},
				{ID: httpL.MemberIDs[0], Name: "d", Address: "10.0.1.2", Port: 8080, Weight: 1, AdminStateUp: false, OperatingStatus: "ERROR"},
			},
			Monitor: &octavia.Monitor{
				ID: httpL.MonitorID, Type: "HTTP", Delay: 7, Timeout: 4, MaxRetries: 2, MaxRetriesDown: 5,
				HTTPMethod: "HEAD", URLPath: "/healthz", ExpectedCodes: "200-204", AdminStateUp: true,
			}},
	}
	if wantPools[0].ID > wantPools[1].ID {
		wantPools[0], wantPools[1] = wantPools[1], wantPools[0]
	}
	want := &octavia.Snapshot{
		LoadBalancer: octavia.LoadBalancer{
			ID: lb.ID, Name: "web", VIP: lb.VIP, ProjectID: srv.ProjectID(), ProvisioningStatus: "ACTIVE", OperatingStatus: "DEGRADED", AdminStateUp: true,
		},
		Listeners: []octavia.Listener{ // by protocol, then port
			{ID: httpL.ID, Name: "http", Protocol: "HTTP", Port: 80, DefaultPoolID: httpL.PoolID, AdminStateUp: true},
			{ID: tcpL.ID, Name: "https-passthrough", Protocol: "TCP", Port: 443, DefaultPoolID: tcpL.PoolID, AdminStateUp: true},
		},
		Pools:  wantPools,
		ReadAt: readAt,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshot differs from what was created (-want +got):\n%s", diff)
	}
	if lb.VIP != "192.0.2.10" {
		t.Errorf("the load balancer's VIP is %q, want the one asked for", lb.VIP)
	}

	// Three members, two per page: the member list of the tcp pool took two pages.
	pages := 0
	for _, r := range proxy.Requests() {
		if r == "GET /v2.0/lbaas/pools/"+tcpL.PoolID+"/members" {
			pages++
		}
	}
	if pages < 2 {
		t.Errorf("the tcp pool's members were read in %d requests, want a paginated read:\n%s", pages, strings.Join(proxy.Requests(), "\n"))
	}
}

func TestSnapshotNotFound(t *testing.T) {
	t.Parallel() // with TestSnapshotFollowsMemberChanges: both wait for the worker
	srv := octaviatest.Shared(t)
	c := client(t, srv, srv.Endpoint())
	notFound := cloudmetrics.Calls.WithLabelValues(cloudmetrics.Octavia, "GetLoadBalancer", cloudmetrics.NotFound)

	t.Run("never existed", func(t *testing.T) {
		before := octavia.CounterValue(notFound)
		snap, err := c.Snapshot(t.Context(), "5d2d6d8e-0000-4000-8000-000000000000")
		if !errors.Is(err, cloudmetrics.ErrNotFound) || snap != nil {
			t.Fatalf("Snapshot = %v, %v; want ErrNotFound and no snapshot", snap, err)
		}
		if got := octavia.CounterValue(notFound) - before; got != 1 {
			t.Errorf("counted %v not_found GetLoadBalancer calls, want 1", got)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		lb := srv.CreateLoadBalancer(t, octaviatest.LoadBalancerSpec{Name: "gone", Listeners: []octaviatest.ListenerSpec{
			{Protocol: "TCP", Port: 22, Pool: &octaviatest.PoolSpec{Members: []octaviatest.MemberSpec{{Address: "10.9.0.1", Port: 22}}}},
		}})
		if _, err := c.Snapshot(t.Context(), lb.ID); err != nil {
			t.Fatalf("Snapshot before deleting: %v", err)
		}
		srv.DeleteLoadBalancer(t, lb.ID)
		snap, err := c.Snapshot(t.Context(), lb.ID)
		if !errors.Is(err, cloudmetrics.ErrNotFound) || snap != nil {
			t.Fatalf("Snapshot of a deleted load balancer = %v, %v; want ErrNotFound and no snapshot", snap, err)
		}
	})
}

// An id that is not an Octavia UUID never reaches a URL: "/", ".." and "?" would read
// another path of the API.
func TestSnapshotRefusesIDsThatAreNotUUIDs(t *testing.T) {
	srv := octaviatest.Shared(t)
	proxy := octaviatest.NewFaultProxy(t, srv.Endpoint())
	c := client(t, srv, proxy.URL())
	for _, id := range []string{
		"", "../../v2/lbaas/amphorae", "5d2d6d8e-0000-4000-8000-000000000000/../x",
		"5d2d6d8e-0000-4000-8000-000000000000?fields=id", "5D2D6D8E-0000-4000-8000-000000000000", "lb-1",
	} {
		snap, err := c.Snapshot(t.Context(), id)
		if err == nil || snap != nil || errors.Is(err, cloudmetrics.ErrNotFound) {
			t.Errorf("Snapshot(%q) = %v, %v; want an error that is not ErrNotFound", id, snap, err)
		}
	}
	if reqs := proxy.Requests(); len(reqs) != 0 {
		t.Errorf("requests sent for ids that are not UUIDs:\n%s", strings.Join(reqs, "\n"))
	}
}

func TestValidateID(t *testing.T) {
	for id, ok := range map[string]bool{
		"5d2d6d8e-0000-4000-8000-000000000000": true, "0b3c5a0e-7f4e-4b7a-9d59-1f0b2d6a1c11": true,
		"": false, "5d2d6d8e-0000-4000-8000-00000000000": false, "5d2d6d8e-0000-4000-8000-0000000000000": false,
		"5D2D6D8E-0000-4000-8000-000000000000": false, "5d2d6d8e00000400080000000000000000000": false,
		"5d2d6d8e-0000-4000-8000-00000000000/": false, "5d2d6d8e-0000-4000-8000-000000000000\n": false,
		"../5d2d6d8e-0000-4000-8000-000000000000": false,
	} {
		if err := octavia.ValidateID(id); (err == nil) != ok {
			t.Errorf("ValidateID(%q) = %v, want ok %v", id, err, ok)
		}
	}
}

// A failed read of any part gives an error and no snapshot: the NLB mirror must change
// nothing in AWS when Octavia could not be read.
func TestSnapshotFailsWhenAnyReadFails(t *testing.T) {
	srv := octaviatest.Shared(t)
	lb := webLB(t, srv)
	for _, tc := range []struct {
		name  string
		fault octaviatest.Fault
	}{
		{"load balancer 500", octaviatest.Fault{Method: "GET", Path: "/loadbalancers/*", Kind: octaviatest.Status, Status: 500}},
		{"load balancer 409", octaviatest.Fault{Method: "GET", Path: "/loadbalancers/*", Kind: octaviatest.Status, Status: 409}},
		{"listeners 500", octaviatest.Fault{Method: "GET", Path: "/listeners", Kind: octaviatest.Status, Status: 500}},
		{"listeners' second page 500", octaviatest.Fault{Method: "GET", Path: "/listeners", Query: "marker=", Kind: octaviatest.Status, Status: 500}},
		{"pools 503", octaviatest.Fault{Method: "GET", Path: "/pools", Kind: octaviatest.Status, Status: 503}},
		{"members 500", octaviatest.Fault{Method: "GET", Path: "/pools/*/members", Kind: octaviatest.Status, Status: 500}},
		{"members of one pool 500", octaviatest.Fault{Method: "GET", Path: "/pools/*/members", Kind: octaviatest.Status, Status: 500, Times: 1}},
		{"members' second page 500", octaviatest.Fault{Method: "GET", Path: "/pools/*/members", Query: "marker=", Kind: octaviatest.Status, Status: 500}},
		{"members 429", octaviatest.Fault{Method: "GET", Path: "/pools/*/members", Kind: octaviatest.Status, Status: 429}},
		{"monitor 404", octaviatest.Fault{Method: "GET", Path: "/healthmonitors/*", Kind: octaviatest.Status, Status: 404}},
		{"monitor 500", octaviatest.Fault{Method: "GET", Path: "/healthmonitors/*", Kind: octaviatest.Status, Status: 500}},
		{"members hang", octaviatest.Fault{Method: "GET", Path: "/pools/*/members", Kind: octaviatest.Hang}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := octaviatest.NewFaultProxy(t, srv.Endpoint())
			proxy.Inject(tc.fault)
			c, err := octavia.New(t.Context(), octavia.Options{
				// A timeout that a loaded machine's single-threaded Octavia API stays well
				// within; the hang case waits it out.
				Endpoint: proxy.URL(), ProjectID: srv.ProjectID(), RateLimit: -1, Timeout: 10 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			snap, err := c.Snapshot(t.Context(), lb.ID)
			if err == nil || snap != nil {
				t.Fatalf("Snapshot = %+v, %v; want an error and no snapshot", snap, err)
			}
			if errors.Is(err, cloudmetrics.ErrNotFound) {
				t.Errorf("error %v says the load balancer is not found", err)
			}
			if proxy.Hits(tc.fault) == 0 {
				t.Errorf("the fault was never hit: the snapshot does not read %s", tc.fault.Path)
			}
			t.Logf("error: %v", err)
		})
	}
}

// A wrong empty member list reads like a real one: the client cannot tell, and
// returns it. The NLB mirror's guard against removing too many targets handles it.
func TestSnapshotWithAnEmptyMemberListFromTheProxy(t *testing.T) {
	srv := octaviatest.Shared(t)
	lb := webLB(t, srv)
	proxy := octaviatest.NewFaultProxy(t, srv.Endpoint())
	f := octaviatest.Fault{Method: "GET", Path: "/pools/*/members", Kind: octaviatest.EmptyMembers}
	proxy.Inject(f)
	snap, err := client(t, srv, proxy.URL()).Snapshot(t.Context(), lb.ID)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	for _, p := range snap.Pools {
		if len(p.Members) != 0 {
			t.Errorf("pool %s has %d members through a proxy answering none", p.Name, len(p.Members))
		}
	}
	if got := proxy.Hits(f); got != 2 {
		t.Errorf("the fault was hit %d times, want once per pool (2)", got)
	}
}

// Every HTTP call is counted once, by operation and outcome.
func TestSnapshotCountsEveryCall(t *testing.T) {
	srv := octaviatest.Shared(t)
	lb := webLB(t, srv)
	proxy := octaviatest.NewFaultProxy(t, srv.Endpoint())
	c := client(t, srv, proxy.URL())

	count := func(op, outcome string) float64 {
		return octavia.CounterValue(cloudmetrics.Calls.WithLabelValues(cloudmetrics.Octavia, op, outcome))
	}
	ops := map[string]string{ // request path pattern → operation
		"GET /v2.0/lbaas/loadbalancers/*":  "GetLoadBalancer",
		"GET /v2.0/lbaas/listeners":        "ListListeners",
		"GET /v2.0/lbaas/pools":            "ListPools",
		"GET /v2.0/lbaas/pools/*/members":  "ListMembers",
		"GET /v2.0/lbaas/healthmonitors/*": "GetHealthMonitor",
	}
	opOf := func(req string) string {
		for pattern, op := range ops {
			if ok, _ := filepath.Match(pattern, req); ok {
				return op
			}
		}
		t.Fatalf("unexpected request %q", req)
		return ""
	}
	before := map[string]float64{}
	for _, op := range ops {
		before[op] = count(op, cloudmetrics.Success)
	}
	if _, err := c.Snapshot(t.Context(), lb.ID); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	sent := map[string]float64{}
	for _, r := range proxy.Requests() {
		sent[opOf(r)]++
	}
	for _, op := range ops {
		if got := count(op, cloudmetrics.Success) - before[op]; got != sent[op] || got == 0 {
			t.Errorf("%s: counted %v successful calls, the proxy saw %v", op, got, sent[op])
		}
	}
	if sent["ListMembers"] < 3 {
		t.Errorf("the members of 2 pools (3 and 2 members, 2 per page) were read in %v calls", sent["ListMembers"])
	}

	// Failures by outcome: 429 throttled, 500 error. A new client each time: c would
	// read nothing but the load balancer and its pools again (nothing changed).
	for status, outcome := range map[int]string{429: cloudmetrics.Throttled, 500: cloudmetrics.Error} {
		proxy.Clear()
		proxy.Inject(octaviatest.Fault{Method: "GET", Path: "/listeners", Kind: octaviatest.Status, Status: status, Times: 1})
		b := count("ListListeners", outcome)
		if _, err := client(t, srv, proxy.URL()).Snapshot(t.Context(), lb.ID); err == nil {
			t.Fatalf("Snapshot with a %d on the listeners succeeded", status)
		}
		if got := count("ListListeners", outcome) - b; got != 1 {
			t.Errorf("a %d counted %v %s calls, want 1", status, got, outcome)
		}
	}
}

// A member change made through the helpers (the batch PUT, one added, one removed) is
// in the next snapshot.
func TestSnapshotFollowsMemberChanges(t *testing.T) {
	t.Parallel()
	srv := octaviatest.Shared(t)
	c := client(t, srv, srv.Endpoint())
	lb := srv.CreateLoadBalancer(t, octaviatest.LoadBalancerSpec{Name: "changing", Listeners: []octaviatest.ListenerSpec{
		{Protocol: "TCP", Port: 5432, Pool: &octaviatest.PoolSpec{Members: []octaviatest.MemberSpec{
			{Address: "10.2.0.1", Port: 5432}, {Address: "10.2.0.2", Port: 5432},
		}}},
	}})
	pool := lb.Listeners[0].PoolID
	members := func() []string {
		t.Helper()
		snap, err := c.Snapshot(t.Context(), lb.ID)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		if snap.LoadBalancer.ProvisioningStatus != "ACTIVE" {
			t.Errorf("provisioning status %s after the helper waited", snap.LoadBalancer.ProvisioningStatus)
		}
		var out []string
		for _, m := range snap.Pools[0].Members {
			out = append(out, fmt.Sprintf("%s:%d w%d %s", m.Address, m.Port, m.Weight, m.OperatingStatus))
		}
		return out
	}
	check := func(step string, want ...string) {
		t.Helper()
		if diff := cmp.Diff(want, members()); diff != "" {
			t.Errorf("after %s (-want +got):\n%s", step, diff)
		}
	}
	check("creating", "10.2.0.1:5432 w1 NO_MONITOR", "10.2.0.2:5432 w1 NO_MONITOR")

	// The batch update keeps 10.2.0.2 (now weight 3), removes 10.2.0.1, adds two.
	ids := srv.SetMembers(t, pool, []octaviatest.MemberSpec{
		{Address: "10.2.0.2", Port: 5432, Weight: ptr(3)}, {Address: "10.2.0.3", Port: 5432}, {Address: "10.2.0.4", Port: 5432},
	})
	if ids[0] != lb.Listeners[0].MemberIDs[1] {
		t.Errorf("the batch update replaced member 10.2.0.2 (id %s → %s) instead of updating it", lb.Listeners[0].MemberIDs[1], ids[0])
	}
	check("the batch update", "10.2.0.2:5432 w3 NO_MONITOR", "10.2.0.3:5432 w1 NO_MONITOR", "10.2.0.4:5432 w1 NO_MONITOR")

	added := srv.AddMember(t, pool, octaviatest.MemberSpec{Address: "10.2.0.10", Port: 5432, Weight: ptr(2)})
	srv.RemoveMember(t, pool, ids[1])
	srv.SetOperatingStatus(t, octaviatest.MemberObject, added, "ONLINE")
	check("adding and removing one", "10.2.0.2:5432 w3 NO_MONITOR", "10.2.0.4:5432 w1 NO_MONITOR", "10.2.0.10:5432 w2 ONLINE")

	// With the worker paused, Octavia accepts a change and the load balancer stays
	// PENDING_UPDATE: the snapshot is the load balancer alone (nothing under it is
	// read while it changes; the mirror waits for ACTIVE).
	resume := srv.PauseWorker(t)
	sc := srv.ServiceClient(t)
	if _, err := pools.CreateMember(t.Context(), sc, pool, pools.CreateMemberOpts{Address: "10.2.0.20", ProtocolPort: 5432}).Extract(); err != nil {
		t.Fatalf("adding a member: %v", err)
	}
	snap, err := c.Snapshot(t.Context(), lb.ID)
	if err != nil {
		t.Fatalf("Snapshot while pending: %v", err)
	}
	if snap.LoadBalancer.ProvisioningStatus != "PENDING_UPDATE" || len(snap.Pools) != 0 || len(snap.Listeners) != 0 || c.LastRead(lb.ID) != "load balancer only" {
		t.Errorf("Snapshot while pending: %s with %d pools and %d listeners (read: %s), want PENDING_UPDATE alone",
			snap.LoadBalancer.ProvisioningStatus, len(snap.Pools), len(snap.Listeners), c.LastRead(lb.ID))
	}
	// Meanwhile Octavia refuses other changes with 409, which FaultProxy's Status 409
	// imitates.
	_, err = pools.CreateMember(t.Context(), sc, pool, pools.CreateMemberOpts{Address: "10.2.0.21", ProtocolPort: 5432}).Extract()
	if !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		t.Errorf("a change while pending: got %v, want 409", err)
	}
	resume()
	srv.WaitActive(t, lb.ID)
	check("the worker resumed", "10.2.0.2:5432 w3 NO_MONITOR", "10.2.0.4:5432 w1 NO_MONITOR", "10.2.0.10:5432 w2 ONLINE", "10.2.0.20:5432 w1 NO_MONITOR")
}

// Configured by clouds.yaml, the client authenticates with Keystone, finds Octavia in
// the catalog and sends the token. Keystone here is a stand-in speaking its v3 token
// API; in front of the real (noauth) Octavia, a stand-in for keystonemiddleware checks
// the token and turns it into the project and role headers.
func TestCloudsYAML(t *testing.T) {
	srv := octaviatest.Shared(t)
	lb := webLB(t, srv)
	const token = "gAAAAABtoken"
	project := srv.ProjectID()

	target, err := url.Parse(srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	var tokensSeen sync.Map
	lbAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokensSeen.Store(r.Header.Get("X-Auth-Token"), true)
		if r.Header.Get("X-Auth-Token") != token {
			http.Error(w, `{"faultstring": "Authentication required"}`, http.StatusUnauthorized)
			return
		}
		r.Header.Set("X-Project-Id", project)
		r.Header.Set("X-Roles", "load-balancer_member")
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(lbAPI.Close)

	var authUser string // name:password of the last authentication
	var authMu sync.Mutex
	keystone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v3/auth/tokens" {
			http.NotFound(w, r)
			return
		}
		var body struct {
			Auth struct {
				Identity struct {
					Password struct {
						User struct {
							Name     string `json:"name"`
							Password string `json:"password"`
						} `json:"user"`
					} `json:"password"`
				} `json:"identity"`
			} `json:"auth"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		user := body.Auth.Identity.Password.User
		authMu.Lock()
		authUser = user.Name + ":" + user.Password
		authMu.Unlock()
		if user.Name != "drover" || user.Password != "s3cret" {
			http.Error(w, `{"error": {"code": 401, "title": "Unauthorized"}}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Subject-Token", token)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"token": {
			"expires_at": %q, "issued_at": %q, "methods": ["password"],
			"project": {"id": %q, "name": "drover", "domain": {"id": "default", "name": "Default"}},
			"user": {"id": "u1", "name": "drover", "domain": {"id": "default", "name": "Default"}},
			"roles": [{"id": "r1", "name": "load-balancer_member"}],
			"catalog": [
				{"type": "identity", "name": "keystone", "id": "k", "endpoints": [
					{"id": "k1", "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": %q}]},
				{"type": "load-balancer", "name": "octavia", "id": "o", "endpoints": [
					{"id": "o1", "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": %q},
					{"id": "o2", "interface": "public", "region": "RegionTwo", "region_id": "RegionTwo", "url": "http://127.0.0.1:1/"}]}
			]}}`,
			time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000000Z"),
			time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"),
			project, "http://"+r.Host+"/v3", lbAPI.URL+"/")
	}))
	t.Cleanup(keystone.Close)

	dir := t.TempDir()
	clouds := filepath.Join(dir, "clouds.yaml")
	if err := os.WriteFile(clouds, []byte(fmt.Sprintf(`clouds:
  private:
    auth:
      auth_url: %s/v3
      username: drover
      project_name: drover
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
`, keystone.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The password is in secure.yaml beside it, as the OpenStack clients allow.
	if err := os.WriteFile(filepath.Join(dir, "secure.yaml"), []byte("clouds:\n  private:\n    auth:\n      password: s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	want, err := client(t, srv, srv.Endpoint()).Snapshot(t.Context(), lb.ID)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, opts octavia.Options) {
		t.Helper()
		opts.Now = func() time.Time { return readAt }
		c, err := octavia.New(t.Context(), opts)
		if err != nil {
			t.Fatalf("octavia.New: %v", err)
		}
		got, err := c.Snapshot(t.Context(), lb.ID)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Snapshot through Keystone differs (-noauth +keystone):\n%s", diff)
		}
		authMu.Lock()
		defer authMu.Unlock()
		if authUser != "drover:s3cret" {
			t.Errorf("Keystone was sent %q, want the user of clouds.yaml and the password of secure.yaml", authUser)
		}
	}
	t.Run("cloud named in the options", func(t *testing.T) {
		check(t, octavia.Options{Cloud: "private", CloudsFile: clouds})
	})
	t.Run("OS_CLOUD and OS_CLIENT_CONFIG_FILE", func(t *testing.T) {
		t.Setenv("OS_CLOUD", "private")
		t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
		check(t, octavia.Options{})
	})
	if _, ok := tokensSeen.Load(token); !ok {
		t.Error("Octavia never saw Keystone's token")
	}
	if _, ok := tokensSeen.Load(""); ok {
		t.Error("a request reached Octavia without a token")
	}

	t.Run("wrong password", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "clouds.yaml")
		if err := os.WriteFile(bad, []byte("clouds:\n  private:\n    auth:\n      auth_url: "+keystone.URL+"/v3\n"+
			"      username: drover\n      password: wrong\n      project_name: drover\n      user_domain_name: Default\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if c, err := octavia.New(t.Context(), octavia.Options{Cloud: "private", CloudsFile: bad}); err == nil {
			t.Errorf("New with a Keystone refusing the credentials = %v, want an error", c)
		}
	})
}

// A page of members that times out is asked again smaller, and the snapshot completes:
// on Octavia 11 a page's work is its size times the pool's, so a loaded Octavia answers a
// smaller one. (A page that keeps timing out fails the snapshot: "members hang" above.)
func TestSnapshotAsksAgainForASmallerPageAfterATimeout(t *testing.T) {
	srv := octaviatest.Shared(t)
	lb := webLB(t, srv)
	proxy := octaviatest.NewFaultProxy(t, srv.Endpoint())
	hang := octaviatest.Fault{Method: "GET", Path: "/pools/*/members", Kind: octaviatest.Hang, Times: 1}
	proxy.Inject(hang)
	c, err := octavia.New(t.Context(), octavia.Options{
		Endpoint: proxy.URL(), ProjectID: srv.ProjectID(), RateLimit: -1, Timeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.Snapshot(t.Context(), lb.ID)
	if err != nil {
		t.Fatalf("Snapshot after one page timed out: %v", err)
	}
	if proxy.Hits(hang) != 1 {
		t.Errorf("the hang was hit %d times, want 1", proxy.Hits(hang))
	}
	n := 0
	for _, p := range snap.Pools {
		n += len(p.Members)
	}
	if n != 5 {
		t.Errorf("the snapshot has %d members, want the 5 of the web load balancer", n)
	}
}
