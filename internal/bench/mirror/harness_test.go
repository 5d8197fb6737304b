package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbsdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/cloud/elbv2"
	"github.com/drover-dev/drover/internal/cloud/octavia"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/nlb/deploy"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
)

const (
	listenerPort = 443
	memberPort   = 8443
)

// harness is one Prod's mirror: an Octavia load balancer with one TCP listener whose pool
// has members behind a TCP health monitor, and the clients a manager would use for it.
type harness struct {
	octavia *octaviatest.Server
	moto    *awstest.Moto

	// oc and elb are drover's own clients, as the manager builds them (production rate
	// limits and retries), pointed at Octavia and moto. Their calls are counted.
	oc  *octavia.Gophercloud
	elb *elbv2.Client
	// timer times oc's requests.
	timer *requestTimer
	// check is a plain SDK client for the verification, not drover's code and not
	// counted.
	check *elbsdk.Client

	owner  nlb.Owner
	opts   nlb.Options
	lbID   string
	poolID string

	// members are the pool's members now; next numbers the next new one's address.
	members []octaviatest.MemberSpec
	next    int
	rng     *rand.Rand
	// written is when Octavia's members were last changed; settledAt when a sync last
	// found Octavia settled since.
	written, settledAt time.Time
}

// writeMode is how the harness changes the members of the Octavia pool.
type writeMode string

const (
	// viaAPI: through Octavia's API: a member deleted or created per call (DELETE and
	// POST /v2/lbaas/pools/{id}/members), or the pool's whole member list in one batch
	// update (PUT /v2/lbaas/pools/{id}/members, gophercloud's pools.BatchUpdateMembers),
	// each followed by a wait until the load balancer is ACTIVE again.
	viaAPI writeMode = "api"
	// viaDatabase: the members written straight into the test Octavia's database, as its
	// API and worker leave it after the same change through the API (writeMembersScript
	// says what that is). Octavia 11's worker takes time quadratic in the pool's size for a
	// batch update: it reads every member of the batch (new, updated, that is every member
	// listed, and deleted) with a repository get, whose to_data_model converts the load
	// balancer's whole object graph, every member of the pool included. On the loaded
	// 2-core machine a 20-in-20-out change of a 400-member pool took 9 minutes, so a
	// benchmark of drover cannot wait for it every round. Every read drover and the
	// verification make still goes through the real API.
	viaDatabase writeMode = "db"
)

// seedMembers is how many members the load balancer is created with through the API, in
// both modes; the database mode copies them for the rest.
const seedMembers = 20

// octaviaTimeout bounds each request of the verification's Octavia client.
const octaviaTimeout = 5 * time.Minute

// apiTimeout bounds one batch update through the API, the wait for ACTIVE included.
const apiTimeout = 30 * time.Minute

