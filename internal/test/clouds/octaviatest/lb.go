package octaviatest

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/monitors"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"

	"github.com/drover-dev/drover/internal/test/proc"
)

// activeTimeout bounds WaitActive. The no-op worker takes about a second per change;
// a loaded CI machine several.
const activeTimeout = 60 * time.Second

// VIPSubnetID is the subnet the helpers' load balancers are created on; the no-op
// network driver accepts any id.
const VIPSubnetID = "00000000-0000-0000-0000-0000000000cc"

// NoAuthClient returns a gophercloud client of the Octavia v2 API at endpoint without
// Keystone: every request carries X-Project-Id: projectID and X-Roles: Roles, which
// an Octavia with auth_strategy=noauth takes instead of a token.
func NoAuthClient(endpoint, projectID string) (*gophercloud.ServiceClient, error) {
	if !strings.HasSuffix(endpoint, "/") {
		endpoint += "/"
	}
	pc, err := openstack.NewClient(endpoint)
	if err != nil {
		return nil, err
	}
	pc.HTTPClient = http.Client{Timeout: 30 * time.Second, Transport: retryLocked{next: http.DefaultTransport}}
	return &gophercloud.ServiceClient{
		ProviderClient: pc,
		Endpoint:       endpoint,
		ResourceBase:   endpoint + "v2.0/",
		Type:           "load-balancer",
		MoreHeaders:    map[string]string{"X-Project-Id": projectID, "X-Roles": Roles},
	}, nil
}

// ServiceClient is a gophercloud client of the Server (straight, not through a
// FaultProxy) in its project: the one the helpers use.
func (s *Server) ServiceClient(t testing.TB) *gophercloud.ServiceClient {
	t.Helper()
	c, err := NoAuthClient(s.endpoint, s.opts.ProjectID)
	if err != nil {
		t.Fatalf("octaviatest: %v", err)
	}
	return c
}

// LoadBalancerSpec describes a load balancer for CreateLoadBalancer.
type LoadBalancerSpec struct {
	Name string
	// VIPAddress is the VIP the no-op network driver gives the load balancer; without
	// one it gives every load balancer 198.51.100.1.
	VIPAddress string
	// ProjectID is the OpenStack project of the load balancer; empty: the Server's.
	// (The helpers send admin roles, with which Octavia creates in any project.)
	ProjectID string
	Listeners []ListenerSpec
}

// ListenerSpec describes a listener and its default pool.
type ListenerSpec struct {
	Name     string
	Protocol string // TCP, UDP, SCTP, HTTP, HTTPS, TERMINATED_HTTPS
	Port     int
	// Pool is the listener's default pool; nil for none.
	Pool *PoolSpec
}

// PoolSpec describes a pool with its members and health monitor.
type PoolSpec struct {
	Name string
	// Protocol defaults to the listener's.
	Protocol string
	// Algorithm defaults to ROUND_ROBIN.
	Algorithm string
	Members   []MemberSpec
	// Monitor is the pool's health monitor; nil for none.
	Monitor *MonitorSpec
}

// MemberSpec describes a pool member.
type MemberSpec struct {
	Name    string
	Address string
	Port    int
	// Weight defaults to Octavia's (1).
	Weight       *int
	Backup       bool
	AdminStateUp *bool
}

// MonitorSpec describes a health monitor.
type MonitorSpec struct {
	Name           string
	Type           string // HTTP, HTTPS, PING, TCP, TLS-HELLO, UDP-CONNECT, SCTP
	Delay          int    // defaults to 5
	Timeout        int    // defaults to 3
	MaxRetries     int    // defaults to 3
	MaxRetriesDown int    // defaults to Octavia's (3)
	HTTPMethod     string
	URLPath        string
	ExpectedCodes  string
}

// LoadBalancer holds the ids CreateLoadBalancer got.
type LoadBalancer struct {
	ID        string
	VIP       string
	Listeners []Listener // in the spec's order
}

// Listener holds the ids of a created listener and what is under it.
type Listener struct {
	ID        string
	PoolID    string   // "" without a pool
	MemberIDs []string // in the spec's order
	MonitorID string   // "" without a monitor
}

