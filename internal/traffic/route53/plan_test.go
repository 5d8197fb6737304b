package route53

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/drover-dev/drover/internal/traffic"
)

var shop = traffic.Service{Zone: "Z1", Name: "shop.example.com", TTL: 30 * time.Second}

func paths(vip, nlb string, ow, nw int32) *traffic.Paths {
	p := &traffic.Paths{OctaviaVIP: vip, OctaviaWeight: ow, NLBWeight: nw, HealthCheck: &traffic.HealthCheck{Protocol: "HTTP", Port: 80, Path: "/healthz"}}
	if nlb != "" {
		p.NLBDNSName, p.NLBZoneID = nlb, "ZNLB"
	}
	return p
}

// published is what the zone holds after the intent was applied with the given health
// check ids (what a previous planService would have written).
func published(t *testing.T, si serviceIntent, ids map[hcKey]string) []types.ResourceRecordSet {
	t.Helper()
	plan := planService(DefaultOwner, si, newCurrent(DefaultOwner, si.Service.Name, nil), ids, nil)
	var out []types.ResourceRecordSet
	for _, c := range plan.Changes {
		if c.Action != types.ChangeActionUpsert {
			t.Fatalf("a first publication deletes %v", *c.ResourceRecordSet)
		}
		r := *c.ResourceRecordSet
		r.Name = aws.String(aws.ToString(r.Name) + ".") // Route53 answers with the final dot
		out = append(out, r)
	}
	return out
}

func intent(weights ...traffic.Weight) serviceIntent {
	si := serviceIntent{Service: shop}
	si.merge(weights)
	return si
}

func describe(cs []types.Change) []string {
	var out []string
	for _, c := range cs {
		r := c.ResourceRecordSet
		s := fmt.Sprintf("%s %s %s w=%d", c.Action, strings.TrimSuffix(aws.ToString(r.Name), "."), aws.ToString(r.SetIdentifier), aws.ToInt64(r.Weight))
		if r.AliasTarget != nil {
			s += " alias=" + strings.TrimSuffix(aws.ToString(r.AliasTarget.DNSName), ".")
		}
		for _, v := range r.ResourceRecords {
			s += " a=" + aws.ToString(v.Value)
		}
		if r.HealthCheckId != nil {
			s += " hc=" + *r.HealthCheckId
		}
		out = append(out, s)
	}
	return out
}

func hcIDs(id string, o, n string) map[hcKey]string {
	return map[hcKey]string{
		{Service: "shop.example.com", ID: id, Path: OctaviaPath}: o,
		{Service: "shop.example.com", ID: id, Path: NLBPath}:     n,
	}
}