// newHarness resets moto and creates an Octavia load balancer whose pool has n members:
// the first seedMembers through the API, the rest as mode says. The NLB does not exist
// yet: the first sync creates it.
func newHarness(tb testing.TB, name string, n int, mode writeMode) *harness {
	tb.Helper()
	h := &harness{
		moto:    awstest.Shared(tb),
		octavia: octaviatest.Shared(tb),
		// A fixed seed: every run churns the same members.
		rng:   rand.New(rand.NewPCG(7, uint64(n))),
		owner: nlb.Owner{Manager: "drover", Namespace: "bench", Name: name, UID: "00000000-0000-4000-8000-" + fmt.Sprintf("%012d", n)},
	}
	network := h.moto.DefaultNetwork(tb)
	h.opts = nlb.Options{Owner: h.owner, Network: nlb.Network{VPCID: network.VPCID, Subnets: network.SubnetIDs()}}

	o := h.moto.Options()
	// The manager's retries and client-side rate limits, not the test defaults.
	o.MaxAttempts, o.MaxBackoff = 0, 0
	o.ELBv2Limit, o.ELBv2TargetsLimit = awsclient.Limit{}, awsclient.Limit{}
	cfg, err := awsclient.LoadConfig(tb.Context(), o)
	if err != nil {
		tb.Fatal(err)
	}
	h.elb = elbv2.New(awsclient.NewClients(cfg, o).ELBv2, elbv2.Options{})
	h.check = h.moto.Clients(tb).ELBv2
	// The manager's Octavia client: default rate limit, burst and timeout (30 s a
	// request), which no request of a sync may exceed, whatever the pool's size.
	h.timer = &requestTimer{base: http.DefaultTransport.(*http.Transport).Clone(), took: map[string]time.Duration{}}
	h.oc, err = octavia.New(tb.Context(), octavia.Options{
		Endpoint: h.octavia.Endpoint(), ProjectID: h.octavia.ProjectID(), Timeout: octavia.DefaultTimeout, Transport: h.timer,
	})
	if err != nil {
		tb.Fatal(err)
	}

	// The pool is created empty and its members set by writeAPI, whose wait for ACTIVE is
	// longer than the octaviatest helpers' minute (a loaded machine needs it).
	start := time.Now()
	lb := h.octavia.CreateLoadBalancer(tb, octaviatest.LoadBalancerSpec{Name: name, Listeners: []octaviatest.ListenerSpec{{
		Name: "api", Protocol: "TCP", Port: listenerPort, Pool: &octaviatest.PoolSpec{
			Name: "api", Monitor: &octaviatest.MonitorSpec{Type: "TCP"},
		},
	}}})
	h.lbID, h.poolID = lb.ID, lb.Listeners[0].PoolID
	for range min(n, seedMembers) {
		h.members = append(h.members, h.newMember())
	}
	h.writeAPI(tb)
	if len(h.members) < n {
		var added []octaviatest.MemberSpec
		for len(h.members) < n {
			m := h.newMember()
			h.members = append(h.members, m)
			added = append(added, m)
		}
		h.write(tb, mode, added, nil, true)
	}
	how := "through the API"
	if n > seedMembers {
		how = fmt.Sprintf("%d through the API, %d %s", seedMembers, n-seedMembers, mode)
	}
	tb.Logf("Octavia load balancer %s with %d members (%s) created in %s", h.lbID, n, how, time.Since(start).Round(time.Millisecond))
	return h
}

// newMember is a member with an address no member had before (10.20.0.1 on): moto keys a
// target by its IP alone, so every member has its own.
func (h *harness) newMember() octaviatest.MemberSpec {
	i := h.next
	h.next++
	addr := fmt.Sprintf("10.20.%d.%d", i/250, i%250+1)
	return octaviatest.MemberSpec{Name: "m-" + addr, Address: addr, Port: memberPort}
}

// churn replaces k members, chosen at random (a fixed seed), with k new ones, as mode
// says: one member at a time (batch false: what each member's create or delete through
// the API changes) or in one batch update of the pool's whole member list (batch true).
// The load balancer is ACTIVE when it returns.
func (h *harness) churn(tb testing.TB, k int, mode writeMode, batch bool) {
	tb.Helper()
	h.rng.Shuffle(len(h.members), func(i, j int) { h.members[i], h.members[j] = h.members[j], h.members[i] })
	var added, removed []octaviatest.MemberSpec
	for i := range k {
		removed = append(removed, h.members[i])
		h.members[i] = h.newMember()
		added = append(added, h.members[i])
	}
	h.write(tb, mode, added, removed, batch)
}

// write makes the pool's members h.members, which differ from what Octavia has by added
// and removed, one member at a time or in one batch update.
func (h *harness) write(tb testing.TB, mode writeMode, added, removed []octaviatest.MemberSpec, batch bool) {
	tb.Helper()
	defer func() { h.written = time.Now() }()
	switch {
	case mode == viaAPI && batch:
		h.writeAPI(tb)
	case mode == viaAPI:
		h.writeAPIEach(tb, added, removed)
	case mode == viaDatabase:
		h.writeDatabase(tb, added, removed, batch)
	default:
		tb.Fatalf("unknown Octavia write mode %q (api or db)", mode)
	}
}