// CreateLoadBalancer creates the load balancer, then each listener, its pool, the
// pool's members (one batch PUT) and its monitor, waiting for the load balancer to be
// ACTIVE after each step, as a client of a real Octavia must (a load balancer in a
// PENDING_* state refuses changes with 409). Objects are created one by one rather
// than in one call because, on this SQLite-backed server, the single-call creation
// leaves the listeners, pools and members PENDING_CREATE.
func (s *Server) CreateLoadBalancer(t testing.TB, spec LoadBalancerSpec) *LoadBalancer {
	t.Helper()
	c := s.ServiceClient(t)
	ctx := t.Context()
	if spec.Name == "" {
		spec.Name = "octaviatest"
	}
	lb, err := loadbalancers.Create(ctx, c, loadbalancers.CreateOpts{
		Name: spec.Name, VipSubnetID: VIPSubnetID, VipAddress: spec.VIPAddress, ProjectID: spec.ProjectID,
	}).Extract()
	if err != nil {
		t.Fatalf("octaviatest: creating load balancer %q: %v", spec.Name, err)
	}
	s.WaitActive(t, lb.ID)
	out := &LoadBalancer{ID: lb.ID, VIP: lb.VipAddress}
	for _, ls := range spec.Listeners {
		l, err := listeners.Create(ctx, c, listeners.CreateOpts{
			LoadbalancerID: lb.ID, Name: ls.Name, Protocol: listeners.Protocol(ls.Protocol), ProtocolPort: ls.Port,
		}).Extract()
		if err != nil {
			t.Fatalf("octaviatest: creating listener %s:%d of %s: %v", ls.Protocol, ls.Port, lb.ID, err)
		}
		s.WaitActive(t, lb.ID)
		created := Listener{ID: l.ID}
		if ps := ls.Pool; ps != nil {
			proto, algo := ps.Protocol, ps.Algorithm
			if proto == "" {
				proto = ls.Protocol
			}
			if algo == "" {
				algo = "ROUND_ROBIN"
			}
			p, err := pools.Create(ctx, c, pools.CreateOpts{
				ListenerID: l.ID, Name: ps.Name, Protocol: pools.Protocol(proto), LBMethod: pools.LBMethod(algo),
			}).Extract()
			if err != nil {
				t.Fatalf("octaviatest: creating pool of listener %s: %v", l.ID, err)
			}
			s.WaitActive(t, lb.ID)
			created.PoolID = p.ID
			if len(ps.Members) > 0 {
				created.MemberIDs = s.SetMembers(t, p.ID, ps.Members)
			}
			if m := ps.Monitor; m != nil {
				created.MonitorID = s.CreateMonitor(t, p.ID, *m)
			}
		}
		out.Listeners = append(out.Listeners, created)
	}
	return out
}

// CreateMonitor creates the pool's health monitor and waits for its load balancer.
func (s *Server) CreateMonitor(t testing.TB, poolID string, m MonitorSpec) string {
	t.Helper()
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	mon, err := monitors.Create(t.Context(), s.ServiceClient(t), monitors.CreateOpts{
		PoolID: poolID, Name: m.Name, Type: m.Type,
		Delay: def(m.Delay, 5), Timeout: def(m.Timeout, 3), MaxRetries: def(m.MaxRetries, 3), MaxRetriesDown: m.MaxRetriesDown,
		HTTPMethod: m.HTTPMethod, URLPath: m.URLPath, ExpectedCodes: m.ExpectedCodes,
	}).Extract()
	if err != nil {
		t.Fatalf("octaviatest: creating %s monitor of pool %s: %v", m.Type, poolID, err)
	}
	s.WaitActive(t, s.poolLoadBalancer(t, poolID))
	return mon.ID
}

// SetMembers replaces the pool's members with these (Octavia's batch update, PUT
// /v2/lbaas/pools/{id}/members: members not listed are deleted, listed ones are
// created or updated, matched by address and port), waits for the load balancer, and
// returns the members' ids in the order given.
func (s *Server) SetMembers(t testing.TB, poolID string, members []MemberSpec) []string {
	t.Helper()
	c := s.ServiceClient(t)
	opts := make([]pools.BatchUpdateMemberOpts, 0, len(members))
	for _, m := range members {
		name := m.Name
		opts = append(opts, pools.BatchUpdateMemberOpts{
			Address: m.Address, ProtocolPort: m.Port, Name: &name, Weight: m.Weight,
			Backup: &m.Backup, AdminStateUp: m.AdminStateUp,
		})
	}
	if err := pools.BatchUpdateMembers(t.Context(), c, poolID, opts).ExtractErr(); err != nil {
		t.Fatalf("octaviatest: setting the %d members of pool %s: %v", len(members), poolID, err)
	}
	s.WaitActive(t, s.poolLoadBalancer(t, poolID))
	all, err := listMembers(t.Context(), c, poolID)
	if err != nil {
		t.Fatalf("octaviatest: listing the members of pool %s: %v", poolID, err)
	}
	ids := make([]string, 0, len(members))
	for _, m := range members {
		id := ""
		for _, got := range all {
			if got.Address == m.Address && got.ProtocolPort == m.Port {
				id = got.ID
			}
		}
		if id == "" {
			t.Fatalf("octaviatest: member %s:%d of pool %s missing after the batch update", m.Address, m.Port, poolID)
		}
		ids = append(ids, id)
	}
	return ids
}

