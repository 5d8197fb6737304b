// Package dnsbed is Route53 for the controller suites (ProdSet, rollouts, the CLI): a
// moto_server (awstest) behind the AWS fault proxy, which keeps each change PENDING for
// a while as Route53 does, drover's real Route53 publisher pointed at the proxy, and
// readers of what Route53 holds and of the changes sent to it on the wire, so that the
// suites check Route53's records, not drover's own view of them.
//
// A suite starts one Bed in its TestMain (moto is never reset while the manager runs:
// the publisher keeps what it learnt of the account) and gives each start of the manager
// Bed.Options(...), which holds a publisher of its own: a manager started again, as
// after a crash, has a new publisher that knows nothing of its predecessor's tickets
// and batches, and reads the zones again. Each ProdSet's template names an Octavia load balancer
// (LoadBalancerID): the Route53 publisher points a Prod's service-level record at the
// Prod's paths, so a Prod needs an endpoint, which OctaviaStandIn gives it.
package dnsbed

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/cloud/octavia"
	r53 "github.com/drover-dev/drover/internal/cloud/route53"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/traffic"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// Options of a Bed.
type Options struct {
	// Propagation is how long each change stays PENDING (FaultProxy.Propagation). Keep
	// it short (1–3 s): every change a suite makes waits for it.
	Propagation time.Duration
	// PollInterval is how often the publisher asks about a change in flight (GetChange).
	// Defaults to 250ms.
	PollInterval time.Duration
	// Linger is the publisher's Linger; 0 keeps its default.
	Linger time.Duration
}

// Bed is moto behind the fault proxy, and what drover's Route53 publishers need to reach
// it.
type Bed struct {
	Moto *awstest.Moto
	// Proxy is what the publishers reach moto through: it makes changes PENDING and
	// counts and keeps what it forwards.
	Proxy *awstest.FaultProxy
	// SDK reads moto directly (not through the proxy, so the reads are not counted).
	SDK *r53sdk.Client

	// api is Route53 through Proxy, which every publisher calls; opts are the Bed's.
	api   route53.API
	opts  Options
	zones atomic.Int64
}

// Start starts moto and the proxy. Close stops them.
func Start(o Options) (_ *Bed, retErr error) {
	if o.PollInterval == 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	m, err := awstest.StartServer(nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			m.Stop()
		}
	}()
	p, err := awstest.StartFaultProxy(m.Endpoint(), 1)
	if err != nil {
		return nil, err
	}
	p.Propagation(o.Propagation)
	ctx := context.Background()
	clients, err := awsclient.New(ctx, p.Options(m.Options()))
	if err != nil {
		p.Close()
		return nil, err
	}
	direct, err := awsclient.New(ctx, m.Options())
	if err != nil {
		p.Close()
		return nil, err
	}
	return &Bed{Moto: m, Proxy: p, SDK: direct.Route53, api: r53.New(clients.Route53, r53.Options{}), opts: o}, nil
}

// NewPublisher is a new drover Route53 publisher through the proxy, with the Bed's
// linger and poll interval: no tickets, a boot id of its own, nothing known of the
// zones yet.
func (b *Bed) NewPublisher() *route53.Publisher {
	return &route53.Publisher{API: b.api, Linger: b.opts.Linger, PollInterval: b.opts.PollInterval,
		Log: ctrl.Log.WithName("route53")}
}

// Close stops the proxy and moto.
func (b *Bed) Close() {
	b.Proxy.Close()
	b.Moto.Stop()
}

// Options are opts for one start of the manager: a new publisher (NewPublisher), and the
// Octavia stand-in that gives each Prod an endpoint; the stand-in's project is the
// defaults' (a Tenant of these suites lists StandInProject in its octaviaProjects).
// Call it again for each start: two managers never share a publisher.
func (b *Bed) Options(opts setup.Options) setup.Options {
	opts.Publisher = b.NewPublisher()
	opts.Octavia = OctaviaStandIn{}
	opts.DefaultOctaviaProjects = append(opts.DefaultOctaviaProjects, StandInProject)
	return opts
}

// StandInProject is the OpenStack project of the stand-in's load balancers.
const StandInProject = "octavia-stand-in"