// writeAPIEach deletes the removed members and creates the added ones through the API,
// one call each, waiting for the load balancer to be ACTIVE after each (Octavia refuses a
// change while it is not).
func (h *harness) writeAPIEach(tb testing.TB, added, removed []octaviatest.MemberSpec) {
	tb.Helper()
	c := h.octavia.ServiceClient(tb)
	c.ProviderClient.HTTPClient.Timeout = apiTimeout
	byAddress := map[string]string{}
	if len(removed) > 0 {
		pages, err := pools.ListMembers(c, h.poolID, pools.ListMembersOpts{}).AllPages(tb.Context())
		if err != nil {
			tb.Fatalf("listing the members to delete: %v", err)
		}
		ms, err := pools.ExtractMembers(pages)
		if err != nil {
			tb.Fatal(err)
		}
		for _, m := range ms {
			byAddress[fmt.Sprintf("%s:%d", m.Address, m.ProtocolPort)] = m.ID
		}
	}
	for _, m := range removed {
		id, ok := byAddress[fmt.Sprintf("%s:%d", m.Address, m.Port)]
		if !ok {
			tb.Fatalf("no member %s:%d to delete", m.Address, m.Port)
		}
		h.octavia.RemoveMember(tb, h.poolID, id)
	}
	for _, m := range added {
		h.octavia.AddMember(tb, h.poolID, m)
	}
}