// AddMember adds one member to the pool, waits for the load balancer and returns the
// member's id.
func (s *Server) AddMember(t testing.TB, poolID string, m MemberSpec) string {
	t.Helper()
	mem, err := pools.CreateMember(t.Context(), s.ServiceClient(t), poolID, pools.CreateMemberOpts{
		Name: m.Name, Address: m.Address, ProtocolPort: m.Port, Weight: m.Weight, Backup: &m.Backup, AdminStateUp: m.AdminStateUp,
	}).Extract()
	if err != nil {
		t.Fatalf("octaviatest: adding member %s:%d to pool %s: %v", m.Address, m.Port, poolID, err)
	}
	s.WaitActive(t, s.poolLoadBalancer(t, poolID))
	return mem.ID
}

// RemoveMember deletes the member from the pool and waits for the load balancer.
func (s *Server) RemoveMember(t testing.TB, poolID, memberID string) {
	t.Helper()
	if err := pools.DeleteMember(t.Context(), s.ServiceClient(t), poolID, memberID).ExtractErr(); err != nil {
		t.Fatalf("octaviatest: removing member %s from pool %s: %v", memberID, poolID, err)
	}
	s.WaitActive(t, s.poolLoadBalancer(t, poolID))
}

// DeleteLoadBalancer deletes the load balancer with everything under it and waits
// until it is gone.
func (s *Server) DeleteLoadBalancer(t testing.TB, id string) {
	t.Helper()
	c := s.ServiceClient(t)
	if err := loadbalancers.Delete(t.Context(), c, id, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr(); err != nil {
		t.Fatalf("octaviatest: deleting load balancer %s: %v", id, err)
	}
	s.poll(t, "load balancer "+id+" to be deleted", func() (bool, string, error) {
		lb, err := loadbalancers.Get(t.Context(), c, id).Extract()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		// A deleted load balancer may be listed as DELETED for a while.
		return lb.ProvisioningStatus == "DELETED", lb.ProvisioningStatus, nil
	})
}

// WaitActive waits until the load balancer's provisioning status is ACTIVE; it fails
// the test if it turns ERROR or stays PENDING_* for a minute.
func (s *Server) WaitActive(t testing.TB, lbID string) {
	t.Helper()
	c := s.ServiceClient(t)
	s.poll(t, "load balancer "+lbID+" to be ACTIVE", func() (bool, string, error) {
		lb, err := loadbalancers.Get(t.Context(), c, lbID).Extract()
		if err != nil {
			return false, "", err
		}
		if lb.ProvisioningStatus == "ERROR" {
			return false, "", fmt.Errorf("load balancer %s is in ERROR", lbID)
		}
		return lb.ProvisioningStatus == "ACTIVE", lb.ProvisioningStatus, nil
	})
}

// PauseWorker stops the worker (SIGSTOP to its processes) until the returned function
// is called, or the test ends: the API keeps answering and accepting changes, which
// stay PENDING_* with their messages queued in RabbitMQ, as when a real Octavia's
// worker is slow or down. It affects every load balancer of the Server.
func (s *Server) PauseWorker(t testing.TB) (resume func()) {
	t.Helper()
	var worker *process
	for _, p := range s.procs {
		if p.name == "octavia-worker" {
			worker = p
		}
	}
	if worker == nil {
		t.Fatalf("octaviatest: no worker to pause")
	}
	if err := proc.SignalGroup(worker.cmd, proc.SigStop); err != nil {
		t.Fatalf("octaviatest: pausing the worker: %v", err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := proc.SignalGroup(worker.cmd, proc.SigCont); err != nil {
				t.Errorf("octaviatest: resuming the worker: %v", err)
			}
		})
	}
	t.Cleanup(resume)
	return resume
}