// CreateZone creates a public hosted zone for name in moto and returns its id (without
// "/hostedzone/"), what a ProdSet's spec.traffic.hostedZoneID names.
func (b *Bed) CreateZone(ctx context.Context, name string) (string, error) {
	out, err := b.SDK.CreateHostedZone(ctx, &r53sdk.CreateHostedZoneInput{
		Name: aws.String(name), CallerReference: aws.String(fmt.Sprintf("dnsbed-%s-%d-%d", name, time.Now().UnixNano(), b.zones.Add(1))),
	})
	if err != nil {
		return "", fmt.Errorf("creating the hosted zone %s in moto: %w", name, err)
	}
	return strings.TrimPrefix(aws.ToString(out.HostedZone.Id), "/hostedzone/"), nil
}

// owner is the manager's owner id (setup.Options.Owner unset).
const owner = route53.DefaultOwner

// recordID is the Prod ("<namespace>/<name>") of a service-level SetIdentifier of
// drover's ("drover/<namespace>/<name>"); ok is false for path records and others'.
func recordID(setID string) (string, bool) {
	id, ok := strings.CutPrefix(setID, owner+"/")
	if !ok || strings.Count(id, "/") != 1 {
		return "", false
	}
	return id, true
}

// Records are the weights Route53 holds for svc's service-level records, by Prod
// ("<namespace>/<name>", prodset.RecordID), as traffic.Memory.Records gives them: read
// from moto with the AWS SDK.
func (b *Bed) Records(svc traffic.Service) (map[string]int32, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := strings.ToLower(strings.TrimSuffix(svc.Name, "."))
	out := map[string]int32{}
	page, err := b.SDK.ListResourceRecordSets(ctx, &r53sdk.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(svc.Zone), StartRecordName: aws.String(name), MaxItems: aws.Int32(300),
	})
	if err != nil {
		return nil, fmt.Errorf("listing the records of %s in zone %s: %w", name, svc.Zone, err)
	}
	for _, r := range page.ResourceRecordSets {
		if strings.ToLower(strings.TrimSuffix(aws.ToString(r.Name), ".")) != name {
			continue
		}
		if id, ok := recordID(aws.ToString(r.SetIdentifier)); ok {
			if _, dup := out[id]; dup {
				return nil, fmt.Errorf("zone %s has two records of %s for %s", svc.Zone, name, id)
			}
			out[id] = int32(aws.ToInt64(r.Weight))
		}
	}
	// moto pages by name only (a page boundary inside a weighted set starts the set
	// over), so the service's records must fit in one page.
	if page.IsTruncated && strings.ToLower(strings.TrimSuffix(aws.ToString(page.NextRecordName), ".")) == name {
		return nil, errors.New("the service's records do not fit in one page of moto's")
	}
	return out, nil
}

// Changes are the service-level weights of each change Route53 accepted through the
// proxy, in order, as traffic.Memory.Changes gives them (a change of path records only
// is there, empty): the ID is the Prod ("<namespace>/<name>"), a DELETE is Remove.
// Several services of a zone may share a change.
func (b *Bed) Changes() [][]traffic.Weight {
	changes := b.Proxy.Route53Changes()
	out := make([][]traffic.Weight, 0, len(changes))
	for _, c := range changes {
		var ws []traffic.Weight
		for _, rc := range c.Changes {
			id, ok := recordID(rc.SetIdentifier)
			if !ok || strings.Contains(rc.Name, ".drover.") {
				continue
			}
			w := traffic.Weight{ID: id, Remove: rc.Action == "DELETE"}
			if !w.Remove {
				w.Weight = int32(aws.ToInt64(rc.Weight))
			}
			ws = append(ws, w)
		}
		out = append(out, ws)
	}
	return out
}

// ChangeRequests is how many ChangeResourceRecordSets requests reached the proxy (every
// attempt, whatever its answer).
func (b *Bed) ChangeRequests() int {
	return b.Proxy.Requests(cloudmetrics.Route53, "ChangeResourceRecordSets")
}

// OctaviaStandIn answers every Octavia load balancer ACTIVE and ONLINE, with a VIP
// derived from its id: each Prod whose template names a load balancer gets an endpoint
// (status.endpoint, from the mirror controller) for its Octavia path record, without an
// Octavia to run. Octavia is not what these suites test.
type OctaviaStandIn struct{}

