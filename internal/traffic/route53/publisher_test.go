package route53

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	r53 "github.com/drover-dev/drover/internal/cloud/route53"
	"github.com/drover-dev/drover/internal/traffic"
)

// fakeZone is an in-memory Route53 for the Publisher's batching logic: changes stay
// PENDING until released, and a zone refuses a change while one is pending, as Route53
// does. The suites against moto (publisher_moto_test.go) prove the records themselves.
type fakeZone struct {
	mu       sync.Mutex
	records  map[string]types.ResourceRecordSet // by SetIdentifier
	calls    [][]types.Change
	pending  map[string]bool
	refusals int   // PriorRequestNotComplete answers still to give
	failNext error // the next change fails with it
	hcs      map[string]map[string]string
	deleted  []string
	seq      int
	// lists are the names ListResourceRecordSets was asked for; size, when set, is the
	// record count HostedZone reports instead of the records held.
	lists []string
	size  int64
	// zoneReads counts HostedZone calls.
	zoneReads int
	// refuse, when set, may refuse a change as Route53 refuses an invalid one (the
	// change is not made); hcFail fails the creation of the health checks of a service.
	refuse func([]types.Change) error
	hcFail map[string]error
}

func newFakeZone() *fakeZone {
	return &fakeZone{records: map[string]types.ResourceRecordSet{}, pending: map[string]bool{}, hcs: map[string]map[string]string{}}
}

func (f *fakeZone) ChangeResourceRecordSets(_ context.Context, _ string, changes []types.Change, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refusals > 0 {
		f.refusals--
		return "", fmt.Errorf("zone busy: %w", ErrPriorRequestNotComplete)
	}
	if err := f.failNext; err != nil {
		f.failNext = nil
		return "", err
	}
	if f.refuse != nil {
		if err := f.refuse(changes); err != nil {
			f.calls = append(f.calls, nil)
			return "", err
		}
	}
	for id := range f.pending {
		if f.pending[id] {
			return "", fmt.Errorf("change %s pending: %w", id, ErrPriorRequestNotComplete)
		}
	}
	for _, c := range changes {
		r := *c.ResourceRecordSet
		if c.Action == types.ChangeActionDelete {
			delete(f.records, aws.ToString(r.SetIdentifier))
		} else {
			f.records[aws.ToString(r.SetIdentifier)] = r
		}
	}
	f.calls = append(f.calls, changes)
	f.seq++
	id := fmt.Sprintf("/change/C%d", f.seq)
	f.pending[id] = true
	return id, nil
}

func (f *fakeZone) GetChange(_ context.Context, id string) (types.ChangeStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending[id] {
		return types.ChangeStatusPending, nil
	}
	return types.ChangeStatusInsync, nil
}

func (f *fakeZone) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id := range f.pending {
		f.pending[id] = false
	}
}

func (f *fakeZone) ListResourceRecordSets(_ context.Context, _, name string) ([]types.ResourceRecordSet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, name)
	var out []types.ResourceRecordSet
	for _, r := range f.records {
		out = append(out, r)
	}
	return out, nil
}

func (f *fakeZone) HostedZone(_ context.Context, id string) (*types.HostedZone, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.zoneReads++
	n := f.size
	if n == 0 {
		n = int64(len(f.records))
	}
	return &types.HostedZone{Id: aws.String(id), Name: aws.String("example.com."), ResourceRecordSetCount: aws.Int64(n)}, nil
}

func (f *fakeZone) CreateHealthCheck(_ context.Context, _ string, _ *types.HealthCheckConfig, tags map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.hcFail[tags[TagService]]; err != nil {
		return "", err
	}
	f.seq++
	id := fmt.Sprintf("hc-%d", f.seq)
	f.hcs[id] = tags
	return id, nil
}

func (f *fakeZone) DeleteHealthCheck(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.hcs, id)
	f.deleted = append(f.deleted, id)
	return nil
}

func (f *fakeZone) HealthChecks(context.Context) ([]types.HealthCheck, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []types.HealthCheck
	for id := range f.hcs {
		ref := "drover-" + id
		if id == "hc-manual" {
			ref = "console-" + id
		}
		out = append(out, types.HealthCheck{Id: aws.String(id), CallerReference: aws.String(ref)})
	}
	return out, nil
}

func (f *fakeZone) HealthCheckTags(_ context.Context, ids []string) (map[string]map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[string]string{}
	for _, id := range ids {
		if tags, ok := f.hcs[id]; ok {
			out[id] = tags
		}
	}
	return out, nil
}

