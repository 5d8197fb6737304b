// Package route53 is drover's Route53 traffic provider: a traffic.Publisher that writes
// the two levels of weighted records of drover's traffic model (docs/traffic.md), with a
// health check on each path, and batches every change to a hosted zone into one
// ChangeResourceRecordSets call at a time.
//
// Publish does not call Route53. It adds the weights to the zone's next batch and returns
// a ticket at once. One worker per zone sends the batch after a short linger, as one
// change (chunked only past Route53's limit), follows it with GetChange until INSYNC, and
// only then takes the next batch: weights published by several ProdSets while a change is
// in flight go out together, and the zone never sees two competing changes from drover.
// InSync answers from what the worker saw, so ProdSets asking every second cost no
// request. A ticket the Publisher does not know (a manager restart) or whose batch failed
// is reported with traffic.ErrChangeLost: the caller publishes again, which is safe
// because every change is computed against the records Route53 holds at the time.
package route53

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	"github.com/go-logr/logr"

	r53 "github.com/drover-dev/drover/internal/cloud/route53"
	"github.com/drover-dev/drover/internal/traffic"
)

// API is what the Publisher needs of Route53 (internal/cloud/route53 implements it).
type API interface {
	// ChangeResourceRecordSets submits one change batch to a zone and returns the
	// change id. It wraps ErrPriorRequestNotComplete when the zone is busy.
	ChangeResourceRecordSets(ctx context.Context, zoneID string, changes []types.Change, comment string) (string, error)
	// GetChange returns the status of a change: PENDING or INSYNC.
	GetChange(ctx context.Context, changeID string) (types.ChangeStatus, error)
	// ListResourceRecordSets returns the record sets of name and every name below it.
	ListResourceRecordSets(ctx context.Context, zoneID, name string) ([]types.ResourceRecordSet, error)
	// HostedZone returns a hosted zone (its record count decides how a batch of many
	// services reads their records).
	HostedZone(ctx context.Context, zoneID string) (*types.HostedZone, error)
	// CreateHealthCheck creates a health check with tags and returns its id.
	CreateHealthCheck(ctx context.Context, callerReference string, cfg *types.HealthCheckConfig, tags map[string]string) (string, error)
	// DeleteHealthCheck deletes a health check; one already gone is no error.
	DeleteHealthCheck(ctx context.Context, id string) error
	// HealthChecks returns every health check of the account.
	HealthChecks(ctx context.Context) ([]types.HealthCheck, error)
	// HealthCheckTags returns the tags of each health check, by id.
	HealthCheckTags(ctx context.Context, ids []string) (map[string]map[string]string, error)
}

// ErrPriorRequestNotComplete is what API implementations wrap when Route53 refused a
// change because another change to the zone is still being applied.
var ErrPriorRequestNotComplete = r53.ErrPriorRequestNotComplete

// Tags on the health checks drover creates.
const (
	TagOwner   = "drover.dev/owner"
	TagService = "drover.dev/service"
	TagProd    = "drover.dev/prod"
	TagPath    = "drover.dev/path"
	TagConfig  = "drover.dev/config"
)

// callerReferencePrefix starts the CallerReference of every health check drover
// creates, so that finding drover's among an account's health checks reads the tags of
// those only.
const callerReferencePrefix = "drover-"

// recordsPerPage is the most record sets one ListResourceRecordSets answer holds.
const recordsPerPage = 300

// maxChangesPerCall keeps one call within Route53's limits (1,000 records per call, an
// UPSERT counting twice).
const maxChangesPerCall = 500

