package traffic_test

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/drover-dev/drover/internal/traffic"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// Route53 operations as the recorder names them (the methods of route53.API).
const (
	opChange       = "ChangeResourceRecordSets"
	opGetChange    = "GetChange"
	opList         = "ListResourceRecordSets"
	opHostedZone   = "HostedZone"
	opCreateHC     = "CreateHealthCheck"
	opDeleteHC     = "DeleteHealthCheck"
	opHealthChecks = "HealthChecks"
	opHCTags       = "HealthCheckTags"
)

// call is one call of the publisher to Route53, as the recorder saw it.
type call struct {
	op         string
	zone       string // the hosted zone, for the calls that name one
	start, end time.Time
	changes    []types.Change // ChangeResourceRecordSets only
	err        error
}

// recorder is the publisher's Route53 API with every call timestamped: start is when
// drover made the call (for ChangeResourceRecordSets, when the change was submitted),
// end when the answer was back. The rate limit of the SDK client underneath is inside
// the span, as it is in AWS's time for drover.
type recorder struct {
	mu      sync.Mutex
	api     route53.API
	calls   []call
	lingers []span
}

// use makes the recorder call through api from now on.
func (r *recorder) use(api route53.API) {
	r.mu.Lock()
	r.api = api
	r.mu.Unlock()
}

var _ route53.API = (*recorder)(nil)

// since returns the calls that started at or after t, in the order they started.
func (r *recorder) since(t time.Time) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if !c.start.Before(t) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b call) int { return a.start.Compare(b.start) })
	return out
}

// last is when the most recent call started or ended, whichever is later; zero if none.
func (r *recorder) last() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var t time.Time
	for _, c := range r.calls {
		if c.end.After(t) {
			t = c.end
		}
		if c.start.After(t) {
			t = c.start
		}
	}
	return t
}

// inFlight reports whether a call has started and not ended.
func (r *recorder) inFlight() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		if c.end.IsZero() {
			return true
		}
	}
	return false
}

// begin records a call as started and returns the function that records its end.
func (r *recorder) begin(op, zone string) (route53.API, func(changes []types.Change, err error)) {
	r.mu.Lock()
	api := r.api
	i := len(r.calls)
	r.calls = append(r.calls, call{op: op, zone: zone, start: time.Now()})
	r.mu.Unlock()
	return api, func(changes []types.Change, err error) {
		end := time.Now()
		r.mu.Lock()
		r.calls[i].end, r.calls[i].changes, r.calls[i].err = end, changes, err
		r.mu.Unlock()
	}
}

func (r *recorder) ChangeResourceRecordSets(ctx context.Context, zoneID string, changes []types.Change, comment string) (string, error) {
	api, done := r.begin(opChange, zoneID)
	id, err := api.ChangeResourceRecordSets(ctx, zoneID, changes, comment)
	done(slices.Clone(changes), err)
	return id, err
}

func (r *recorder) GetChange(ctx context.Context, changeID string) (types.ChangeStatus, error) {
	api, done := r.begin(opGetChange, "")
	st, err := api.GetChange(ctx, changeID)
	done(nil, err)
	return st, err
}

func (r *recorder) ListResourceRecordSets(ctx context.Context, zoneID, name string) ([]types.ResourceRecordSet, error) {
	api, done := r.begin(opList, zoneID)
	out, err := api.ListResourceRecordSets(ctx, zoneID, name)
	done(nil, err)
	return out, err
}

func (r *recorder) HostedZone(ctx context.Context, zoneID string) (*types.HostedZone, error) {
	api, done := r.begin(opHostedZone, zoneID)
	out, err := api.HostedZone(ctx, zoneID)
	done(nil, err)
	return out, err
}

func (r *recorder) CreateHealthCheck(ctx context.Context, callerReference string, cfg *types.HealthCheckConfig, tags map[string]string) (string, error) {
	api, done := r.begin(opCreateHC, "")
	id, err := api.CreateHealthCheck(ctx, callerReference, cfg, tags)
	done(nil, err)
	return id, err
}

func (r *recorder) DeleteHealthCheck(ctx context.Context, id string) error {
	api, done := r.begin(opDeleteHC, "")
	err := api.DeleteHealthCheck(ctx, id)
	done(nil, err)
	return err
}

func (r *recorder) HealthChecks(ctx context.Context) ([]types.HealthCheck, error) {
	api, done := r.begin(opHealthChecks, "")
	out, err := api.HealthChecks(ctx)
	done(nil, err)
	return out, err
}

func (r *recorder) HealthCheckTags(ctx context.Context, ids []string) (map[string]map[string]string, error) {
	api, done := r.begin(opHCTags, "")
	out, err := api.HealthCheckTags(ctx, ids)
	done(nil, err)
	return out, err
}

// serviceWeights are the weights a change sets on service-level records, by
// SetIdentifier ("drover/<namespace>/<prod>"): UPSERTs and CREATEs of weighted records
// whose SetIdentifier has no path suffix. Path records ("…/octavia", "…/nlb") are left
// out.
func serviceWeights(changes []types.Change) map[string]int64 {
	out := map[string]int64{}
	for _, ch := range changes {
		r := ch.ResourceRecordSet
		if r == nil || r.SetIdentifier == nil || ch.Action == types.ChangeActionDelete {
			continue
		}
		id := aws.ToString(r.SetIdentifier)
		if strings.HasSuffix(id, "/octavia") || strings.HasSuffix(id, "/nlb") {
			continue
		}
		out[id] = aws.ToInt64(r.Weight)
	}
	return out
}

// span is an interval of time.
type span struct{ from, to time.Time }