// writeAPI sets the pool's members to h.members with one batch update and waits until
// the load balancer is ACTIVE (apiTimeout: the octaviatest helpers' minute is too short
// for hundreds of members).
func (h *harness) writeAPI(tb testing.TB) {
	tb.Helper()
	c := h.octavia.ServiceClient(tb)
	c.ProviderClient.HTTPClient.Timeout = apiTimeout
	opts := make([]pools.BatchUpdateMemberOpts, 0, len(h.members))
	for _, m := range h.members {
		name := m.Name
		opts = append(opts, pools.BatchUpdateMemberOpts{Address: m.Address, ProtocolPort: m.Port, Name: &name})
	}
	ctx, cancel := context.WithTimeout(tb.Context(), apiTimeout)
	defer cancel()
	if err := pools.BatchUpdateMembers(ctx, c, h.poolID, opts).ExtractErr(); err != nil {
		tb.Fatalf("setting the %d members of pool %s: %v", len(opts), h.poolID, err)
	}
	for {
		lb, err := loadbalancers.Get(ctx, c, h.lbID).Extract()
		if err != nil {
			tb.Fatalf("waiting for load balancer %s to be ACTIVE after a batch update of %d members: %v", h.lbID, len(opts), err)
		}
		switch lb.ProvisioningStatus {
		case "ACTIVE":
			return
		case "ERROR":
			tb.Fatalf("load balancer %s is in ERROR after a batch update of %d members", h.lbID, len(opts))
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("load balancer %s still %s %s after a batch update of %d members", h.lbID, lb.ProvisioningStatus, apiTimeout, len(opts))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// writeMembersScript deletes and adds members of a pool in the Octavia database, in one
// transaction, leaving the database as Octavia 11's API and worker leave it after a batch
// member update (octavia/api/v2/controllers/member.py, controller/worker/v2/flows/
// member_flows.py): the load balancer, the pool's listeners and the pool went
// PENDING_UPDATE and back to ACTIVE, which moved their updated_at; each new member is
// ACTIVE with its updated_at the time the worker marked it so (a copy of one the API
// created, with its own id, name, address and port); a deleted member's row is gone;
// the project's member quota use follows. A design that watches updated_at, the pool's
// member ids or provisioning statuses sees the same as after the API's change
// (TestMirrorChurnSmoke checks it).
const writeMembersScript = `
import datetime, json, sqlite3, sys, uuid
req = json.load(sys.stdin)
pool = req["pool"]
conn = sqlite3.connect(sys.argv[1], timeout=60)
conn.row_factory = sqlite3.Row
conn.execute("PRAGMA foreign_keys = ON")
with conn:
    tmpl = conn.execute("SELECT * FROM member WHERE pool_id = ? ORDER BY created_at LIMIT 1", (pool,)).fetchone()
    if tmpl is None:
        sys.exit("pool %s has no member to copy" % pool)
    tmpl = dict(tmpl)
    lb = conn.execute("SELECT load_balancer_id FROM pool WHERE id = ?", (pool,)).fetchone()[0]
    removed = 0
    for ip, port in req["remove"]:
        removed += conn.execute("DELETE FROM member WHERE pool_id = ? AND ip_address = ? AND protocol_port = ?", (pool, ip, port)).rowcount
    if removed != len(req["remove"]):
        sys.exit("deleted %d members of pool %s, want %d" % (removed, pool, len(req["remove"])))
    stamp = lambda: datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    created = stamp()
    cols = list(tmpl)
    for ip, port, name in req["add"]:
        row = dict(tmpl, id=str(uuid.uuid4()), name=name, ip_address=ip, protocol_port=port,
                   created_at=created, updated_at=stamp(), provisioning_status="ACTIVE")
        conn.execute("INSERT INTO member (%s) VALUES (%s)" % (",".join(cols), ",".join("?" * len(cols))), [row[c] for c in cols])
    conn.execute("UPDATE quotas SET in_use_member = in_use_member + ? WHERE project_id = ? AND in_use_member IS NOT NULL",
                 (len(req["add"]) - removed, tmpl["project_id"]))
    if req["batch"]:
        # A batch update lists every member kept, and marks each PENDING_UPDATE, then
        # the worker each ACTIVE: every kept member's updated_at moves.
        for (mid,) in conn.execute("SELECT id FROM member WHERE pool_id = ? AND created_at != ?", (pool, created)).fetchall():
            conn.execute("UPDATE member SET provisioning_status = 'ACTIVE', updated_at = ? WHERE id = ?", (stamp(), mid))
    # The worker's last marks: the pool, then the load balancer and its listeners, ACTIVE.
    if conn.execute("UPDATE pool SET provisioning_status = 'ACTIVE', updated_at = ? WHERE id = ?", (stamp(), pool)).rowcount != 1:
        sys.exit("no pool %s" % pool)
    conn.execute("UPDATE load_balancer SET provisioning_status = 'ACTIVE', updated_at = ? WHERE id = ?", (stamp(), lb))
    conn.execute("UPDATE listener SET provisioning_status = 'ACTIVE', updated_at = ? WHERE load_balancer_id = ?", (stamp(), lb))
print(json.dumps({"removed": removed, "added": len(req["add"])}))
`

// writeDatabase removes and adds members straight in the Octavia database (viaDatabase).
func (h *harness) writeDatabase(tb testing.TB, added, removed []octaviatest.MemberSpec, batch bool) {
	tb.Helper()
	req := struct {
		Pool   string  `json:"pool"`
		Add    [][]any `json:"add"`
		Remove [][]any `json:"remove"`
		Batch  bool    `json:"batch"`
	}{Pool: h.poolID, Add: [][]any{}, Remove: [][]any{}, Batch: batch}
	for _, m := range added {
		req.Add = append(req.Add, []any{m.Address, m.Port, m.Name})
	}
	for _, m := range removed {
		req.Remove = append(req.Remove, []any{m.Address, m.Port})
	}
	in, err := json.Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.CommandContext(tb.Context(), python, "-c", writeMembersScript, h.octavia.DatabasePath())
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("writing %d new and %d gone members of pool %s into Octavia's database: %v\n%s", len(added), len(removed), h.poolID, err, out)
	}
}

// python runs writeMembersScript: Debian's, which the Octavia packages need anyway.
const python = "/usr/bin/python3"

// syncStats is what one sync did and took.
type syncStats struct {
	// Time of each step: reading Octavia (Snapshot), reading AWS (Observe), writing AWS
	// (Apply), drover's own pure work (Desired, Diff, the model's digest).
	octavia, awsRead, awsWrite, drover, total time.Duration
	// octaviaRequests is the time of each kind of Octavia request.
	octaviaRequests map[string]time.Duration
	// calls made during the sync, by service and operation.
	calls callCounts
	// plan is the size of the plan (applied unless empty).
	plan nlb.Counts
}

func (s syncStats) aws() time.Duration { return s.awsRead + s.awsWrite }

// sync runs one sync of the mirror as controllers/mirror does per poll (reconcileOctavia
// and reconcileNLB): Octavia snapshot, ACTIVE check, Desired, Observe, Diff with the
// default guard, digest, Apply unless the plan is empty. A blocked plan, an error or a
// call that did not succeed fails tb.
func (h *harness) sync(tb testing.TB) syncStats {
	tb.Helper()
	ctx := tb.Context()
	before, beforeTook := readCalls(), h.timer.total()
	var st syncStats
	t0 := time.Now()

	snap, err := h.oc.Snapshot(ctx, h.lbID)
	t1 := time.Now()
	if err != nil {
		tb.Fatalf("reading Octavia: %v", err)
	}
	if ps := snap.LoadBalancer.ProvisioningStatus; ps != "ACTIVE" {
		tb.Fatalf("Octavia load balancer %s is %s, not ACTIVE: the benchmark waits for ACTIVE before a sync", h.lbID, ps)
	}
	model, _, err := nlb.Desired(snap, h.opts)
	t2 := time.Now()
	if err != nil {
		tb.Fatalf("Desired: %v", err)
	}
	observed, err := deploy.Observe(ctx, h.elb, h.owner)
	t3 := time.Now()
	if err != nil {
		tb.Fatalf("Observe: %v", err)
	}
	plan := nlb.Diff(model, observed, nlb.Guard{})
	_ = model.Digest()
	t4 := time.Now()
	if plan.Blocked {
		tb.Fatalf("the plan is blocked: %s", plan.Summary())
	}
	if !plan.Empty() {
		if _, err := deploy.Apply(ctx, h.elb, plan); err != nil {
			tb.Fatalf("Apply: %v", err)
		}
	}
	t5 := time.Now()

	st.octavia, st.drover, st.awsRead, st.awsWrite = t1.Sub(t0), t2.Sub(t1)+t4.Sub(t3), t3.Sub(t2), t5.Sub(t4)
	st.total = t5.Sub(t0)
	st.calls = readCalls().minus(before)
	st.octaviaRequests = h.timer.total()
	for k, d := range beforeTook {
		st.octaviaRequests[k] -= d
	}
	st.plan = plan.Counts()
	if bad := st.calls.failed(); len(bad) > 0 {
		tb.Fatalf("calls that did not succeed during the sync: %v", bad)
	}
	return st
}

// verify checks that the NLB is Octavia's load balancer: one load balancer with one
// TCP listener on listenerPort forwarding to the one target group, whose registered
// targets are exactly the pool's members. Both sides are read with plain clients (the
// SDK, gophercloud), not drover's. Targets draining (deregistered) do not count.
func (h *harness) verify(tb testing.TB) error {
	tb.Helper()
	ctx := tb.Context()
	want, err := h.octaviaMembers(tb)
	if err != nil {
		return err
	}

	lbs, err := h.check.DescribeLoadBalancers(ctx, &elbsdk.DescribeLoadBalancersInput{})
	if err != nil {
		return err
	}
	if len(lbs.LoadBalancers) != 1 {
		return fmt.Errorf("AWS has %d load balancers, want 1", len(lbs.LoadBalancers))
	}
	ls, err := h.check.DescribeListeners(ctx, &elbsdk.DescribeListenersInput{LoadBalancerArn: lbs.LoadBalancers[0].LoadBalancerArn})
	if err != nil {
		return err
	}
	tgs, err := h.check.DescribeTargetGroups(ctx, &elbsdk.DescribeTargetGroupsInput{})
	if err != nil {
		return err
	}
	if len(tgs.TargetGroups) != 1 {
		return fmt.Errorf("AWS has %d target groups, want 1", len(tgs.TargetGroups))
	}
	tg := tgs.TargetGroups[0]
	if len(ls.Listeners) != 1 || aws.ToInt32(ls.Listeners[0].Port) != listenerPort || ls.Listeners[0].Protocol != types.ProtocolEnumTcp ||
		len(ls.Listeners[0].DefaultActions) != 1 || aws.ToString(ls.Listeners[0].DefaultActions[0].TargetGroupArn) != aws.ToString(tg.TargetGroupArn) {
		return fmt.Errorf("the NLB's listeners are not one TCP:%d forwarding to target group %s: %+v", listenerPort, aws.ToString(tg.TargetGroupName), ls.Listeners)
	}
	th, err := h.check.DescribeTargetHealth(ctx, &elbsdk.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
	if err != nil {
		return err
	}
	got := make([]string, 0, len(th.TargetHealthDescriptions))
	for _, d := range th.TargetHealthDescriptions {
		if d.TargetHealth != nil && d.TargetHealth.State == types.TargetHealthStateEnumDraining {
			continue
		}
		got = append(got, fmt.Sprintf("%s:%d", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port)))
	}
	if missing, extra := setDiff(want, got); len(missing)+len(extra) > 0 {
		return fmt.Errorf("the NLB's %d targets are not Octavia's %d members: %d missing %s, %d not members %s",
			len(got), len(want), len(missing), head(missing), len(extra), head(extra))
	}
	return nil
}

// settle waits until the last change of Octavia's members is octavia.ClockMargin old, as
// it is at a poll in a steady state (the poll interval is 30 s): before, drover's client
// cannot tell a change in the same second as its last read from none, and reads the
// members updated since (a few; see internal/cloud/octavia/change.go).
func (h *harness) settle() {
	time.Sleep(time.Until(h.written.Add(octavia.ClockMargin + time.Second)))
}

// registerByHand registers a target drover did not ask for, as a person might in the
// console (with the plain SDK client: not counted).
func (h *harness) registerByHand(tb testing.TB, ip string, port int32) {
	tb.Helper()
	ctx := tb.Context()
	tgs, err := h.check.DescribeTargetGroups(ctx, &elbsdk.DescribeTargetGroupsInput{})
	if err != nil || len(tgs.TargetGroups) != 1 {
		tb.Fatalf("finding the target group: %v (%d target groups)", err, len(tgs.TargetGroups))
	}
	_, err = h.check.RegisterTargets(ctx, &elbsdk.RegisterTargetsInput{
		TargetGroupArn: tgs.TargetGroups[0].TargetGroupArn,
		Targets:        []types.TargetDescription{{Id: aws.String(ip), Port: aws.Int32(port), AvailabilityZone: aws.String(nlb.AvailabilityZoneAll)}},
	})
	if err != nil {
		tb.Fatalf("registering %s:%d by hand: %v", ip, port, err)
	}
}

// octaviaMembers are the pool's members as "address:port", read with gophercloud, not
// drover's code: from the status tree (GET /loadbalancers/{id}/status, which costs time
// linear in the pool, where a member listing costs quadratic time on Octavia 11), and,
// for a pool of up to listCheckMembers members, from the member listing too, which must
// agree, with every member's weight, admin state and backup flag the defaults the
// harness gives them (so that each member is a target).
func (h *harness) octaviaMembers(tb testing.TB) ([]string, error) {
	tb.Helper()
	ctx := tb.Context()
	c := h.octavia.ServiceClient(tb)
	c.ProviderClient.HTTPClient.Timeout = octaviaTimeout
	tree, err := loadbalancers.GetStatuses(ctx, c, h.lbID).Extract()
	if err != nil {
		return nil, fmt.Errorf("reading Octavia's status tree: %w", err)
	}
	var out []string
	for _, l := range tree.Loadbalancer.Listeners {
		for _, p := range l.Pools {
			if p.ID != h.poolID {
				return nil, fmt.Errorf("the status tree has pool %s, want only %s", p.ID, h.poolID)
			}
			for _, m := range p.Members {
				out = append(out, fmt.Sprintf("%s:%d", m.Address, m.ProtocolPort))
			}
		}
	}
	if len(h.members) > listCheckMembers {
		return out, nil
	}
	pages, err := pools.ListMembers(c, h.poolID, pools.ListMembersOpts{}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing Octavia's members: %w", err)
	}
	ms, err := pools.ExtractMembers(pages)
	if err != nil {
		return nil, fmt.Errorf("listing Octavia's members: %w", err)
	}
	listed := make([]string, 0, len(ms))
	for _, m := range ms {
		if m.Weight != 1 || !m.AdminStateUp || m.Backup {
			return nil, fmt.Errorf("member %s:%d has weight %d, admin state up %v, backup %v: not a default member", m.Address, m.ProtocolPort, m.Weight, m.AdminStateUp, m.Backup)
		}
		listed = append(listed, fmt.Sprintf("%s:%d", m.Address, m.ProtocolPort))
	}
	if missing, extra := setDiff(out, listed); len(missing)+len(extra) > 0 {
		return nil, fmt.Errorf("the status tree's %d members are not the listing's %d: %d missing %s, %d more %s", len(out), len(listed), len(missing), head(missing), len(extra), head(extra))
	}
	return out, nil
}

// listCheckMembers is the largest pool whose members the verification lists too (a
// listing of 500 takes about 10 s on Octavia 11, of 5,000 about 20 min).
const listCheckMembers = 100

// setDiff returns what is in want and not in got, and what is in got and not in want.
func setDiff(want, got []string) (missing, extra []string) {
	in := func(s []string) map[string]bool {
		m := make(map[string]bool, len(s))
		for _, v := range s {
			m[v] = true
		}
		return m
	}
	w, g := in(want), in(got)
	for _, v := range want {
		if !g[v] {
			missing = append(missing, v)
		}
	}
	for _, v := range got {
		if !w[v] {
			extra = append(extra, v)
		}
	}
	if len(got) != len(g) {
		extra = append(extra, fmt.Sprintf("(%d registered twice)", len(got)-len(g)))
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}

func head(s []string) string {
	if len(s) > 5 {
		return "[" + strings.Join(s[:5], " ") + " …]"
	}
	return "[" + strings.Join(s, " ") + "]"
}

// requestTimer is the transport of drover's Octavia client in the benchmark: it adds up
// how long requests took, by method and path (ids replaced by {id}), until their
// response headers came.
type requestTimer struct {
	base http.RoundTripper
	mu   sync.Mutex
	took map[string]time.Duration
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func (r *requestTimer) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := r.base.RoundTrip(req)
	key := req.Method + " " + uuidRE.ReplaceAllString(req.URL.Path, "{id}")
	r.mu.Lock()
	r.took[key] += time.Since(start)
	r.mu.Unlock()
	return resp, err
}

func (r *requestTimer) total() map[string]time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.took)
}

// callKey is one series of drover_cloud_api_calls_total.
type callKey struct{ service, operation, outcome string }

// callCounts are call counts by series.
type callCounts map[callKey]int

// readCalls reads drover_cloud_api_calls_total: every call drover's clients made.
func readCalls() callCounts {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		cloudmetrics.Calls.Collect(ch)
		close(ch)
	}()
	out := callCounts{}
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			panic(err)
		}
		var k callKey
		for _, l := range d.GetLabel() {
			switch l.GetName() {
			case "service":
				k.service = l.GetValue()
			case "operation":
				k.operation = l.GetValue()
			case "outcome":
				k.outcome = l.GetValue()
			}
		}
		out[k] = int(d.GetCounter().GetValue())
	}
	return out
}