// Publisher is the Route53 traffic.Publisher. Run it with Start (it is a manager
// Runnable that needs the leader).
type Publisher struct {
	API API
	// Owner tells this installation's records and health checks from others' in the same
	// account (SetIdentifier prefix and the drover.dev/owner tag). Defaults to "drover".
	Owner string
	// Linger is how long a zone's batch waits for more weights before it goes: it goes
	// once no weights came for Linger, or MaxLinger after the first, whichever is sooner.
	// Defaults to 200ms.
	Linger time.Duration
	// MaxLinger bounds the wait while weights keep coming: the ProdSets of a drained
	// cluster publish one after another, a few reconciled at a time, and a batch that
	// left after the first of them would make the others wait for it to be INSYNC.
	// Defaults to 2s (at least Linger).
	MaxLinger time.Duration
	// PollInterval is how often a change in flight is checked. Defaults to 2s.
	PollInterval time.Duration
	// Retain is how long a finished batch's ticket is remembered. Defaults to 10m.
	Retain time.Duration
	Log    logr.Logger
	// OnLinger, when set, is told of every linger of a zone's batch, from its first
	// weight to its end (the benchmarks count it as a deliberate wait).
	OnLinger func(zone string, from, to time.Time)
	// Now is the clock (tickets' retention, the batches' linger deadline, health check
	// caller references); nil means time.Now.
	Now func() time.Time

	once    sync.Once
	boot    string
	mu      sync.Mutex
	ctx     context.Context
	seq     int
	zones   map[string]*zone
	tickets map[string]*batch
	index   []hcEntry
	loaded  bool
	// unsure are the CallerReferences of health check creations that failed, by the
	// health check (key and digest) they were for. Route53 may have made it (the answer
	// was lost, or tagging it failed): the next creation sends the same reference, and
	// Route53 answers with that health check instead of making a second one and leaving
	// the first behind, untagged, where no drover finds it.
	unsure map[hcEntry]string
}

var _ traffic.Publisher = (*Publisher)(nil)

type batchState int

const (
	queued batchState = iota
	submitted
	inSync
	failed
)

type batch struct {
	ticket   string
	zone     string
	intents  map[string]*serviceIntent // by canonical service name
	state    batchState
	err      error
	changes  []string // Route53 change ids
	finished time.Time
	// refused are the services whose records did not go out with the batch, by
	// canonical name, and why (a *traffic.RefusedError, or traffic.ErrChangeLost for a
	// failure that may pass): the rest of the batch went on without them.
	refused map[string]error
}

// ticketSeparator joins a batch's ticket and a service's name into the ticket Publish
// returns: InSync answers for the service, which the batch may have gone without.
const ticketSeparator = "#"

type zone struct {
	id string
	// name is the hosted zone's name, read once by the zone's worker ("" until then, or
	// when it could not be read).
	name string
	next *batch
	// sending is the batch being sent or followed until in sync; nil between batches.
	sending *batch
	// records is the zone's record count as last read, and when: it decides how a batch
	// of many services reads their records, and is read again after a batch once it is
	// older than recordCountMaxAge, not before one.
	records     int64
	recordsRead time.Time
	// added is when weights that changed the next batch last came: it goes once none
	// came for Linger.
	added time.Time
	wake  chan struct{}
	// failures counts the batches that failed in a row: the worker waits longer before
	// each next one (failureBackoff), so a zone Route53 keeps refusing (permissions, a
	// deleted zone) is not asked again every second by every ProdSet.
	failures int
	// undeleted counts the batches in a row after which unused health checks could not
	// be deleted: their services are swept again after failureBackoff of it.
	undeleted int
}

// failureBackoff is how long a zone's worker waits after n failed batches in a row: 1 s
// doubling up to a minute.
func failureBackoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return min(time.Second<<min(n-1, 6), time.Minute)
}

func (p *Publisher) init() {
	p.once.Do(func() {
		if p.Owner == "" {
			p.Owner = DefaultOwner
		}
		if p.Linger <= 0 {
			p.Linger = 200 * time.Millisecond
		}
		if p.MaxLinger <= 0 {
			p.MaxLinger = 2 * time.Second
		}
		p.MaxLinger = max(p.MaxLinger, p.Linger)
		if p.PollInterval <= 0 {
			p.PollInterval = 2 * time.Second
		}
		if p.Retain <= 0 {
			p.Retain = 10 * time.Minute
		}
		if p.Now == nil {
			p.Now = time.Now
		}
		p.boot = strconv.FormatInt(p.Now().UnixNano(), 36)
		p.zones = map[string]*zone{}
		p.tickets = map[string]*batch{}
		p.unsure = map[hcEntry]string{}
	})
}

// Start runs the zone workers until ctx ends.
func (p *Publisher) Start(ctx context.Context) error {
	p.init()
	p.mu.Lock()
	p.ctx = ctx
	for _, z := range p.zones {
		go p.work(ctx, z)
	}
	p.mu.Unlock()
	<-ctx.Done()
	return nil
}

// PublishesPaths: the Route53 provider writes each Prod's path records.
func (p *Publisher) PublishesPaths() bool { return true }

// NeedLeaderElection: only the leader writes DNS.
func (p *Publisher) NeedLeaderElection() bool { return true }

