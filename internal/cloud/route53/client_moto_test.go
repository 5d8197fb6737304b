package route53_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/cloud/route53"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	trafficroute53 "github.com/drover-dev/drover/internal/traffic/route53"
)

// The traffic provider takes this client as its API.
var _ trafficroute53.API = (*route53.Client)(nil)

func TestMain(m *testing.M) { awstest.Main(m) }

func counter(op, outcome string) func() int {
	return awstest.CallsSince(cloudmetrics.Route53, op, outcome)
}

type env struct {
	t      *testing.T
	moto   *awstest.Moto
	sdk    *sdk.Client
	client *route53.Client
}

func setup(t *testing.T, o route53.Options) *env {
	t.Helper()
	m := awstest.Shared(t)
	c := m.Clients(t).Route53
	return &env{t: t, moto: m, sdk: c, client: route53.New(c, o)}
}

// zone creates a hosted zone (drover never does) and returns its id.
func (e *env) zone(name string) string {
	e.t.Helper()
	out, err := e.sdk.CreateHostedZone(e.t.Context(), &sdk.CreateHostedZoneInput{Name: aws.String(name), CallerReference: aws.String(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.TrimPrefix(aws.ToString(out.HostedZone.Id), "/hostedzone/")
}

func weightedA(name, setID string, weight int64, ip, healthCheck string) types.ResourceRecordSet {
	rs := types.ResourceRecordSet{
		Name: aws.String(name), Type: types.RRTypeA, SetIdentifier: aws.String(setID), Weight: aws.Int64(weight),
		TTL: aws.Int64(60), ResourceRecords: []types.ResourceRecord{{Value: aws.String(ip)}},
	}
	if healthCheck != "" {
		rs.HealthCheckId = aws.String(healthCheck)
	}
	return rs
}

func weightedAlias(name, setID string, weight int64, zoneID, target string) types.ResourceRecordSet {
	return types.ResourceRecordSet{
		Name: aws.String(name), Type: types.RRTypeA, SetIdentifier: aws.String(setID), Weight: aws.Int64(weight),
		AliasTarget: &types.AliasTarget{HostedZoneId: aws.String(zoneID), DNSName: aws.String(target), EvaluateTargetHealth: true},
	}
}

func plain(name, ip string) types.ResourceRecordSet {
	return types.ResourceRecordSet{
		Name: aws.String(name), Type: types.RRTypeA, TTL: aws.Int64(300),
		ResourceRecords: []types.ResourceRecord{{Value: aws.String(ip)}},
	}
}

func changes(action types.ChangeAction, sets ...types.ResourceRecordSet) []types.Change {
	cs := make([]types.Change, len(sets))
	for i, s := range sets {
		cs[i] = types.Change{Action: action, ResourceRecordSet: &s}
	}
	return cs
}

// ids names record sets as "name setIdentifier weight", sorted.
func ids(sets []types.ResourceRecordSet) []string {
	var out []string
	for _, s := range sets {
		out = append(out, fmt.Sprintf("%s %s %d", aws.ToString(s.Name), aws.ToString(s.SetIdentifier), aws.ToInt64(s.Weight)))
	}
	slices.Sort(out)
	return out
}

const (
	service = "shop.example.com."
	prodA   = "a.ns.drover.shop.example.com."
	prodB   = "b.ns.drover.shop.example.com."
)

// The two levels of the traffic model in one batch: per Prod a weighted alias of the
// service name to the Prod's own name, and two weighted, health-checked paths there.
func TestRecordsInOneBatch(t *testing.T) {
	e := setup(t, route53.Options{})
	ctx := t.Context()
	zoneID := e.zone("example.com")
	hc, err := e.client.CreateHealthCheck(ctx, "records-octavia", &types.HealthCheckConfig{
		Type: types.HealthCheckTypeTcp, IPAddress: aws.String("203.0.113.10"), Port: aws.Int32(443),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	records := []types.ResourceRecordSet{
		weightedAlias(service, "drover/ns/a", 200, zoneID, prodA),
		weightedAlias(service, "drover/ns/b", 55, zoneID, prodB),
		weightedA(prodA, "drover/ns/a/octavia", 90, "203.0.113.10", hc),
		weightedA(prodA, "drover/ns/a/nlb", 10, "198.51.100.10", ""),
		weightedA(prodB, "drover/ns/b/octavia", 90, "203.0.113.20", ""),
		weightedA(prodB, "drover/ns/b/nlb", 10, "198.51.100.20", ""),
	}
	// Names around the service's: the listing must stop at or skip them.
	noise := []types.ResourceRecordSet{
		plain("shop-x.example.com", "192.0.2.1"),
		plain("shopx.example.com", "192.0.2.2"),
		plain("x.shopx.example.com", "192.0.2.3"),
		plain("zzz.example.com", "192.0.2.4"),
		plain("example.com", "192.0.2.5"),
	}
	sent := counter("ChangeResourceRecordSets", cloudmetrics.Success)
	change, err := e.client.ChangeResourceRecordSets(ctx, zoneID, changes(types.ChangeActionCreate, append(records, noise...)...), "drover: shop")
	if err != nil {
		t.Fatal(err)
	}
	if sent() != 1 {
		t.Errorf("one batch took %d calls", sent())
	}
	if change == "" || strings.HasPrefix(change, "/") {
		t.Errorf("change id %q, want one without the /change/ prefix", change)
	}
	status, err := e.client.GetChange(ctx, change)
	if err != nil {
		t.Fatal(err)
	}
	if status != types.ChangeStatusPending && status != types.ChangeStatusInsync {
		t.Errorf("change status %q", status)
	}

	all := ids(records)
	// Pages that end inside the weighted sets. (Not of 1: moto, ignoring
	// StartRecordIdentifier, could never move past the first record of a set.)
	for _, pageSize := range []int32{0, 2, 3} {
		c := route53.New(e.sdk, route53.Options{PageSize: pageSize})
		got, err := c.ListResourceRecordSets(ctx, zoneID, "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), all) {
			t.Errorf("page size %d: ListResourceRecordSets = %v, want %v", pageSize, ids(got), all)
		}
	}

	for _, tc := range []struct {
		q    route53.RecordQuery
		want []types.ResourceRecordSet
	}{
		{route53.RecordQuery{Name: "SHOP.example.com."}, records[:2]},
		{route53.RecordQuery{Name: prodA}, records[2:4]},
		{route53.RecordQuery{Name: prodA, Type: types.RRTypeA}, records[2:4]},
		{route53.RecordQuery{Name: prodA, Type: types.RRTypeAaaa}, nil},
		{route53.RecordQuery{Name: "drover.shop.example.com", Subdomains: true}, records[2:]},
		{route53.RecordQuery{Name: "nothing.example.com", Subdomains: true}, nil},
	} {
		got, err := e.client.RecordSets(ctx, zoneID, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), ids(tc.want)) {
			t.Errorf("RecordSets(%+v) = %v, want %v", tc.q, ids(got), ids(tc.want))
		}
	}

	// A rollout step: both service weights in one change.
	a, b := records[0], records[1]
	a.Weight, b.Weight = aws.Int64(0), aws.Int64(255)
	if _, err := e.client.ChangeResourceRecordSets(ctx, zoneID, changes(types.ChangeActionUpsert, a, b), ""); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.RecordSets(ctx, zoneID, route53.RecordQuery{Name: service})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{service + " drover/ns/a 0", service + " drover/ns/b 255"}; !slices.Equal(ids(got), want) {
		t.Errorf("after the weight change: %v, want %v", ids(got), want)
	}
	for _, rs := range got {
		if rs.AliasTarget == nil || aws.ToString(rs.AliasTarget.DNSName) == "" || !rs.AliasTarget.EvaluateTargetHealth {
			t.Errorf("alias record %s lost its target: %+v", aws.ToString(rs.SetIdentifier), rs.AliasTarget)
		}
	}

	// The Prod goes: its records in one change.
	if _, err := e.client.ChangeResourceRecordSets(ctx, zoneID, changes(types.ChangeActionDelete, a, records[2], records[3]), ""); err != nil {
		t.Fatal(err)
	}
	got, err = e.client.ListResourceRecordSets(ctx, zoneID, service)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{prodB + " drover/ns/b/nlb 10", prodB + " drover/ns/b/octavia 90", service + " drover/ns/b 255"}; !slices.Equal(ids(got), want) {
		t.Errorf("after deleting Prod a: %v, want %v", ids(got), want)
	}

	// A batch Route53 refuses changes nothing and is no NotFound.
	_, err = e.client.ChangeResourceRecordSets(ctx, zoneID, changes(types.ChangeActionCreate, records[4]), "")
	if err == nil || errors.Is(err, cloudmetrics.ErrNotFound) {
		t.Errorf("creating a record that exists: %v, want an error other than not found", err)
	}
	if _, err := e.client.ChangeResourceRecordSets(ctx, zoneID, nil, ""); err == nil {
		t.Error("an empty batch: no error")
	}
}

func TestMissingZone(t *testing.T) {
	e := setup(t, route53.Options{})
	ctx := t.Context()
	zoneID := e.zone("example.com")
	zone, err := e.client.HostedZone(ctx, "/hostedzone/"+zoneID)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(zone.Name) != "example.com." {
		t.Errorf("zone name %q", aws.ToString(zone.Name))
	}
	notFound := counter("GetHostedZone", cloudmetrics.NotFound)
	if _, err := e.client.HostedZone(ctx, "ZNOSUCHZONE"); !errors.Is(err, cloudmetrics.ErrNotFound) {
		t.Errorf("HostedZone of a missing zone: %v, want ErrNotFound", err)
	}
	if notFound() != 1 {
		t.Errorf("counted %d not_found", notFound())
	}
	if _, err := e.client.ChangeResourceRecordSets(ctx, "ZNOSUCHZONE", changes(types.ChangeActionUpsert, plain("a.example.com", "192.0.2.1")), ""); !errors.Is(err, cloudmetrics.ErrNotFound) {
		t.Errorf("a change to a missing zone: %v, want ErrNotFound", err)
	}
	if _, err := e.client.ListResourceRecordSets(ctx, "ZNOSUCHZONE", "a.example.com"); !errors.Is(err, cloudmetrics.ErrNotFound) {
		t.Errorf("listing a missing zone: %v, want ErrNotFound", err)
	}
}

func TestHealthChecks(t *testing.T) {
	e := setup(t, route53.Options{})
	ctx := t.Context()
	cfg := func(ip string) *types.HealthCheckConfig {
		return &types.HealthCheckConfig{
			Type: types.HealthCheckTypeHttps, IPAddress: aws.String(ip), Port: aws.Int32(443),
			ResourcePath: aws.String("/healthz"), RequestInterval: aws.Int32(10), FailureThreshold: aws.Int32(3),
		}
	}
	tags := map[string]string{"drover.dev/owner": "drover", "drover.dev/prod": "ns/a"}
	for i := range 10 {
		tags[fmt.Sprintf("extra-%d", i)] = fmt.Sprint(i)
	}
	tagged := counter("ChangeTagsForResource", cloudmetrics.Success)
	id, err := e.client.CreateHealthCheck(ctx, "drover-ns-a-octavia-1", cfg("203.0.113.10"), tags)
	if err != nil {
		t.Fatal(err)
	}
	if tagged() != 2 {
		t.Errorf("12 tags took %d ChangeTagsForResource calls, want 2", tagged())
	}
	hc, err := e.client.HealthCheck(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c := hc.HealthCheckConfig; aws.ToString(c.IPAddress) != "203.0.113.10" || aws.ToString(c.ResourcePath) != "/healthz" || aws.ToInt32(c.Port) != 443 || aws.ToString(hc.CallerReference) != "drover-ns-a-octavia-1" {
		t.Errorf("health check %+v, config %+v", hc, hc.HealthCheckConfig)
	}

	// Ten more, one not drover's: tags are read in chunks of 10.
	all := []string{id}
	for i := range 10 {
		owner := "drover"
		if i == 0 {
			owner = "someone-else"
		}
		id, err := e.client.CreateHealthCheck(ctx, fmt.Sprintf("ref-%d", i), cfg(fmt.Sprintf("203.0.113.%d", 100+i)), map[string]string{"drover.dev/owner": owner})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, id)
	}
	listed := counter("ListTagsForResources", cloudmetrics.Success)
	byID, err := e.client.HealthCheckTags(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if len(byID) != 11 || len(byID[id]) != 12 || byID[all[1]]["drover.dev/owner"] != "someone-else" {
		t.Errorf("HealthCheckTags: %d health checks, %v", len(byID), byID[id])
	}
	if listed() != 2 {
		t.Errorf("tags of 11 health checks took %d calls, want 2", listed())
	}
	mine, err := e.client.HealthChecksTagged(ctx, "drover.dev/owner", "drover")
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 10 || mine[id]["drover.dev/prod"] != "ns/a" {
		t.Errorf("HealthChecksTagged: %d, want 10 (all but someone else's)", len(mine))
	}
	if _, ok := mine[all[1]]; ok {
		t.Error("HealthChecksTagged returned someone else's health check")
	}

	updated, err := e.client.UpdateHealthCheck(ctx, &sdk.UpdateHealthCheckInput{HealthCheckId: aws.String(id), Port: aws.Int32(8443), ResourcePath: aws.String("/ready")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(updated.HealthCheckConfig.Port) != 8443 || aws.ToString(updated.HealthCheckConfig.ResourcePath) != "/ready" {
		t.Errorf("updated config %+v", updated.HealthCheckConfig)
	}
	if err := e.client.ChangeHealthCheckTags(ctx, id, map[string]string{"drover.dev/prod": "ns/b"}, []string{"extra-0", "extra-1"}); err != nil {
		t.Fatal(err)
	}
	byID, err = e.client.HealthCheckTags(ctx, []string{id})
	if err != nil {
		t.Fatal(err)
	}
	if got := byID[id]; got["drover.dev/prod"] != "ns/b" || len(got) != 10 {
		t.Errorf("tags after the change: %v", got)
	}

	obs, err := e.client.HealthCheckStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) == 0 || obs[0].StatusReport == nil {
		t.Errorf("HealthCheckStatus: %+v", obs)
	}

	for range 2 {
		if err := e.client.DeleteHealthCheck(ctx, id); err != nil {
			t.Fatalf("DeleteHealthCheck: %v", err)
		}
	}
	if _, err := e.client.HealthCheck(ctx, id); !errors.Is(err, cloudmetrics.ErrNotFound) {
		t.Errorf("HealthCheck after the delete: %v, want ErrNotFound", err)
	}
	if _, err := e.client.UpdateHealthCheck(ctx, &sdk.UpdateHealthCheckInput{HealthCheckId: aws.String(id), Port: aws.Int32(1)}); !errors.Is(err, cloudmetrics.ErrNotFound) {
		t.Errorf("UpdateHealthCheck after the delete: %v, want ErrNotFound", err)
	}
	hcs, err := e.client.HealthChecks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hcs) != 10 || slices.ContainsFunc(hcs, func(h types.HealthCheck) bool { return aws.ToString(h.Id) == id }) {
		t.Errorf("HealthChecks after the delete: %d", len(hcs))
	}
}