func (f *fakeZone) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func startPublisher(t *testing.T, api API, edits ...func(*Publisher)) *Publisher {
	t.Helper()
	p := &Publisher{API: api, Linger: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond}
	for _, e := range edits {
		e(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// batchOf is the batch a ticket's service went with.
func batchOf(ticket string) string {
	b, _, _ := strings.Cut(ticket, ticketSeparator)
	return b
}

func ticketInSync(t *testing.T, p *Publisher, ticket string) bool {
	t.Helper()
	ok, err := p.InSync(context.Background(), ticket)
	if err != nil {
		t.Fatalf("InSync(%s): %v", ticket, err)
	}
	return ok
}

func TestPublisherBatchesAZoneAndWaitsForTheChangeInFlight(t *testing.T) {
	zone := newFakeZone()
	p := startPublisher(t, zone)
	ctx := context.Background()
	other := traffic.Service{Zone: "Z1", Name: "cart.example.com", TTL: 30 * time.Second}

	// Two services of one zone published together go out as one change.
	t1, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 100, Paths: paths("10.0.0.1", "", 90, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	t2, err := p.Publish(ctx, other, []traffic.Weight{{ID: "default/b", Weight: 100, Paths: paths("10.0.0.2", "", 90, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	if batchOf(t1) != batchOf(t2) || t1 == t2 {
		t.Errorf("two publications within the linger got tickets %s and %s: want one batch, a ticket per service", t1, t2)
	}
	eventually(t, "the first change is sent", func() bool { return zone.callCount() == 1 })
	if ticketInSync(t, p, t1) {
		t.Error("in sync while Route53 says PENDING")
	}
	// While it is pending, three more publications queue up and go out as one change
	// once it is in sync, and none competes with it.
	var later []string
	for i, id := range []string{"default/a", "default/b", "default/a"} {
		svc := shop
		if id == "default/b" {
			svc = other
		}
		tk, err := p.Publish(ctx, svc, []traffic.Weight{{ID: id, Weight: int32(10 * i)}})
		if err != nil {
			t.Fatal(err)
		}
		later = append(later, tk)
	}
	if batchOf(later[0]) != batchOf(later[1]) || later[0] != later[2] || batchOf(later[0]) == batchOf(t1) {
		t.Errorf("tickets while a change is in flight: %v (first %s)", later, t1)
	}
	time.Sleep(200 * time.Millisecond)
	if n := zone.callCount(); n != 1 {
		t.Fatalf("%d changes sent while the first was pending", n)
	}
	zone.release()
	eventually(t, "the first batch is in sync", func() bool { return ticketInSync(t, p, t1) })
	eventually(t, "the queued batch is sent", func() bool { return zone.callCount() == 2 })
	zone.release()
	eventually(t, "the second batch is in sync", func() bool { return ticketInSync(t, p, later[0]) })
	zone.mu.Lock()
	second := describe(zone.calls[1])
	zone.mu.Unlock()
	want := []string{
		"UPSERT cart.example.com drover/default/b w=10 alias=b.default.drover.cart.example.com",
		"UPSERT shop.example.com drover/default/a w=20 alias=a.default.drover.shop.example.com",
	}
	if fmt.Sprint(second) != fmt.Sprint(want) {
		t.Errorf("second change:\n%v\nwant (the last weight of each Prod):\n%v", second, want)
	}
}

// The ProdSets of a drained cluster publish one after another, a few at a time: weights
// that keep coming, each within a linger of the last, go out in one change, however long
// the burst (up to MaxLinger).
func TestPublisherLingersWhileWeightsKeepComing(t *testing.T) {
	fake := newFakeZone()
	p := &Publisher{API: fake, Linger: 200 * time.Millisecond, MaxLinger: 10 * time.Second, PollInterval: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	var tickets []string
	for i := range 10 { // 450 ms in all, more than two lingers
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		svc := traffic.Service{Zone: "Z1", Name: fmt.Sprintf("s%d.example.com", i), TTL: 30 * time.Second}
		tk, err := p.Publish(context.Background(), svc, []traffic.Weight{{ID: "default/p", Weight: 0, Paths: paths(fmt.Sprintf("10.0.0.%d", i+1), "", 90, 10)}})
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
	}
	eventually(t, "every weight in sync", func() bool {
		fake.release()
		return ticketInSync(t, p, tickets[len(tickets)-1])
	})
	if n := fake.callCount(); n != 1 {
		t.Errorf("%d changes for one burst of weights, want 1", n)
	}
	for _, tk := range tickets[1:] {
		if batchOf(tk) != batchOf(tickets[0]) {
			t.Fatalf("tickets of one burst: %v", tickets)
		}
	}

	// MaxLinger bounds the wait: weights that never stop still go out.
	p2 := &Publisher{API: newFakeZone(), Linger: 200 * time.Millisecond, MaxLinger: 300 * time.Millisecond}
	p2.init()
	z := &zone{id: "Z2", wake: make(chan struct{}, 1)}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			p2.mu.Lock()
			z.added = time.Now()
			p2.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	start := time.Now()
	if !p2.linger(context.Background(), z) {
		t.Fatal("linger ended without its context ending")
	}
	close(stop)
	if waited := time.Since(start); waited < 300*time.Millisecond || waited > 3*time.Second {
		t.Errorf("lingered %s under a stream of weights, want MaxLinger (300ms)", waited)
	}
}

// Weights that came before the worker began to linger count from when they came: a
// batch whose weights all came at once goes one Linger after them, not two.
func TestPublisherLingersOnceForWeightsThatCameTogether(t *testing.T) {
	fake := newFakeZone()
	var spans []time.Duration
	var mu sync.Mutex
	p := startPublisher(t, fake, func(p *Publisher) {
		p.Linger, p.MaxLinger = 200*time.Millisecond, 10*time.Second
		p.OnLinger = func(_ string, from, to time.Time) { mu.Lock(); spans = append(spans, to.Sub(from)); mu.Unlock() }
	})
	var ticket string
	for i := range 20 {
		svc := traffic.Service{Zone: "Z1", Name: fmt.Sprintf("s%d.example.com", i), TTL: 30 * time.Second}
		tk, err := p.Publish(context.Background(), svc, []traffic.Weight{{ID: "default/p", Weight: 1, Paths: paths(fmt.Sprintf("10.0.0.%d", i+1), "", 90, 10)}})
		if err != nil {
			t.Fatal(err)
		}
		ticket = tk
	}
	eventually(t, "the batch in sync", func() bool { fake.release(); return ticketInSync(t, p, ticket) })
	mu.Lock()
	defer mu.Unlock()
	if len(spans) != 1 || spans[0] < 200*time.Millisecond || spans[0] > 350*time.Millisecond {
		t.Errorf("lingered %v for weights that came together, want once, one Linger (200ms)", spans)
	}
}

func TestPublisherWaitsOutPriorRequestNotComplete(t *testing.T) {
	zone := newFakeZone()
	zone.refusals = 3
	p := startPublisher(t, zone)
	tk, err := p.Publish(context.Background(), shop, []traffic.Weight{{ID: "default/a", Weight: 100, Paths: paths("10.0.0.1", "", 90, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the change goes through after the zone frees", func() bool { return zone.callCount() == 1 })
	zone.release()
	eventually(t, "in sync", func() bool { return ticketInSync(t, p, tk) })
	zone.mu.Lock()
	defer zone.mu.Unlock()
	if zone.refusals != 0 || len(zone.records) != 2 {
		t.Errorf("refusals left %d, records %d", zone.refusals, len(zone.records))
	}
}

func TestPublisherTicketsOfAnotherManagerAreLost(t *testing.T) {
	zone := newFakeZone()
	p := startPublisher(t, zone)
	_, err := p.InSync(context.Background(), "drover/earlier/Z1/7")
	if !errors.Is(err, traffic.ErrChangeLost) {
		t.Errorf("InSync of an unknown ticket: %v, want ErrChangeLost", err)
	}
}

func TestPublisherDeletesHealthChecksOnlyAfterTheChange(t *testing.T) {
	zone := newFakeZone()
	p := startPublisher(t, zone)
	ctx := context.Background()
	tk, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 100, Paths: paths("10.0.0.1", "nlb.example", 90, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "sent", func() bool { return zone.callCount() == 1 })
	zone.release()
	eventually(t, "in sync", func() bool { return ticketInSync(t, p, tk) })
	zone.mu.Lock()
	if len(zone.hcs) != 2 {
		t.Errorf("%d health checks, want one per path", len(zone.hcs))
	}
	zone.mu.Unlock()

	tk, err = p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Remove: true}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "sent", func() bool { return zone.callCount() == 2 })
	time.Sleep(100 * time.Millisecond)
	zone.mu.Lock()
	if len(zone.deleted) != 0 {
		t.Errorf("health checks %v deleted while the change removing their records is pending", zone.deleted)
	}
	zone.mu.Unlock()
	zone.release()
	eventually(t, "in sync", func() bool { return ticketInSync(t, p, tk) })
	eventually(t, "health checks deleted", func() bool {
		zone.mu.Lock()
		defer zone.mu.Unlock()
		return len(zone.hcs) == 0 && len(zone.records) == 0
	})

	// A new manager finds health checks an earlier one left and deletes them with the
	// service's next change.
	zone.mu.Lock()
	zone.hcs["hc-leak"] = map[string]string{TagOwner: "drover", TagService: "shop.example.com", TagProd: "default/x", TagPath: "nlb"}
	zone.hcs["hc-theirs"] = map[string]string{TagOwner: "someone-else", TagService: "shop.example.com", TagProd: "default/x", TagPath: "nlb"}
	zone.hcs["hc-manual"] = map[string]string{TagOwner: "drover", TagService: "shop.example.com", TagProd: "default/x", TagPath: "nlb"}
	zone.mu.Unlock()
	p2 := startPublisher(t, zone)
	tk, err = p2.Publish(ctx, shop, []traffic.Weight{{ID: "default/b", Weight: 100, Paths: paths("10.0.0.2", "", 90, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "sent", func() bool { return zone.callCount() == 3 })
	zone.release()
	eventually(t, "in sync", func() bool { return ticketInSync(t, p2, tk) })
	eventually(t, "the leak is gone, the foreign check stays", func() bool {
		zone.mu.Lock()
		defer zone.mu.Unlock()
		_, leak := zone.hcs["hc-leak"]
		_, theirs := zone.hcs["hc-theirs"]
		_, manual := zone.hcs["hc-manual"]
		return !leak && theirs && manual
	})
}

func TestFailureBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{0: 0, 1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 7: time.Minute, 50: time.Minute} {
		if got := failureBackoff(n); got != want {
			t.Errorf("failureBackoff(%d) = %s, want %s", n, got, want)
		}
	}
}

// A batch Route53 refuses is reported lost (its ProdSets publish again), and the next
// one goes through after the back-off.
func TestPublisherReportsAFailedBatchAsLost(t *testing.T) {
	zone := newFakeZone()
	zone.failNext = errors.New("AccessDenied")
	p := startPublisher(t, zone)
	ctx := context.Background()
	w := []traffic.Weight{{ID: "default/a", Weight: 100, Paths: paths("10.0.0.1", "", 90, 10)}}
	tk, err := p.Publish(ctx, shop, w)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the failed batch is reported lost", func() bool {
		_, err := p.InSync(ctx, tk)
		return errors.Is(err, traffic.ErrChangeLost)
	})
	if _, err := p.InSync(ctx, tk); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("InSync of the failed batch: %v, want ErrChangeLost saying why", err)
	}
	tk, err = p.Publish(ctx, shop, w)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the batch published again is sent", func() bool { return zone.callCount() == 1 })
	zone.release()
	eventually(t, "in sync", func() bool { return ticketInSync(t, p, tk) })
}

// unsureZone is a fakeZone whose first CreateHealthCheck makes the health check and then
// fails, as a call whose answer was lost does; it answers a CallerReference it saw
// before with the health check made for it, as Route53 does.
type unsureZone struct {
	*fakeZone
	refs  []string
	byRef map[string]string
}

func (u *unsureZone) CreateHealthCheck(ctx context.Context, ref string, cfg *types.HealthCheckConfig, tags map[string]string) (string, error) {
	u.mu.Lock()
	u.refs = append(u.refs, ref)
	id, seen := u.byRef[ref]
	first := len(u.refs) == 1
	u.mu.Unlock()
	if seen {
		return id, nil
	}
	id, err := u.fakeZone.CreateHealthCheck(ctx, ref, cfg, tags)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.byRef[ref] = id
	if first {
		return "", errors.New("the answer was lost")
	}
	return id, err
}

// A health check creation that failed is tried again with its CallerReference, so the
// health check Route53 may have made for it is the one used, not left behind.
func TestPublisherRetriesAHealthCheckCreationWithItsReference(t *testing.T) {
	zone := &unsureZone{fakeZone: newFakeZone(), byRef: map[string]string{}}
	p := startPublisher(t, zone)
	ctx := context.Background()
	w := []traffic.Weight{{ID: "default/a", Weight: 100, Paths: paths("10.0.0.1", "", 90, 10)}}
	tk, err := p.Publish(ctx, shop, w)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the batch is reported lost", func() bool {
		_, err := p.InSync(ctx, tk)
		return errors.Is(err, traffic.ErrChangeLost)
	})
	tk, err = p.Publish(ctx, shop, w)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the batch published again is sent", func() bool { return zone.callCount() == 1 })
	zone.release()
	eventually(t, "in sync", func() bool { return ticketInSync(t, p, tk) })
	zone.mu.Lock()
	defer zone.mu.Unlock()
	if len(zone.refs) != 2 || zone.refs[0] != zone.refs[1] {
		t.Errorf("CallerReferences sent: %q, want the failed one sent again", zone.refs)
	}
	if len(zone.hcs) != 1 {
		t.Errorf("%d health checks, want 1", len(zone.hcs))
	}
}

// flakyDeletes is a fakeZone whose first DeleteHealthCheck calls fail, and then as many
// ListResourceRecordSets as failLists says.
type flakyDeletes struct {
	*fakeZone
	fail, failLists int
}

func (f *flakyDeletes) ListResourceRecordSets(ctx context.Context, zone, name string) ([]types.ResourceRecordSet, error) {
	f.mu.Lock()
	if f.fail == 0 && f.failLists > 0 {
		f.failLists--
		f.mu.Unlock()
		return nil, errors.New("Throttling")
	}
	f.mu.Unlock()
	return f.fakeZone.ListResourceRecordSets(ctx, zone, name)
}

func (f *flakyDeletes) DeleteHealthCheck(ctx context.Context, id string) error {
	f.mu.Lock()
	if f.fail > 0 {
		f.fail--
		f.mu.Unlock()
		return errors.New("InternalFailure")
	}
	f.mu.Unlock()
	return f.fakeZone.DeleteHealthCheck(ctx, id)
}

// Health checks whose deletion failed are deleted later, even when their service never
// changes again (its ProdSet is gone), and even when that try fails too.
func TestPublisherDeletesHealthChecksAgainAfterAFailure(t *testing.T) {
	zone := &flakyDeletes{fakeZone: newFakeZone()}
	p := startPublisher(t, zone)
	ctx := context.Background()
	tk, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 100, Paths: paths("10.0.0.1", "nlb.example", 90, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "sent", func() bool { zone.release(); return ticketInSync(t, p, tk) })
	zone.mu.Lock()
	zone.fail = 3      // the two deletions after the removal, and the first try again
	zone.failLists = 1 // then the second try's batch fails
	zone.mu.Unlock()
	tk, err = p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Remove: true}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the removal in sync", func() bool { zone.release(); return ticketInSync(t, p, tk) })
	eventually(t, "the health checks deleted in the end", func() bool {
		zone.mu.Lock()
		defer zone.mu.Unlock()
		return len(zone.hcs) == 0
	})
	if n := zone.callCount(); n != 2 {
		t.Errorf("%d changes, want 2: the sweeps change no record", n)
	}
}

// A drain's batch carries the services of many ProdSets: in a zone that lists in fewer
// pages than there are services, one listing of their common name reads them all; in a
// larger zone each service is listed on its own. Either way the change is the same.
func TestPublisherReadsABatchOfServicesInTheFewestListings(t *testing.T) {
	services := []string{"cart.example.com", "shop.example.com", "api.shop.example.com"}
	for _, tt := range []struct {
		name  string
		size  int64
		lists []string
	}{
		{"a small zone", 0, []string{"example.com."}},
		{"a zone of two pages", 2 * recordsPerPage, []string{"example.com."}},
		{"a zone of three pages", 3 * recordsPerPage, services},
		{"a zone of many pages", 10_000, services},
	} {
		t.Run(tt.name, func(t *testing.T) {
			zone := newFakeZone()
			zone.size = tt.size
			p := startPublisher(t, zone)
			var ticket string
			for i, name := range services {
				svc := traffic.Service{Zone: "Z1", Name: name, TTL: 30 * time.Second}
				tk, err := p.Publish(context.Background(), svc, []traffic.Weight{{ID: fmt.Sprintf("default/p%d", i), Weight: 100, Paths: paths(fmt.Sprintf("10.0.0.%d", i+1), "", 90, 10)}})
				if err != nil {
					t.Fatal(err)
				}
				ticket = tk
			}
			eventually(t, "the change is sent", func() bool { return zone.callCount() == 1 })
			zone.release()
			eventually(t, "the batch is in sync", func() bool { return ticketInSync(t, p, ticket) })
			zone.mu.Lock()
			lists, changes := slices.Clone(zone.lists), len(zone.calls[0])
			zone.mu.Unlock()
			if !slices.Equal(slices.Sorted(slices.Values(lists)), slices.Sorted(slices.Values(tt.lists))) {
				t.Errorf("listed %q, want %q", lists, tt.lists)
			}
			if changes != 2*len(services) {
				t.Errorf("the change holds %d records, want %d (a path and a service record each)", changes, 2*len(services))
			}
		})
	}
}

func TestCommonAncestor(t *testing.T) {
	for _, tt := range []struct {
		names []string
		want  string
	}{
		{[]string{"shop.example.com"}, "shop.example.com."},
		{[]string{"shop.example.com", "cart.example.com."}, "example.com."},
		{[]string{"a.shop.example.com", "b.shop.example.com", "Shop.Example.com"}, "shop.example.com."},
		{[]string{"a.shop.example.com", "b.example.com"}, "example.com."},
		{[]string{"shop.example.com", "shop.example.org"}, "."},
	} {
		if got := commonAncestor(tt.names); got != tt.want {
			t.Errorf("commonAncestor(%q) = %q, want %q", tt.names, got, tt.want)
		}
	}
}

// A finished batch's ticket is remembered for Retain by the publisher's clock, then lost.
func TestPublisherForgetsTicketsAfterRetain(t *testing.T) {
	zone := newFakeZone()
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := startPublisher(t, zone, func(p *Publisher) { p.Retain, p.Now = time.Hour, clock })
	ctx := context.Background()

	t1, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 100, Paths: paths("10.0.0.1", "", 90, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the change is sent", func() bool { return zone.callCount() == 1 })
	zone.release()
	eventually(t, "the batch is in sync", func() bool { return ticketInSync(t, p, t1) })

	mu.Lock()
	now = now.Add(59 * time.Minute)
	mu.Unlock()
	if _, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 50}}); err != nil {
		t.Fatal(err)
	}
	if !ticketInSync(t, p, t1) {
		t.Error("the ticket is forgotten before Retain")
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 20}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.InSync(ctx, t1); !errors.Is(err, traffic.ErrChangeLost) {
		t.Errorf("InSync of a ticket older than Retain = %v, want ErrChangeLost", err)
	}
}

// refusedAs is the error Route53 answers a change with when it will not take a record
// of it, as the client returns it.
func refusedAs(msg string) error {
	return fmt.Errorf("route53 ChangeResourceRecordSets: %w: %w", r53.ErrRefused, &types.InvalidChangeBatch{Messages: []string{msg}})
}

// One service's records that Route53 refuses do not hold up the others': the change goes
// again without them at once, and only that service is told, with Route53's reason.
func TestPublisherGoesOnWithoutTheServiceRoute53Refuses(t *testing.T) {
	zone := newFakeZone()
	poison := traffic.Service{Zone: "Z1", Name: "poison.example.com", TTL: 30 * time.Second}
	zone.refuse = func(changes []types.Change) error {
		for _, c := range changes {
			if name := aws.ToString(c.ResourceRecordSet.Name); sameName(name, poison.Name) {
				return refusedAs(fmt.Sprintf("RRSet of type CNAME with DNS name %s. is not permitted because a conflicting RRSet of type A with the same DNS name already exists in zone example.com.", poison.Name))
			}
		}
		return nil
	}
	p := startPublisher(t, zone)
	ctx := context.Background()
	tkPoison, err := p.Publish(ctx, poison, []traffic.Weight{{ID: "team-b/p", Weight: 100, Paths: paths("10.0.0.9", "", 100, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	tkShop, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 0, Paths: paths("10.0.0.1", "", 100, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the change without the poisoned service is sent", func() bool { return zone.callCount() == 2 })
	zone.release()
	eventually(t, "the other service is in sync", func() bool { return ticketInSync(t, p, tkShop) })
	_, err = p.InSync(ctx, tkPoison)
	var refused *traffic.RefusedError
	if !errors.As(err, &refused) || refused.Service != poison.Name || !strings.Contains(refused.Reason, "conflicting RRSet of type A") {
		t.Fatalf("InSync of the poisoned service: %v, want a RefusedError with Route53's reason", err)
	}
	for id := range zone.records {
		if strings.Contains(id, "team-b/p") {
			t.Errorf("the refused service's record %s was written", id)
		}
	}
	if _, ok := zone.records["drover/default/a"]; !ok {
		t.Errorf("the other service's record was not written: %v", slices.Collect(maps.Keys(zone.records)))
	}
	if n := zone.callCount(); n != 2 {
		t.Errorf("%d ChangeResourceRecordSets calls, want 2: the refused one and one retry without the poison", n)
	}
}

// A name outside the hosted zone is refused before anything is sent.
func TestPublisherRefusesANameOutsideItsZoneBeforeSending(t *testing.T) {
	zone := newFakeZone()
	p := startPublisher(t, zone)
	ctx := context.Background()
	outside := traffic.Service{Zone: "Z1", Name: "shop.example.org", TTL: 30 * time.Second}
	lookalike := traffic.Service{Zone: "Z1", Name: "evilexample.com", TTL: 30 * time.Second}
	tkOut, err := p.Publish(ctx, outside, []traffic.Weight{{ID: "team-b/p", Weight: 100, Paths: paths("10.0.0.9", "", 100, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	tkLook, err := p.Publish(ctx, lookalike, []traffic.Weight{{ID: "team-b/q", Weight: 100, Paths: paths("10.0.0.8", "", 100, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	tkShop, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 100, Paths: paths("10.0.0.1", "", 100, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the change is sent", func() bool { return zone.callCount() == 1 })
	zone.release()
	eventually(t, "in sync", func() bool { return ticketInSync(t, p, tkShop) })
	for _, tk := range []string{tkOut, tkLook} {
		_, err := p.InSync(ctx, tk)
		var refused *traffic.RefusedError
		if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "is not in hosted zone Z1 (example.com.)") {
			t.Errorf("InSync(%s): %v, want a RefusedError naming the zone", tk, err)
		}
	}
	for _, c := range zone.calls[0] {
		if name := aws.ToString(c.ResourceRecordSet.Name); !strings.HasSuffix(canonical(name), ".example.com") && canonical(name) != "example.com" {
			t.Errorf("a record outside the zone was sent: %s", name)
		}
	}
}

// A service whose health checks cannot be created is left out of the batch; the others
// go. A refusal (a limit Route53 will not pass) is reported as such, anything else as a
// lost change the service publishes again.
func TestPublisherLeavesOutAServiceWhoseHealthChecksFail(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		refused bool
	}{
		{"refused", fmt.Errorf("route53 CreateHealthCheck: %w: TooManyHealthChecks", r53.ErrRefused), true},
		{"throttled", errors.New("route53 CreateHealthCheck: Throttling: Rate exceeded"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			zone := newFakeZone()
			zone.hcFail = map[string]error{"cart.example.com": tc.err}
			p := startPublisher(t, zone)
			ctx := context.Background()
			cart := traffic.Service{Zone: "Z1", Name: "cart.example.com", TTL: 30 * time.Second}
			tkCart, err := p.Publish(ctx, cart, []traffic.Weight{{ID: "team-b/c", Weight: 100, Paths: paths("10.0.0.9", "", 100, 0)}})
			if err != nil {
				t.Fatal(err)
			}
			tkShop, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 100, Paths: paths("10.0.0.1", "", 100, 0)}})
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "the change is sent", func() bool { return zone.callCount() == 1 })
			zone.release()
			eventually(t, "in sync", func() bool { return ticketInSync(t, p, tkShop) })
			_, err = p.InSync(ctx, tkCart)
			var refused *traffic.RefusedError
			if got := errors.As(err, &refused); got != tc.refused || (!tc.refused && !errors.Is(err, traffic.ErrChangeLost)) {
				t.Errorf("InSync of the service without health checks: %v; want refused=%v, else ErrChangeLost", err, tc.refused)
			}
		})
	}
}

// A refusal that names no record of the batch fails the batch, as before: nothing tells
// which service to leave out.
func TestPublisherFailsTheBatchOnARefusalItCannotPlace(t *testing.T) {
	zone := newFakeZone()
	zone.refuse = func([]types.Change) error { return refusedAs("Number of records limit of 1000 exceeded.") }
	p := startPublisher(t, zone)
	ctx := context.Background()
	tk, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 100, Paths: paths("10.0.0.1", "", 100, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the batch is reported lost", func() bool {
		_, err := p.InSync(ctx, tk)
		return errors.Is(err, traffic.ErrChangeLost)
	})
	if n := zone.callCount(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func TestBlame(t *testing.T) {
	chunk := []serviceChanges{
		{key: "shop.example.com", changes: []types.Change{
			{ResourceRecordSet: &types.ResourceRecordSet{Name: aws.String("shop.example.com"), SetIdentifier: aws.String("drover/default/a")}},
			{ResourceRecordSet: &types.ResourceRecordSet{Name: aws.String("a.default.drover.shop.example.com"), SetIdentifier: aws.String("drover/default/a/octavia")}},
		}},
		{key: "cart.example.com", changes: []types.Change{
			{ResourceRecordSet: &types.ResourceRecordSet{Name: aws.String("cart.example.com"), SetIdentifier: aws.String("drover/team-b/c")}},
		}},
	}
	for _, tc := range []struct {
		msg  string
		want []int
	}{
		{"RRSet with DNS name cart.example.com. is not permitted in zone example.org.", []int{1}},
		{"Tried to create resource record set [name='A.default.drover.shop.example.com.', type='A', set-identifier='drover/default/a/octavia'] but it already exists", []int{0}},
		{"Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=DELETE, Name=cart.example.com., Type=A, SetIdentifier=drover/team-b/c]", []int{1}},
		{"Tried to delete resource record set [name='shop.example.com.', type='A', set-identifier='drover/default/a'] but it was not found; RRSet with DNS name cart.example.com. is not permitted", []int{0, 1}},
		{"Number of records limit of 1000 exceeded.", nil},
		{"RRSet with DNS name other.example.com. is not permitted in zone example.com.", nil},
	} {
		got := blame(refusedAs(tc.msg), chunk)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("blame(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}

func TestChunked(t *testing.T) {
	g := func(key string, n int) serviceChanges {
		return serviceChanges{key: key, changes: make([]types.Change, n)}
	}
	describe := func(chunks [][]serviceChanges) string {
		var out []string
		for _, c := range chunks {
			var parts []string
			for _, s := range c {
				parts = append(parts, fmt.Sprintf("%s:%d", s.key, len(s.changes)))
			}
			out = append(out, strings.Join(parts, "+"))
		}
		return strings.Join(out, " | ")
	}
	for _, tc := range []struct {
		groups []serviceChanges
		want   string
	}{
		{[]serviceChanges{g("a", 3), g("b", 4)}, "a:3+b:4"},
		{[]serviceChanges{g("a", 7), g("b", 4)}, "a:7 | b:4"},
		{[]serviceChanges{g("a", 6), g("b", 4)}, "a:6+b:4"},
		{[]serviceChanges{g("a", 2), g("b", 23), g("c", 1)}, "a:2 | b:10 | b:10 | b:3+c:1"},
		{[]serviceChanges{g("a", 0), g("b", 10)}, "b:10"},
		{nil, ""},
	} {
		if got := describe(chunked(tc.groups, 10)); got != tc.want {
			t.Errorf("chunked = %q, want %q", got, tc.want)
		}
	}
}

// A set that publishes the weights a drain already handed over for it gets the ticket
// of the batch that carries them, queued or in flight, and costs no change and no
// longer linger.
func TestPublisherAnswersWeightsItCarriesWithTheirBatch(t *testing.T) {
	zone := newFakeZone()
	p := startPublisher(t, zone, func(p *Publisher) { p.Linger, p.MaxLinger = 200*time.Millisecond, 10*time.Second })
	ctx := context.Background()
	t0, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 100, Paths: paths("10.0.0.1", "", 90, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the record is published", func() bool { zone.release(); return ticketInSync(t, p, t0) })
	base := zone.callCount()
	drained := []traffic.Weight{{ID: "default/a", Weight: 0}}
	start := time.Now()
	t1, err := p.Publish(ctx, shop, drained)
	if err != nil {
		t.Fatal(err)
	}
	// The same weights again and again, within each linger: the batch does not wait
	// for them.
	for range 10 {
		time.Sleep(50 * time.Millisecond)
		tk, err := p.Publish(ctx, shop, drained)
		if err != nil {
			t.Fatal(err)
		}
		if tk != t1 {
			t.Fatalf("the same weights got ticket %s, want the batch's %s", tk, t1)
		}
		if zone.callCount() > base {
			break
		}
	}
	eventually(t, "the change is sent", func() bool { return zone.callCount() == base+1 })
	if took := time.Since(start); took > 700*time.Millisecond {
		t.Errorf("the change went %s after the first weight: weights it already had made it linger", took)
	}
	// In flight (PENDING): the same weights get its ticket; a different one a new batch.
	tk, err := p.Publish(ctx, shop, drained)
	if err != nil {
		t.Fatal(err)
	}
	if tk != t1 {
		t.Errorf("weights the change in flight carries got ticket %s, want %s", tk, t1)
	}
	other, err := p.Publish(ctx, shop, []traffic.Weight{{ID: "default/a", Weight: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if batchOf(other) == batchOf(t1) {
		t.Error("a different weight was answered with the batch in flight")
	}
	zone.release()
	eventually(t, "the first batch is in sync", func() bool { return ticketInSync(t, p, t1) })
	eventually(t, "the second change is sent", func() bool { return zone.callCount() == base+2 })
	zone.release()
	eventually(t, "the second batch is in sync", func() bool { return ticketInSync(t, p, other) })
	if n := zone.callCount() - base; n != 2 {
		t.Errorf("%d changes, want 2", n)
	}
}

// Once a zone is known, a batch reads nothing but the records before its change, however
// many services it holds: the zone's size is read again after a batch, when old.
func TestPublisherReadsOnlyTheRecordsOnTheWayToAChange(t *testing.T) {
	zone := newFakeZone()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := startPublisher(t, zone, func(p *Publisher) { p.Now = clock })
	publish := func(round int) {
		var ticket string
		for i, name := range []string{"cart.example.com", "shop.example.com"} {
			svc := traffic.Service{Zone: "Z1", Name: name, TTL: 30 * time.Second}
			tk, err := p.Publish(context.Background(), svc, []traffic.Weight{{ID: fmt.Sprintf("default/p%d", i), Weight: int32(round), Paths: paths(fmt.Sprintf("10.0.0.%d", i+1), "", 90, 10)}})
			if err != nil {
				t.Fatal(err)
			}
			ticket = tk
		}
		eventually(t, "the change is sent", func() bool { return zone.callCount() == round })
		zone.release()
		eventually(t, "the batch is in sync", func() bool { return ticketInSync(t, p, ticket) })
	}
	publish(1)
	zone.mu.Lock()
	reads, lists := zone.zoneReads, len(zone.lists)
	zone.mu.Unlock()
	if reads != 1 || lists != 1 {
		t.Fatalf("the first batch read the zone %d times and listed %d times, want 1 and 1", reads, lists)
	}
	publish(2)
	zone.mu.Lock()
	reads, lists = zone.zoneReads, len(zone.lists)
	zone.mu.Unlock()
	if reads != 1 || lists != 2 {
		t.Errorf("the second batch read the zone %d times in all and listed %d times, want 1 and 2: one listing before its change", reads, lists)
	}
	mu.Lock()
	now = now.Add(recordCountMaxAge + time.Second)
	mu.Unlock()
	publish(3)
	eventually(t, "the zone's size is read again after the batch", func() bool {
		zone.mu.Lock()
		defer zone.mu.Unlock()
		return zone.zoneReads == 2
	})
}

func TestBucketByService(t *testing.T) {
	rec := func(name string) types.ResourceRecordSet { return types.ResourceRecordSet{Name: aws.String(name)} }
	all := []types.ResourceRecordSet{
		rec("shop.example.com."), rec("a.default.drover.shop.example.com."),
		rec("cart.shop.example.com."), rec("b.default.drover.cart.shop.example.com."),
		// A Prod whose name holds ".drover." itself.
		rec("x.drover.y.default.drover.shop.example.com."),
		rec("other.example.com."), rec("c.default.drover.other.example.com."),
		rec("h0123456789abcdef0123.drover.cart.shop.example.com."),
	}
	got := bucketByService(all, []string{"shop.example.com", "Cart.Shop.example.com."})
	names := func(rs []types.ResourceRecordSet) []string {
		var out []string
		for _, r := range rs {
			out = append(out, aws.ToString(r.Name))
		}
		return out
	}
	want := map[string][]string{
		"shop.example.com":      {"shop.example.com.", "a.default.drover.shop.example.com.", "x.drover.y.default.drover.shop.example.com."},
		"cart.shop.example.com": {"cart.shop.example.com.", "b.default.drover.cart.shop.example.com.", "h0123456789abcdef0123.drover.cart.shop.example.com."},
	}
	if len(got) != len(want) {
		t.Fatalf("buckets %v", got)
	}
	for svc, w := range want {
		if g := names(got[svc]); !slices.Equal(g, w) {
			t.Errorf("%s: %v, want %v", svc, g, w)
		}
	}
}