// Publish queues weights for svc's zone and returns the ticket of the batch they go in.
func (p *Publisher) Publish(ctx context.Context, svc traffic.Service, weights []traffic.Weight) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p.init()
	if svc.Zone == "" || svc.Name == "" {
		return "", fmt.Errorf("publishing weights: the service needs a zone and a name, got %q %q", svc.Zone, svc.Name)
	}
	for _, w := range weights {
		if w.ID == "" || (!w.Remove && (w.Weight < 0 || w.Weight > 255)) {
			return "", fmt.Errorf("publishing weights of %s: invalid record %+v", svc.Name, w)
		}
		if w.Paths != nil && (w.Paths.OctaviaWeight < 0 || w.Paths.OctaviaWeight > 255 || w.Paths.NLBWeight < 0 || w.Paths.NLBWeight > 255) {
			return "", fmt.Errorf("publishing weights of %s: invalid path weights for %s: %+v", svc.Name, w.ID, *w.Paths)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	z := p.zones[svc.Zone]
	if z == nil {
		z = &zone{id: svc.Zone, wake: make(chan struct{}, 1)}
		p.zones[svc.Zone] = z
		if p.ctx != nil {
			go p.work(p.ctx, z)
		}
	}
	key := canonical(svc.Name)
	if z.next == nil || z.next.intents[key] == nil {
		// The change in flight carries these very weights already (a drain handed them
		// over for the set, which now publishes the same): its ticket, no second change.
		if b := z.sending; b != nil && b.intents[key] != nil && b.intents[key].Service == svc && b.intents[key].carries(weights) {
			return b.ticket + ticketSeparator + key, nil
		}
	}
	si := p.nextBatch(z).intents[key]
	if si == nil {
		si = &serviceIntent{}
		z.next.intents[key] = si
	}
	if si.Service == svc && si.carries(weights) {
		// Nothing new for the batch: it does not linger longer for it.
		return z.next.ticket + ticketSeparator + key, nil
	}
	si.Service = svc
	si.merge(weights)
	z.added = time.Now() // the linger is real time, whatever the clock
	select {
	case z.wake <- struct{}{}:
	default:
	}
	p.prune()
	return z.next.ticket + ticketSeparator + key, nil
}

// nextBatch is z's next batch, begun if there is none. Called with mu held.
func (p *Publisher) nextBatch(z *zone) *batch {
	if z.next == nil {
		p.seq++
		z.next = &batch{ticket: fmt.Sprintf("drover/%s/%s/%d", p.boot, z.id, p.seq), zone: z.id, intents: map[string]*serviceIntent{}, refused: map[string]error{}}
		p.tickets[z.next.ticket] = z.next
	}
	return z.next
}

// sweep plans services of z again after d, with no new weights: a batch that changes no
// record and deletes the services' health checks no record uses. It is how a health
// check whose deletion failed is deleted: otherwise it would wait for its service's
// next change, which never comes once the service's ProdSet is gone.
func (p *Publisher) sweep(ctx context.Context, z *zone, services []string, d time.Duration) {
	time.AfterFunc(d, func() {
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		b := p.nextBatch(z)
		for _, svc := range services {
			if b.intents[svc] == nil {
				b.intents[svc] = &serviceIntent{Service: traffic.Service{Zone: z.id, Name: svc}}
			}
		}
		select {
		case z.wake <- struct{}{}:
		default:
		}
	})
}

// InSync reports whether the batch of ticket is in sync in Route53, and whether the
// ticket's service went with it.
func (p *Publisher) InSync(_ context.Context, ticket string) (bool, error) {
	p.init()
	p.mu.Lock()
	defer p.mu.Unlock()
	batchTicket, service, _ := strings.Cut(ticket, ticketSeparator)
	b := p.tickets[batchTicket]
	switch {
	case b == nil:
		return false, fmt.Errorf("%w: change %s is not known to this manager", traffic.ErrChangeLost, ticket)
	case b.refused[service] != nil:
		return false, b.refused[service]
	case b.state == failed:
		return false, fmt.Errorf("%w: %v", traffic.ErrChangeLost, b.err)
	}
	return b.state == inSync, nil
}

// prune forgets finished batches older than Retain. Called with mu held.
func (p *Publisher) prune() {
	cutoff := p.Now().Add(-p.Retain)
	for t, b := range p.tickets {
		if (b.state == inSync || b.state == failed) && b.finished.Before(cutoff) {
			delete(p.tickets, t)
		}
	}
}

// work sends z's batches one at a time until ctx ends.
func (p *Publisher) work(ctx context.Context, z *zone) {
	log := p.Log.WithValues("zone", z.id)
	for {
		select {
		case <-ctx.Done():
			return
		case <-z.wake:
		}
		if !p.linger(ctx, z) {
			return
		}
		p.mu.Lock()
		b := z.next
		z.next = nil
		if b != nil {
			b.state = submitted
			z.sending = b
		}
		p.mu.Unlock()
		if b == nil {
			continue
		}
		orphans, err := p.send(ctx, log, z, b)
		p.mu.Lock()
		z.sending = nil
		b.finished = p.Now()
		if err != nil {
			b.state, b.err = failed, err
		} else {
			b.state = inSync
		}
		p.mu.Unlock()
		if err != nil {
			z.failures++
			log.Error(err, "DNS change batch failed; its ProdSets publish again", "ticket", b.ticket, "retryAfter", failureBackoff(z.failures))
			// Nobody publishes a sweep again: it is swept again.
			var sweeps []string
			for name, si := range b.intents {
				if len(si.Weights) == 0 {
					sweeps = append(sweeps, name)
				}
			}
			if len(sweeps) > 0 {
				p.sweep(ctx, z, sweeps, failureBackoff(z.failures))
			}
			if !sleep(ctx, failureBackoff(z.failures)) {
				return
			}
			continue
		}
		z.failures = 0
		p.refreshRecordCount(ctx, log, z)
		if undeleted := p.deleteHealthChecks(ctx, log, orphans); len(undeleted) > 0 {
			z.undeleted++
			p.sweep(ctx, z, undeleted, failureBackoff(z.undeleted))
		} else {
			z.undeleted = 0
		}
	}
}

// linger waits until no weights came to z for Linger, or MaxLinger passed since it
// began (in real time, whatever Now says), so that the weights of one event go out in
// one batch: a drain hands every set's weights over at once, and the sets' own
// reconciles may add more. Weights that only repeat what the batch has do not count. It
// returns false when ctx ends.
func (p *Publisher) linger(ctx context.Context, z *zone) bool {
	start := time.Now()
	deadline := start.Add(p.MaxLinger)
	for {
		p.mu.Lock()
		last := z.added
		p.mu.Unlock()
		if last.Before(start) {
			last = start
		}
		quiet := last.Add(p.Linger)
		if quiet.After(deadline) {
			quiet = deadline
		}
		wait := time.Until(quiet)
		if wait <= 0 {
			p.lingered(z, start)
			return true
		}
		if !sleep(ctx, wait) {
			return false
		}
	}
}

func (p *Publisher) lingered(z *zone, start time.Time) {
	if p.OnLinger != nil {
		p.OnLinger(z.id, start, time.Now())
	}
}

// send computes the batch's changes against what the zone holds, creates the health
// checks they need, submits them and waits until they are in sync. It returns the health
// checks no record uses any more.
//
// One service's records never hold up the others': a service whose name is outside the
// zone is refused before anything is sent, one whose health checks cannot be created is
// left out, and when Route53 refuses a change for records it names, the change goes again
// without the services those records belong to. Each is told through InSync.
func (p *Publisher) send(ctx context.Context, log logr.Logger, z *zone, b *batch) ([]string, error) {
	if err := p.loadIndex(ctx); err != nil {
		return nil, err
	}
	names := p.insideZone(ctx, log, z, b, slices.Sorted(maps.Keys(b.intents)))
	services := make([]string, 0, len(names))
	for _, name := range names {
		services = append(services, b.intents[name].Service.Name)
	}
	if len(services) == 0 {
		return nil, nil
	}
	records, err := p.records(ctx, log, z, services)
	if err != nil {
		return nil, err
	}
	healthChecks := map[string][]hcEntry{}
	p.mu.Lock()
	for _, e := range p.index {
		if b.intents[e.Key.Service] != nil {
			healthChecks[e.Key.Service] = append(healthChecks[e.Key.Service], e)
		}
	}
	p.mu.Unlock()
	var groups []serviceChanges
	for _, name := range names {
		si := *b.intents[name]
		listed := records(si.Service.Name)
		ids, err := p.ensureHealthChecks(ctx, neededHealthChecks(p.Owner, si))
		if err != nil {
			p.refuse(log, b, name, si.Service.Name, err)
			continue
		}
		// The service's own health checks, as they were before this batch created any:
		// planService looks at no other (to find those no record uses any more), and
		// those just created are in use.
		plan := planService(p.Owner, si, newCurrent(p.Owner, si.Service.Name, listed), ids, healthChecks[name])
		if len(plan.Skipped) > 0 {
			log.Info("not publishing service records of Prods that have no path yet", "service", si.Service.Name, "prods", plan.Skipped)
		}
		groups = append(groups, serviceChanges{key: name, service: si.Service.Name, changes: plan.Changes, orphans: plan.Orphaned})
	}
	for _, chunk := range chunked(groups, maxChangesPerCall) {
		if err := p.submitChunk(ctx, log, b, chunk); err != nil {
			return nil, err
		}
	}
	var orphans []string
	for _, g := range groups {
		p.mu.Lock()
		refused := b.refused[g.key] != nil
		p.mu.Unlock()
		if !refused {
			orphans = append(orphans, g.orphans...)
		}
	}
	return orphans, nil
}

// serviceChanges are one service's changes in a batch (or the part of them that fits in
// one call).
type serviceChanges struct {
	key, service string
	changes      []types.Change
	orphans      []string
}

// chunked splits groups into calls of at most limit changes, keeping a service's changes
// in one call unless they alone are more than limit.
func chunked(groups []serviceChanges, limit int) [][]serviceChanges {
	var out [][]serviceChanges
	var cur []serviceChanges
	n := 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, n = nil, 0
	}
	for _, g := range groups {
		if len(g.changes) == 0 {
			continue
		}
		if n+len(g.changes) > limit {
			flush()
		}
		for len(g.changes) > limit {
			part := g
			part.changes = g.changes[:limit]
			out = append(out, []serviceChanges{part})
			g.changes = g.changes[limit:]
		}
		cur = append(cur, g)
		n += len(g.changes)
	}
	flush()
	return out
}