// covered is how much of [a, b] the spans cover, each instant counted once.
func covered(spans []span, a, b time.Time) time.Duration {
	var clipped []span
	for _, s := range spans {
		from, to := s.from, s.to
		if from.Before(a) {
			from = a
		}
		if to.After(b) {
			to = b
		}
		if to.After(from) {
			clipped = append(clipped, span{from, to})
		}
	}
	sort.Slice(clipped, func(i, j int) bool { return clipped[i].from.Before(clipped[j].from) })
	var total time.Duration
	var cur span
	for i, s := range clipped {
		switch {
		case i == 0:
			cur = s
		case !s.from.After(cur.to):
			if s.to.After(cur.to) {
				cur.to = s.to
			}
		default:
			total += cur.to.Sub(cur.from)
			cur = s
		}
	}
	if len(clipped) > 0 {
		total += cur.to.Sub(cur.from)
	}
	return total
}

// callSpans are the spans of the calls (a call not ended yet lasts until now).
func callSpans(calls []call) []span {
	out := make([]span, 0, len(calls))
	for _, c := range calls {
		end := c.end
		if end.IsZero() {
			end = time.Now()
		}
		out = append(out, span{c.start, end})
	}
	return out
}

// lingered records the publisher's lingers as it reports them (route53.Publisher's
// OnLinger): a zone's batch from its first weight until it goes, whatever its first call.
func (r *recorder) lingered(_ string, from, to time.Time) {
	r.mu.Lock()
	r.lingers = append(r.lingers, span{from, to})
	r.mu.Unlock()
}

// lingerSpans are the publisher's lingers so far.
func (r *recorder) lingerSpans() []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lingers)
}

// breakdown splits the time to a submission: AWS calls, deliberate waits, and the
// rest, drover's own time.
type breakdown struct {
	total, aws, waits, own time.Duration
}

// criticalPath splits [a, b] along the path to a submission at b: the change submitted
// at b carried weights the last of which was handed to the publisher at h. Before h, the
// controllers were working towards that hand-off: drover's own time, but for the
// deliberate waits in before (a gate's tries). From h on, the publisher: the AWS calls
// it made (or waited for, a batch in flight), its linger (waits, where no call covers
// it), and the rest, its own time. AWS calls before h ran beside the controllers' work
// and are not on the path.
func criticalPath(a, h, b time.Time, before, aws, waits []span) breakdown {
	if h.Before(a) {
		h = a
	}
	if h.After(b) {
		h = b
	}
	d := breakdown{total: b.Sub(a), aws: covered(aws, h, b)}
	d.waits = covered(before, a, h) + covered(append(slices.Clone(aws), waits...), h, b) - d.aws
	d.own = d.total - d.aws - d.waits
	return d
}

// countOps counts calls by operation.
func countOps(calls []call) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		out[c.op]++
	}
	return out
}

func formatOps(n map[string]int) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(n)) {
		parts = append(parts, fmt.Sprintf("%s %d", op, n[op]))
	}
	return strings.Join(parts, ", ")
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

// publishRecorder is the ProdSets' publisher with every hand-off timestamped: when a
// ProdSet gave the publisher weights (Publish), which the publisher sends to Route53
// later, in a batch.
type publishRecorder struct {
	*route53.Publisher

	mu       sync.Mutex
	handoffs []handoff
}

// handoff is one Publish.
type handoff struct {
	at      time.Time
	service string
	// weights by the SetIdentifier of the Prod's service-level record; removals left out.
	weights map[string]int64
	// ticket is the Publisher's answer; paths counts the weights that carried paths;
	// by is the controller that published (maintenance or prodset).
	ticket string
	paths  int
	by     string
}

func (p *publishRecorder) Publish(ctx context.Context, svc traffic.Service, weights []traffic.Weight) (string, error) {
	h := handoff{at: time.Now(), service: svc.Name, weights: map[string]int64{}}
	for _, w := range weights {
		if !w.Remove {
			h.weights[route53.DefaultOwner+"/"+w.ID] = int64(w.Weight)
		}
		if w.Paths != nil {
			h.paths++
		}
	}
	ticket, err := p.Publisher.Publish(ctx, svc, weights)
	h.ticket, h.by = ticket, caller()
	if err == nil {
		p.mu.Lock()
		p.handoffs = append(p.handoffs, h)
		p.mu.Unlock()
	}
	return ticket, err
}

// since returns the hand-offs made at or after t.
func (p *publishRecorder) since(t time.Time) []handoff {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []handoff
	for _, h := range p.handoffs {
		if !h.at.Before(t) {
			out = append(out, h)
		}
	}
	return out
}

// reconciles is how many reconciles controller ran so far, and how long they took in
// all (controller-runtime's controller_runtime_reconcile_time_seconds, in process).
func reconciles(controller string) (int, time.Duration) {
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return 0, 0
	}
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_time_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					h := m.GetHistogram()
					return int(h.GetSampleCount()), time.Duration(h.GetSampleSum() * float64(time.Second))
				}
			}
		}
	}
	return 0, 0
}

// counter is the value of an unlabelled counter of this process's metrics, 0 when it
// has none.
func counter(name string) float64 {
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return 0
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// caller names the controller package a Publish came from.
func caller() string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		for _, c := range []string{"controllers/maintenance", "controllers/prodset"} {
			if strings.Contains(f.Function, c) {
				return strings.TrimPrefix(c, "controllers/") + " " + f.Function[strings.LastIndex(f.Function, ".")+1:]
			}
		}
		if !more {
			return "?"
		}
	}
}