func TestPlanService(t *testing.T) {
	a := "default/shop-eu1"
	aName := "shop-eu1.default.drover.shop.example.com"
	full := intent(traffic.Weight{ID: a, Weight: 100, Paths: paths("10.0.0.5", "nlb-1.elb.amazonaws.com", 90, 10)})
	existing := published(t, full, hcIDs(a, "hc-o", "hc-n"))
	foreign := []types.ResourceRecordSet{
		// Another owner's weighted record of the service name, a plain record below it, and
		// a record with drover's naming but not drover's SetIdentifier.
		{Name: aws.String("shop.example.com."), Type: types.RRTypeA, SetIdentifier: aws.String("legacy/dc1"), Weight: aws.Int64(50), TTL: aws.Int64(60), ResourceRecords: []types.ResourceRecord{{Value: aws.String("192.0.2.1")}}},
		{Name: aws.String("api.shop.example.com."), Type: types.RRTypeCname, TTL: aws.Int64(60), ResourceRecords: []types.ResourceRecord{{Value: aws.String("elsewhere.example.net")}}},
		{Name: aws.String(aName + "."), Type: types.RRTypeA, SetIdentifier: aws.String("someone-else"), Weight: aws.Int64(1), TTL: aws.Int64(60), ResourceRecords: []types.ResourceRecord{{Value: aws.String("192.0.2.9")}}},
	}
	withForeign := append(append([]types.ResourceRecordSet{}, foreign...), existing...)
	index := []hcEntry{
		{ID: "hc-o", Key: hcKey{Service: "shop.example.com", ID: a, Path: OctaviaPath}},
		{ID: "hc-n", Key: hcKey{Service: "shop.example.com", ID: a, Path: NLBPath}},
	}

	cases := []struct {
		name     string
		si       serviceIntent
		zone     []types.ResourceRecordSet
		ids      map[hcKey]string
		index    []hcEntry
		want     []string
		skipped  []string
		orphaned []string
	}{{
		name: "a new Prod: its path records, then the service record that aliases them",
		si:   full, ids: hcIDs(a, "hc-o", "hc-n"),
		want: []string{
			"UPSERT " + aName + " drover/default/shop-eu1/nlb w=10 alias=nlb-1.elb.amazonaws.com hc=hc-n",
			"UPSERT " + aName + " drover/default/shop-eu1/octavia w=90 a=10.0.0.5 hc=hc-o",
			"UPSERT shop.example.com drover/default/shop-eu1 w=100 alias=" + aName,
		},
	}, {
		name: "the steady state changes nothing, foreign records around it",
		si:   full, zone: withForeign, ids: hcIDs(a, "hc-o", "hc-n"), index: index,
	}, {
		name: "a weight alone changes the service record only",
		si:   intent(traffic.Weight{ID: a, Weight: 0}), zone: withForeign, index: index,
		want: []string{"UPSERT shop.example.com drover/default/shop-eu1 w=0 alias=" + aName},
	}, {
		name: "the split moves when Octavia fails: both path records, same health checks",
		si:   intent(traffic.Weight{ID: a, Weight: 100, Paths: paths("10.0.0.5", "nlb-1.elb.amazonaws.com", 0, 100)}),
		zone: withForeign, ids: hcIDs(a, "hc-o", "hc-n"), index: index,
		want: []string{
			"UPSERT " + aName + " drover/default/shop-eu1/nlb w=100 alias=nlb-1.elb.amazonaws.com hc=hc-n",
			"UPSERT " + aName + " drover/default/shop-eu1/octavia w=0 a=10.0.0.5 hc=hc-o",
		},
	}, {
		name: "a new VIP gets a new health check; the old one is orphaned",
		si:   intent(traffic.Weight{ID: a, Weight: 100, Paths: paths("10.0.0.6", "nlb-1.elb.amazonaws.com", 90, 10)}),
		zone: withForeign, ids: hcIDs(a, "hc-o2", "hc-n"), index: append(index[:2:2], hcEntry{ID: "hc-o2", Key: index[0].Key}),
		want:     []string{"UPSERT " + aName + " drover/default/shop-eu1/octavia w=90 a=10.0.0.6 hc=hc-o2"},
		orphaned: []string{"hc-o"},
	}, {
		name: "the mirror goes: its record is deleted, its health check orphaned",
		si:   intent(traffic.Weight{ID: a, Weight: 100, Paths: paths("10.0.0.5", "", 90, 0)}),
		zone: withForeign, ids: hcIDs(a, "hc-o", ""), index: index,
		want: []string{
			"DELETE " + aName + " drover/default/shop-eu1/nlb w=10 alias=nlb-1.elb.amazonaws.com hc=hc-n",
		},
		orphaned: []string{"hc-n"},
	}, {
		name: "removing a Prod deletes the alias before what it points at, never a foreign record",
		si:   intent(traffic.Weight{ID: a, Remove: true}), zone: withForeign, index: index,
		want: []string{
			"DELETE shop.example.com drover/default/shop-eu1 w=100 alias=" + aName,
			"DELETE " + aName + " drover/default/shop-eu1/octavia w=90 a=10.0.0.5 hc=hc-o",
			"DELETE " + aName + " drover/default/shop-eu1/nlb w=10 alias=nlb-1.elb.amazonaws.com hc=hc-n",
		},
		orphaned: []string{"hc-n", "hc-o"},
	}, {
		name: "removing what is not there changes nothing",
		si:   intent(traffic.Weight{ID: "default/gone", Remove: true}), zone: foreign,
	}, {
		name: "a weight for a Prod with no path yet is held back",
		si:   intent(traffic.Weight{ID: "default/new", Weight: 100}), zone: withForeign, index: index,
		skipped: []string{"default/new"},
	}, {
		name: "weight 0 for a Prod with no path is nothing to hold back",
		si:   intent(traffic.Weight{ID: "default/new", Weight: 0}), zone: withForeign, index: index,
	}, {
		name: "health checks left by an earlier manager are orphans",
		si:   full, zone: withForeign, ids: hcIDs(a, "hc-o", "hc-n"),
		index:    append(index[:2:2], hcEntry{ID: "hc-leak", Key: hcKey{Service: "shop.example.com", ID: "default/old", Path: NLBPath}}, hcEntry{ID: "hc-other", Key: hcKey{Service: "other.example.com", ID: "default/x", Path: NLBPath}}),
		orphaned: []string{"hc-leak"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := planService(DefaultOwner, tc.si, newCurrent(DefaultOwner, shop.Name, tc.zone), tc.ids, tc.index)
			if got := describe(plan.Changes); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if fmt.Sprint(plan.Skipped) != fmt.Sprint(tc.skipped) {
				t.Errorf("skipped %v, want %v", plan.Skipped, tc.skipped)
			}
			if fmt.Sprint(plan.Orphaned) != fmt.Sprint(tc.orphaned) {
				t.Errorf("orphaned %v, want %v", plan.Orphaned, tc.orphaned)
			}
			for _, c := range plan.Changes {
				if !owned(DefaultOwner, shop.Name, aws.ToString(c.ResourceRecordSet.Name), aws.ToString(c.ResourceRecordSet.SetIdentifier)) {
					t.Errorf("changes a record drover does not own: %+v", *c.ResourceRecordSet)
				}
			}
		})
	}
}