var _ octavia.Client = OctaviaStandIn{}

// Snapshot implements octavia.Client.
func (OctaviaStandIn) Snapshot(_ context.Context, id string) (*octavia.Snapshot, error) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	n := h.Sum32()
	return &octavia.Snapshot{
		LoadBalancer: octavia.LoadBalancer{ID: id, Name: id, ProjectID: StandInProject, VIP: fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff|1),
			ProvisioningStatus: "ACTIVE", OperatingStatus: "ONLINE", AdminStateUp: true},
		ReadAt: time.Now(),
	}, nil
}

// WeightChange is the first change accepted through the proxy, submitted at or after
// from, that set prod's ("<namespace>/<name>") service-level weight to weight; ok is
// false when there is none yet.
func (b *Bed) WeightChange(prod string, weight int32, from time.Time) (_ awstest.Route53Change, ok bool) {
	for _, c := range b.Proxy.Route53Changes() {
		if c.Submitted.Before(from) {
			continue
		}
		for _, rc := range c.Changes {
			if id, isService := recordID(rc.SetIdentifier); isService && id == prod && !strings.Contains(rc.Name, ".drover.") &&
				rc.Action != "DELETE" && aws.ToInt64(rc.Weight) == int64(weight) {
				return c, true
			}
		}
	}
	return awstest.Route53Change{}, false
}

// ZoneChanges are the changes to zone accepted through the proxy and submitted in
// [from, to], in order.
func (b *Bed) ZoneChanges(zone string, from, to time.Time) []awstest.Route53Change {
	var out []awstest.Route53Change
	for _, c := range b.Proxy.Route53Changes() {
		if c.Zone == zone && !c.Submitted.Before(from) && !c.Submitted.After(to) {
			out = append(out, c)
		}
	}
	return out
}

// Weights are the service-level weights a change sets, by Prod; a deleted record is -1.
func Weights(c awstest.Route53Change) map[string]int64 {
	out := map[string]int64{}
	for _, rc := range c.Changes {
		if id, ok := recordID(rc.SetIdentifier); ok && !strings.Contains(rc.Name, ".drover.") {
			out[id] = aws.ToInt64(rc.Weight)
			if rc.Action == "DELETE" {
				out[id] = -1
			}
		}
	}
	return out
}

// ReportedChange is the change a state waited for, and when the state was first seen.
type ReportedChange struct {
	awstest.Route53Change
	Reported time.Time
}

// WaitReported polls, every 50ms, whether drover reports a state (reported) that must
// wait for a Route53 change (change: found once submitted) to be INSYNC and wait more
// after that. It fails the test if the state is seen before Route53 said INSYNC plus
// wait, or if it was never seen not reported while the change was PENDING (the check
// would prove nothing), and checks the change was PENDING for the propagation.
func WaitReported(t testing.TB, what string, reported func() bool, change func() (awstest.Route53Change, bool), wait, propagation time.Duration) ReportedChange {
	t.Helper()
	sawPending := false
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c, ok := change()
		pendingNow := ok && c.ReportedInSync.IsZero()
		done := reported()
		seen := time.Now()
		if !done {
			sawPending = sawPending || pendingNow
			continue
		}
		c, ok = change()
		switch {
		case !ok:
			t.Fatalf("%s was reported before its Route53 change was submitted", what)
		case c.ReportedInSync.IsZero():
			t.Fatalf("%s was reported while its Route53 change %s (submitted %s) was PENDING", what, c.ID, c.Submitted.Format("15:04:05.000"))
		case seen.Before(c.ReportedInSync.Add(wait)):
			t.Fatalf("%s was reported by %s, %s after Route53 said INSYNC, want at least %s", what, seen.Format("15:04:05.000"), seen.Sub(c.ReportedInSync), wait)
		case !sawPending:
			t.Fatalf("%s: never seen unreported while its change was PENDING; nothing was shown", what)
		case c.ReportedInSync.Sub(c.Submitted) < propagation:
			t.Fatalf("%s: change %s INSYNC %s after it was submitted, before the propagation %s", what, c.ID, c.ReportedInSync.Sub(c.Submitted), propagation)
		}
		return ReportedChange{Route53Change: c, Reported: seen}
	}
	t.Fatalf("%s was not reported within 90s", what)
	return ReportedChange{}
}