// minus is c - before, without the series that did not move.
func (c callCounts) minus(before callCounts) callCounts {
	out := callCounts{}
	for k, n := range c {
		if d := n - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// failed lists the calls whose outcome was not success.
func (c callCounts) failed() []string {
	var out []string
	for k, n := range c {
		if k.outcome != cloudmetrics.Success {
			out = append(out, fmt.Sprintf("%d× %s %s %s", n, k.service, k.operation, k.outcome))
		}
	}
	slices.Sort(out)
	return out
}

// isWrite tells whether an operation changes something: ELBv2's are the ones that are
// not Describe*, Octavia's the ones that are not Get* or List*.
func isWrite(k callKey) bool {
	if k.service == cloudmetrics.Octavia {
		return !strings.HasPrefix(k.operation, "Get") && !strings.HasPrefix(k.operation, "List")
	}
	return !strings.HasPrefix(k.operation, "Describe")
}

// count is the number of calls of service, reads or writes.
func (c callCounts) count(service string, writes bool) int {
	n := 0
	for k, v := range c {
		if k.service == service && isWrite(k) == writes {
			n += v
		}
	}
	return n
}

// op is the number of calls of one operation.
func (c callCounts) op(service, operation string) int {
	n := 0
	for k, v := range c {
		if k.service == service && k.operation == operation {
			n += v
		}
	}
	return n
}

// ops lists the calls of service, reads or writes, as "2×Op" sorted by operation.
func (c callCounts) ops(service string, writes bool) string {
	byOp := map[string]int{}
	for k, v := range c {
		if k.service == service && isWrite(k) == writes {
			byOp[k.operation] += v
		}
	}
	parts := make([]string, 0, len(byOp))
	for _, k := range slices.Sorted(maps.Keys(byOp)) {
		parts = append(parts, fmt.Sprintf("%d×%s", byOp[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