// submitChunk submits one call's changes and waits until they are in sync. When Route53
// refuses the call for records it names, the services of those records are refused and
// the call goes again without them; a refusal that names none of them fails the batch.
func (p *Publisher) submitChunk(ctx context.Context, log logr.Logger, b *batch, chunk []serviceChanges) error {
	for {
		var changes []types.Change
		for _, g := range chunk {
			changes = append(changes, g.changes...)
		}
		if len(changes) == 0 {
			return nil
		}
		id, err := p.submit(ctx, b.zone, changes)
		if errors.Is(err, r53.ErrRefused) {
			blamed := blame(err, chunk)
			if len(blamed) == 0 {
				return err
			}
			for _, i := range blamed {
				p.refuse(log, b, chunk[i].key, chunk[i].service, err)
			}
			chunk = slices.DeleteFunc(slices.Clone(chunk), func(g serviceChanges) bool {
				p.mu.Lock()
				defer p.mu.Unlock()
				return b.refused[g.key] != nil
			})
			continue
		}
		if err != nil {
			return err
		}
		p.mu.Lock()
		b.changes = append(b.changes, id)
		p.mu.Unlock()
		log.V(1).Info("DNS change submitted", "change", id, "records", len(changes), "ticket", b.ticket)
		return p.waitInSync(ctx, id)
	}
}

