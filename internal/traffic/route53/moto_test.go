package route53

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/test/builder"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	r53 "github.com/drover-dev/drover/internal/cloud/route53"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/traffic"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// zoneWithForeignRecords makes a hosted zone holding records drover must never touch
// (builder.ForeignZone) and describes them.
func zoneWithForeignRecords(t *testing.T, c *sdk.Client) (string, []string) {
	t.Helper()
	zone := builder.ForeignZone(t, c, "shop.example.com")
	return zone, foreignRecords(t, c, zone)
}

// foreignRecords describes every record of the zone that is not drover's.
func foreignRecords(t *testing.T, c *sdk.Client, zone string) []string {
	t.Helper()
	var out []string
	for _, r := range allRecords(t, c, zone) {
		if r.Type == types.RRTypeNs || r.Type == types.RRTypeSoa || strings.HasPrefix(aws.ToString(r.SetIdentifier), DefaultOwner+"/") {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s %d %v", aws.ToString(r.Name), r.Type, aws.ToString(r.SetIdentifier), aws.ToInt64(r.Weight), aws.ToString(r.ResourceRecords[0].Value)))
	}
	sort.Strings(out)
	return out
}

func allRecords(t *testing.T, c *sdk.Client, zone string) []types.ResourceRecordSet {
	t.Helper()
	out, err := c.ListResourceRecordSets(context.Background(), &sdk.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
	if err != nil {
		t.Fatal(err)
	}
	return out.ResourceRecordSets
}

// droverRecords is drover's records of the zone: weight (and target) by SetIdentifier.
func droverRecords(t *testing.T, c *sdk.Client, zone string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range allRecords(t, c, zone) {
		id := aws.ToString(r.SetIdentifier)
		if !strings.HasPrefix(id, DefaultOwner+"/") {
			continue
		}
		target := ""
		if r.AliasTarget != nil {
			target = strings.TrimSuffix(aws.ToString(r.AliasTarget.DNSName), ".")
		} else {
			target = aws.ToString(r.ResourceRecords[0].Value)
		}
		hc := ""
		if r.HealthCheckId != nil {
			hc = " hc"
		}
		out[id] = fmt.Sprintf("%d %s%s", aws.ToInt64(r.Weight), target, hc)
	}
	return out
}

func waitInSync(t *testing.T, p *Publisher, ticket string) {
	t.Helper()
	eventually(t, "change "+ticket+" in sync", func() bool { return ticketInSync(t, p, ticket) })
}

// Against moto: both levels of records and their health checks are written as one change
// per batch, the weights of many Prods (an eviction) move in one change, a removed Prod
// leaves nothing behind, and foreign records survive it all. The publisher reaches moto
// through the fault proxy (no faults), which counts the changes sent on the wire; the
// test reads moto directly.
func TestPublisherAgainstRoute53(t *testing.T) {
	moto := awstest.Shared(t)
	clients := moto.Clients(t)
	zone, foreign := zoneWithForeignRecords(t, clients.Route53)
	proxy := awstest.NewFaultProxy(t, moto.Endpoint(), 1)
	proxied, err := awsclient.New(t.Context(), proxy.Options(moto.Options()))
	if err != nil {
		t.Fatal(err)
	}
	p := startPublisher(t, r53.New(proxied.Route53, r53.Options{}))
	svc := traffic.Service{Zone: zone, Name: "shop.example.com", TTL: 30 * time.Second}
	ctx := context.Background()
	changes := func() int { return proxy.Requests(cloudmetrics.Route53, "ChangeResourceRecordSets") }

	prods := []string{"default/a", "default/b", "default/c"}
	var weights []traffic.Weight
	for i, id := range prods {
		weights = append(weights, traffic.Weight{ID: id, Weight: 100, Paths: &traffic.Paths{
			OctaviaVIP: fmt.Sprintf("10.0.0.%d", i+1), OctaviaWeight: 90,
			NLBDNSName: fmt.Sprintf("nlb-%d.elb.us-east-1.amazonaws.com", i), NLBZoneID: "Z26RNL4JYFTOTI", NLBWeight: 10,
			HealthCheck: &traffic.HealthCheck{Protocol: "HTTP", Port: 80, Path: "/healthz"},
		}})
	}
	tk, err := p.Publish(ctx, svc, weights)
	if err != nil {
		t.Fatal(err)
	}
	waitInSync(t, p, tk)
	if n := changes(); n != 1 {
		t.Errorf("%d ChangeResourceRecordSets calls for three new Prods, want 1", n)
	}
	got := droverRecords(t, clients.Route53, zone)
	want := map[string]string{}
	for i, id := range prods {
		name := ProdRecordName(svc.Name, id)
		want["drover/"+id] = "100 " + name
		want["drover/"+id+"/octavia"] = fmt.Sprintf("90 10.0.0.%d hc", i+1)
		want["drover/"+id+"/nlb"] = fmt.Sprintf("10 nlb-%d.elb.us-east-1.amazonaws.com hc", i)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("records:\n%v\nwant:\n%v", got, want)
	}
	tagged, err := r53.New(clients.Route53, r53.Options{}).HealthChecksTagged(ctx, TagOwner, DefaultOwner)
	if err != nil {
		t.Fatal(err)
	}
	if len(tagged) != 6 {
		t.Errorf("%d tagged health checks, want one per path of each Prod", len(tagged))
	}

	// A cluster eviction of two Prods, and the third's Octavia failing: one change.
	tk, err = p.Publish(ctx, svc, []traffic.Weight{{ID: "default/a", Weight: 0}, {ID: "default/b", Weight: 0}})
	if err != nil {
		t.Fatal(err)
	}
	third := *weights[2].Paths
	third.OctaviaWeight, third.NLBWeight = 0, 100
	tk2, err := p.Publish(ctx, svc, []traffic.Weight{{ID: "default/c", Weight: 100, Paths: &third}})
	if err != nil {
		t.Fatal(err)
	}
	waitInSync(t, p, tk)
	waitInSync(t, p, tk2)
	if n := changes(); n != 2 {
		t.Errorf("%d ChangeResourceRecordSets calls after the eviction, want 2 (one for it)", n)
	}
	got = droverRecords(t, clients.Route53, zone)
	want["drover/default/a"] = "0 " + ProdRecordName(svc.Name, "default/a")
	want["drover/default/b"] = "0 " + ProdRecordName(svc.Name, "default/b")
	want["drover/default/c/octavia"] = "0 10.0.0.3 hc"
	want["drover/default/c/nlb"] = "100 nlb-2.elb.us-east-1.amazonaws.com hc"
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("records after the eviction:\n%v\nwant:\n%v", got, want)
	}

	// A Prod removed: its records and health checks go; nothing else does.
	tk, err = p.Publish(ctx, svc, []traffic.Weight{{ID: "default/a", Remove: true}})
	if err != nil {
		t.Fatal(err)
	}
	waitInSync(t, p, tk)
	for _, k := range []string{"drover/default/a", "drover/default/a/octavia", "drover/default/a/nlb"} {
		delete(want, k)
	}
	got = droverRecords(t, clients.Route53, zone)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("records after removing a:\n%v\nwant:\n%v", got, want)
	}
	eventually(t, "a's health checks are deleted", func() bool {
		tagged, err := r53.New(clients.Route53, r53.Options{}).HealthChecksTagged(ctx, TagOwner, DefaultOwner)
		if err != nil {
			t.Fatal(err)
		}
		for _, tags := range tagged {
			if tags[TagProd] == "default/a" {
				return false
			}
		}
		return len(tagged) == 4
	})
	if after := foreignRecords(t, clients.Route53, zone); fmt.Sprint(after) != fmt.Sprint(foreign) {
		t.Errorf("foreign records changed:\n%v\nwere:\n%v", after, foreign)
	}
}