// poll calls check every 100ms until it is done, fails or the time is up.
func (s *Server) poll(t testing.TB, what string, check func() (done bool, state string, err error)) {
	t.Helper()
	deadline := time.Now().Add(activeTimeout)
	state := ""
	for {
		done, st, err := check()
		if err != nil {
			t.Fatalf("octaviatest: waiting for %s: %v\n%s", what, err, s.LogTails())
		}
		if done {
			return
		}
		state = st
		if time.Now().After(deadline) {
			t.Fatalf("octaviatest: waiting for %s: still %s after %s\n%s", what, state, activeTimeout, s.LogTails())
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("octaviatest: waiting for %s: %v", what, t.Context().Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *Server) poolLoadBalancer(t testing.TB, poolID string) string {
	t.Helper()
	p, err := pools.Get(t.Context(), s.ServiceClient(t), poolID).Extract()
	if err != nil {
		t.Fatalf("octaviatest: reading pool %s: %v", poolID, err)
	}
	if len(p.Loadbalancers) == 0 {
		t.Fatalf("octaviatest: pool %s has no load balancer", poolID)
	}
	return p.Loadbalancers[0].ID
}

func listMembers(ctx context.Context, c *gophercloud.ServiceClient, poolID string) ([]pools.Member, error) {
	pages, err := pools.ListMembers(c, poolID, pools.ListMembersOpts{}).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	return pools.ExtractMembers(pages)
}

// Object names a kind of Octavia object whose operating status SetOperatingStatus
// writes (its table in Octavia's database).
type Object string

// Objects with an operating status.
const (
	LoadBalancerObject Object = "load_balancer"
	ListenerObject     Object = "listener"
	PoolObject         Object = "pool"
	MemberObject       Object = "member"
	MonitorObject      Object = "health_monitor"
)

// setStatusScript writes an operating status as Octavia's health manager does (a
// repository update, octavia/amphorae/drivers/health/heartbeat_udp.py): the row's
// updated_at moves too (oslo.db's TimestampMixin), and nothing else.
const setStatusScript = `
import datetime, sqlite3, sys
table, oid, status = sys.argv[1:4]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
conn = sqlite3.connect(sys.argv[4], timeout=30)
conn.execute("PRAGMA foreign_keys = ON")
with conn:
    n = conn.execute("UPDATE " + table + " SET operating_status = ?, updated_at = ? WHERE id = ?", (status, now, oid)).rowcount
print(n)
`

const setUpdatedAtScript = `
import sqlite3, sys
table, oid, at = sys.argv[1:4]
conn = sqlite3.connect(sys.argv[4], timeout=30)
with conn:
    n = conn.execute("UPDATE " + table + " SET updated_at = ? WHERE id = ?", (at, oid)).rowcount
print(n)
`

// SetUpdatedAt writes the updated_at of an object straight into the Server's database,
// as nothing in Octavia does: a test hides a change from whoever watches updated_at
// with it (no API call can). It fails the test if no such object exists.
func (s *Server) SetUpdatedAt(t testing.TB, obj Object, id string, at time.Time) {
	t.Helper()
	stamp := at.UTC().Format("2006-01-02 15:04:05.000000")
	out, err := exec.CommandContext(t.Context(), debian.Python, "-c", setUpdatedAtScript, string(obj), id, stamp, s.dbPath).CombinedOutput()
	if err != nil {
		t.Fatalf("octaviatest: setting the updated_at of %s %s to %s: %v\n%s", obj, id, stamp, err, out)
	}
	if strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("octaviatest: setting the updated_at of %s %s: no such %s", obj, id, obj)
	}
}

// UpdatedAt reads the updated_at of an object through the API (load balancers, pools
// and members; a member's pool is poolID).
func (s *Server) UpdatedAt(t testing.TB, obj Object, id, poolID string) time.Time {
	t.Helper()
	c := s.ServiceClient(t)
	var path string
	switch obj {
	case LoadBalancerObject:
		path = "loadbalancers/" + id
	case PoolObject:
		path = "pools/" + id
	case MemberObject:
		path = "pools/" + poolID + "/members/" + id
	default:
		t.Fatalf("octaviatest: UpdatedAt of %q", obj)
	}
	var body map[string]map[string]any
	resp, err := c.Get(t.Context(), c.ServiceURL(path), &body, nil)
	if err != nil {
		t.Fatalf("octaviatest: reading %s %s: %v", obj, id, err)
	}
	_ = resp.Body.Close() // gophercloud has read it
	for _, v := range body {
		s, _ := v["updated_at"].(string)
		at, err := time.Parse("2006-01-02T15:04:05", s)
		if err != nil {
			t.Fatalf("octaviatest: the updated_at of %s %s: %q: %v", obj, id, s, err)
		}
		return at
	}
	t.Fatalf("octaviatest: reading %s %s: an empty answer", obj, id)
	return time.Time{}
}

// SetOperatingStatus writes the operating status (ONLINE, OFFLINE, DEGRADED, ERROR,
// DRAINING, NO_MONITOR) of an object straight into the Server's database: the no-op
// drivers never report health, so this is how a test plays the health manager. It
// fails the test if no such object exists or the status is not one Octavia knows.
func (s *Server) SetOperatingStatus(t testing.TB, obj Object, id, status string) {
	t.Helper()
	switch obj {
	case LoadBalancerObject, ListenerObject, PoolObject, MemberObject, MonitorObject:
	default:
		t.Fatalf("octaviatest: SetOperatingStatus of unknown object kind %q", obj)
	}
	out, err := exec.CommandContext(t.Context(), debian.Python, "-c", setStatusScript, string(obj), id, status, s.dbPath).CombinedOutput()
	if err != nil {
		t.Fatalf("octaviatest: setting the operating status of %s %s to %s: %v\n%s", obj, id, status, err, out)
	}
	if strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("octaviatest: setting the operating status of %s %s to %s: no such %s", obj, id, status, obj)
	}
}