// insideZone returns the names of the batch's services that are the zone's name or below
// it, refusing the others: Route53 would refuse the whole change for one of them. When the
// zone's name cannot be read, every name is let through and Route53 decides.
func (p *Publisher) insideZone(ctx context.Context, log logr.Logger, z *zone, b *batch, names []string) []string {
	if z.name == "" {
		hz, err := p.API.HostedZone(ctx, z.id)
		if err != nil {
			log.V(1).Info("reading the hosted zone's name failed; Route53 judges the names", "error", err.Error())
			return names
		}
		z.name = canonical(aws.ToString(hz.Name))
		z.records, z.recordsRead = aws.ToInt64(hz.ResourceRecordSetCount), p.Now()
	}
	return slices.DeleteFunc(names, func(name string) bool {
		if name == z.name || strings.HasSuffix(name, "."+z.name) {
			return false
		}
		svc := b.intents[name].Service.Name
		p.mu.Lock()
		b.refused[name] = &traffic.RefusedError{Service: svc, Reason: fmt.Sprintf("%s is not in hosted zone %s (%s.)", canonical(svc), z.id, z.name)}
		p.mu.Unlock()
		log.Info("not publishing records outside their hosted zone", "service", svc, "zoneName", z.name)
		return true
	})
}

// refuse records that the batch goes without a service's records, and why: a
// *traffic.RefusedError when Route53 refused them as they are, else traffic.ErrChangeLost
// (the caller publishes again).
func (p *Publisher) refuse(log logr.Logger, b *batch, key, service string, err error) {
	var why error = &traffic.RefusedError{Service: service, Reason: refusalReason(err)}
	if !errors.Is(err, r53.ErrRefused) {
		why = fmt.Errorf("%w: %v", traffic.ErrChangeLost, err)
	}
	p.mu.Lock()
	b.refused[key] = why
	p.mu.Unlock()
	log.Info("the batch goes without a service's records", "service", service, "reason", why.Error())
}