func TestHealthCheckConfig(t *testing.T) {
	p := paths("10.0.0.5", "NLB-1.elb.amazonaws.com.", 90, 10)
	o, n := healthCheckConfig(p, OctaviaPath), healthCheckConfig(p, NLBPath)
	if aws.ToString(o.IPAddress) != "10.0.0.5" || o.FullyQualifiedDomainName != nil || aws.ToString(o.ResourcePath) != "/healthz" || o.Type != types.HealthCheckTypeHttp {
		t.Errorf("Octavia path check: %+v", *o)
	}
	if aws.ToString(n.FullyQualifiedDomainName) != "nlb-1.elb.amazonaws.com" || n.IPAddress != nil {
		t.Errorf("NLB path check: %+v", *n)
	}
	if configDigest(o) == configDigest(n) {
		t.Error("two different checks share a digest")
	}
	p.HealthCheck = &traffic.HealthCheck{Protocol: "TCP", Port: 443}
	if c := healthCheckConfig(p, OctaviaPath); c.ResourcePath != nil || c.Type != types.HealthCheckTypeTcp || aws.ToInt32(c.Port) != 443 {
		t.Errorf("TCP check: %+v", *c)
	}
	p.HealthCheck = nil
	if c := healthCheckConfig(p, OctaviaPath); c != nil {
		t.Errorf("no health check wanted, got %+v", *c)
	}
}

func TestNames(t *testing.T) {
	if got := ProdRecordName("Shop.Example.com.", "default/shop-eu1"); got != "shop-eu1.default.drover.shop.example.com" {
		t.Errorf("ProdRecordName = %q", got)
	}
	long := ProdRecordName("shop.example.com", "default/"+strings.Repeat("x", 70))
	if !strings.HasPrefix(long, "h") || !strings.HasSuffix(long, ".drover.shop.example.com") || len(long) > 253 {
		t.Errorf("a name too long for a DNS label: %q", long)
	}
	if ProdRecordName("shop.example.com", "a/"+strings.Repeat("x", 70)) == ProdRecordName("shop.example.com", "b/"+strings.Repeat("x", 70)) {
		t.Error("two Prods share a name")
	}
	// SetIdentifiers are unique across the zone: no Prod's service record shares one with
	// another Prod's path record (moto, and a careless DELETE, match by SetIdentifier).
	seen := map[string]string{}
	for _, id := range []string{"a/b", "a/b/octavia", "a/b/nlb", "a/b-nlb"} {
		for _, s := range []string{serviceSetID("drover", id), pathSetID("drover", id, OctaviaPath), pathSetID("drover", id, NLBPath)} {
			if other, ok := seen[s]; ok && other != id {
				// "a/b/octavia" as a Prod id cannot exist: a namespace/name has one slash.
				if strings.Count(id, "/") == 1 && strings.Count(other, "/") == 1 {
					t.Errorf("SetIdentifier %q of %s and %s", s, id, other)
				}
			}
			seen[s] = id
		}
	}
	for _, tc := range []struct {
		name, setID string
		want        bool
	}{
		{"shop.example.com.", "drover/default/a", true},
		{"SHOP.example.com", "drover/default/a", true},
		{"a.default.drover.shop.example.com.", "drover/default/a/nlb", true},
		{"api.shop.example.com.", "drover/default/a", false},
		{"shop.example.com.", "legacy/dc1", false},
		{"shop.example.com.", "", false},
		{"a.default.drover.other.example.com.", "drover/default/a", false},
	} {
		if got := owned("drover", "shop.example.com", tc.name, tc.setID); got != tc.want {
			t.Errorf("owned(%q, %q) = %v, want %v", tc.name, tc.setID, got, tc.want)
		}
	}
}

func TestMergeKeepsEarlierPaths(t *testing.T) {
	si := intent(traffic.Weight{ID: "d/a", Weight: 100, Paths: paths("10.0.0.5", "", 90, 10)})
	si.merge([]traffic.Weight{{ID: "d/a", Weight: 0}})
	if w := si.Weights["d/a"]; w.Weight != 0 || w.Paths == nil {
		t.Errorf("merged %+v: the later weight wins, the earlier paths stay", w)
	}
	si.merge([]traffic.Weight{{ID: "d/a", Remove: true}})
	if w := si.Weights["d/a"]; !w.Remove {
		t.Errorf("merged %+v: a removal wins", w)
	}
}