// maxReasonLength bounds a refusal's reason as it is shown in a ProdSet's status.
const maxReasonLength = 512

// refusalReason is Route53's message of a refusal.
func refusalReason(err error) string {
	var icb *types.InvalidChangeBatch
	var ae smithy.APIError
	msg := err.Error()
	switch {
	case errors.As(err, &icb) && len(icb.Messages) > 0:
		msg = strings.Join(icb.Messages, "; ")
	case errors.As(err, &ae):
		msg = ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	if len(msg) > maxReasonLength {
		msg = msg[:maxReasonLength] + "…"
	}
	return msg
}

// refusedRecord finds the records a Route53 refusal names: their DNS names
// ("name='a.example.com.'", "DNS name a.example.com.", "Name=a.example.com") and
// SetIdentifiers ("set-identifier='drover/ns/p'", "SetIdentifier=drover/ns/p").
var refusedRecord = regexp.MustCompile(`(?i)(?:name='|dns name |name=|set-identifier='|setidentifier=)([^\s',\]\[]+)`)

// blame returns the indices of the chunk's services whose records a refusal names.
func blame(err error, chunk []serviceChanges) []int {
	owner := map[string]int{}
	for i, g := range chunk {
		for _, c := range g.changes {
			if c.ResourceRecordSet == nil {
				continue
			}
			owner["name "+canonical(aws.ToString(c.ResourceRecordSet.Name))] = i
			if id := aws.ToString(c.ResourceRecordSet.SetIdentifier); id != "" {
				owner["id "+id] = i
			}
		}
	}
	var out []int
	for _, m := range refusedRecord.FindAllStringSubmatch(refusalReason(err)+" "+err.Error(), -1) {
		for _, k := range []string{"name " + canonical(m[1]), "id " + m[1]} {
			if i, ok := owner[k]; ok && !slices.Contains(out, i) {
				out = append(out, i)
			}
		}
	}
	return out
}

// records reads the record sets of a batch's services. A batch of one service, or of
// services in a zone too large to list in fewer pages than there are services, lists
// each service's names on its own; otherwise one listing of the services' closest
// common name covers them all (a drain's batch holds the services of tens of ProdSets:
// one or a few calls instead of one each). planService keeps only each service's own
// records of what it is given.
func (p *Publisher) records(ctx context.Context, log logr.Logger, z *zone, services []string) (func(string) []types.ResourceRecordSet, error) {
	zoneID := z.id
	if ancestor := commonAncestor(services); len(services) > 1 && ancestor != "." {
		if z.recordsRead.IsZero() {
			// Not read with the zone's name (that read failed): read it now.
			p.refreshRecordCount(ctx, log, z)
		}
		switch {
		case z.recordsRead.IsZero():
			log.V(1).Info("the hosted zone's size is not known; listing each service's records")
		case listingPages(z.records) < len(services):
			all, err := p.API.ListResourceRecordSets(ctx, zoneID, ancestor)
			if err != nil {
				return nil, fmt.Errorf("reading the records under %s: %w", ancestor, err)
			}
			byService := bucketByService(all, services)
			return func(svc string) []types.ResourceRecordSet { return byService[canonical(svc)] }, nil
		}
	}
	byService := map[string][]types.ResourceRecordSet{}
	for _, svc := range services {
		listed, err := p.API.ListResourceRecordSets(ctx, zoneID, svc)
		if err != nil {
			return nil, fmt.Errorf("reading the records of %s: %w", svc, err)
		}
		byService[svc] = listed
	}
	return func(svc string) []types.ResourceRecordSet { return byService[svc] }, nil
}

// recordCountMaxAge is how long a zone's record count is used before it is read again
// (after a batch, never on the way to one). It only chooses between one listing of the
// batch's common name and one per service: a stale count costs calls, never a wrong
// record.
const recordCountMaxAge = 5 * time.Minute

// refreshRecordCount reads the zone's record count when it is older than
// recordCountMaxAge.
func (p *Publisher) refreshRecordCount(ctx context.Context, log logr.Logger, z *zone) {
	if !z.recordsRead.IsZero() && p.Now().Sub(z.recordsRead) < recordCountMaxAge {
		return
	}
	hz, err := p.API.HostedZone(ctx, z.id)
	if err != nil {
		log.V(1).Info("reading the hosted zone's size failed", "error", err.Error())
		return
	}
	if z.name == "" {
		z.name = canonical(aws.ToString(hz.Name))
	}
	z.records, z.recordsRead = aws.ToInt64(hz.ResourceRecordSetCount), p.Now()
}

// bucketByService sorts the records of one listing by the service of services they are
// under (its own name, or a Prod's name "<...>.drover.<service>"), so that each
// service's plan looks at its own records, not at the whole listing: a drain's batch of
// hundreds of services reads the zone once and plans in time proportional to it.
// Records under none of them are left out; planService keeps only the owner's.
func bucketByService(all []types.ResourceRecordSet, services []string) map[string][]types.ResourceRecordSet {
	want := make(map[string]bool, len(services))
	for _, svc := range services {
		want[canonical(svc)] = true
	}
	out := make(map[string][]types.ResourceRecordSet, len(services))
	const marker = ".drover."
	for _, r := range all {
		name := canonical(aws.ToString(r.Name))
		if want[name] {
			out[name] = append(out[name], r)
			continue
		}
		for rest := name; ; {
			i := strings.Index(rest, marker)
			if i < 0 {
				break
			}
			rest = rest[i+len(marker)-1:] // keep the dot before the next label
			if svc := rest[1:]; want[svc] {
				out[svc] = append(out[svc], r)
				break
			}
		}
	}
	return out
}

// listingPages is how many ListResourceRecordSets answers a zone of n record sets takes.
func listingPages(n int64) int {
	return int(max(1, (n+recordsPerPage-1)/recordsPerPage))
}

// commonAncestor is the longest name every one of names is, or is below:
// "a.shop.example.com" and "b.example.com" give "example.com.".
func commonAncestor(names []string) string {
	var common []string
	for i, name := range names {
		labels := strings.Split(canonical(name), ".")
		slices.Reverse(labels)
		if i == 0 {
			common = labels
			continue
		}
		n := 0
		for n < len(common) && n < len(labels) && common[n] == labels[n] {
			n++
		}
		common = common[:n]
	}
	slices.Reverse(common)
	return strings.Join(common, ".") + "."
}

// submit sends one change, waiting out another change to the zone still being applied
// (by another manager, or one this manager lost track of) rather than competing with it.
func (p *Publisher) submit(ctx context.Context, zoneID string, changes []types.Change) (string, error) {
	for {
		id, err := p.API.ChangeResourceRecordSets(ctx, zoneID, changes, "drover")
		if !errors.Is(err, ErrPriorRequestNotComplete) {
			return id, err
		}
		if !sleep(ctx, p.PollInterval) {
			return "", ctx.Err()
		}
	}
}

func (p *Publisher) waitInSync(ctx context.Context, id string) error {
	for {
		st, err := p.API.GetChange(ctx, id)
		if err != nil {
			return fmt.Errorf("following DNS change %s: %w", id, err)
		}
		if st == types.ChangeStatusInsync {
			return nil
		}
		if !sleep(ctx, p.PollInterval) {
			return ctx.Err()
		}
	}
}

// loadIndex reads, once, the health checks this owner created earlier.
func (p *Publisher) loadIndex(ctx context.Context) error {
	p.mu.Lock()
	loaded := p.loaded
	p.mu.Unlock()
	if loaded {
		return nil
	}
	// Only the health checks drover created (by their CallerReference) have their tags
	// read: ten per request, against an account-wide budget of five requests a second.
	all, err := p.API.HealthChecks(ctx)
	if err != nil {
		return fmt.Errorf("reading drover's health checks: %w", err)
	}
	var ids []string
	for _, hc := range all {
		if strings.HasPrefix(aws.ToString(hc.CallerReference), callerReferencePrefix) {
			ids = append(ids, aws.ToString(hc.Id))
		}
	}
	tagged := map[string]map[string]string{}
	if len(ids) > 0 {
		if tagged, err = p.API.HealthCheckTags(ctx, ids); err != nil {
			return fmt.Errorf("reading the tags of drover's health checks: %w", err)
		}
	}
	var index []hcEntry
	for id, tags := range tagged {
		if tags[TagOwner] != p.Owner {
			continue
		}
		index = append(index, hcEntry{ID: id, Digest: tags[TagConfig], Key: hcKey{
			Service: canonical(tags[TagService]), ID: tags[TagProd], Path: Path(tags[TagPath]),
		}})
	}
	slices.SortFunc(index, func(a, b hcEntry) int { return strings.Compare(a.ID, b.ID) })
	p.mu.Lock()
	p.index, p.loaded = index, true
	p.mu.Unlock()
	return nil
}

// ensureHealthChecks returns the id of each needed health check, creating those that do
// not exist with their configuration yet.
func (p *Publisher) ensureHealthChecks(ctx context.Context, needed []hcSpec) (map[hcKey]string, error) {
	ids := map[hcKey]string{}
	for _, spec := range needed {
		p.mu.Lock()
		for _, e := range p.index {
			if e.Key == spec.Key && e.Digest == spec.Digest {
				ids[spec.Key] = e.ID
			}
		}
		p.mu.Unlock()
		if ids[spec.Key] != "" {
			continue
		}
		cfg := spec.Config
		which := hcEntry{Key: spec.Key, Digest: spec.Digest}
		p.mu.Lock()
		ref := p.unsure[which]
		p.mu.Unlock()
		if ref == "" {
			ref = p.callerReference(spec)
		}
		id, err := p.API.CreateHealthCheck(ctx, ref, &cfg, map[string]string{
			TagOwner: p.Owner, TagService: spec.Key.Service, TagProd: spec.Key.ID, TagPath: string(spec.Key.Path), TagConfig: spec.Digest,
		})
		p.mu.Lock()
		if err != nil && !errors.Is(err, r53.ErrHealthCheckAlreadyExists) {
			p.unsure[which] = ref
		} else {
			// Done, or the reference is spent (its health check since deleted): a new one.
			delete(p.unsure, which)
		}
		if err == nil {
			p.index = append(p.index, hcEntry{ID: id, Key: spec.Key, Digest: spec.Digest})
		}
		p.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("creating the %s health check of %s: %w", spec.Key.Path, spec.Key.ID, err)
		}
		ids[spec.Key] = id
	}
	return ids, nil
}

// callerReference is unique per creation (Route53 refuses a reference once used by a
// health check since deleted): what it checks, and when. A creation that failed is
// tried again with its reference (unsure).
func (p *Publisher) callerReference(spec hcSpec) string {
	h := sha256.Sum256([]byte(p.Owner + "|" + spec.Key.Service + "|" + spec.Key.ID + "|" + string(spec.Key.Path) + "|" + spec.Digest))
	return callerReferencePrefix + hex.EncodeToString(h[:])[:24] + "-" + strconv.FormatInt(p.Now().UnixNano(), 36)
}

// deleteHealthChecks deletes health checks no record uses any more. One that fails stays
// in the index and is tried again with its service's next batch; it returns the services
// of those, for a sweep.
func (p *Publisher) deleteHealthChecks(ctx context.Context, log logr.Logger, ids []string) (services []string) {
	for _, id := range ids {
		if err := p.API.DeleteHealthCheck(ctx, id); err != nil {
			log.Error(err, "deleting a health check no record uses; tried again later", "healthCheck", id)
			p.mu.Lock()
			for _, e := range p.index {
				if e.ID == id && !slices.Contains(services, e.Key.Service) {
					services = append(services, e.Key.Service)
				}
			}
			p.mu.Unlock()
			continue
		}
		p.mu.Lock()
		p.index = slices.DeleteFunc(p.index, func(e hcEntry) bool { return e.ID == id })
		p.mu.Unlock()
	}
	return services
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// drover's Route53 client is what the Publisher is run with.
var _ API = r53.API(nil)
