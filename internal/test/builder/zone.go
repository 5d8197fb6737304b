package builder

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// ForeignZone creates the hosted zone example.com in the Route53 that c reaches
// (moto) holding, for each service name given (such as shop.example.com), records that
// drover must never touch: another owner's weighted record of the service name, a
// record below it, a name sorting between it and its subdomains, a TXT record of it, and
// a record under drover's naming (the paths of a Prod a in namespace default) with a
// SetIdentifier that is not drover's. It returns
// the zone's id.
func ForeignZone(t testing.TB, c *r53sdk.Client, services ...string) string {
	t.Helper()
	ctx := context.Background()
	out, err := c.CreateHostedZone(ctx, &r53sdk.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	zone := strings.TrimPrefix(aws.ToString(out.HostedZone.Id), "/hostedzone/")
	a := func(name, setID, ip string, weight int64) r53types.Change {
		r := &r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRTypeA, TTL: aws.Int64(60),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(ip)}}}
		if setID != "" {
			r.SetIdentifier, r.Weight = aws.String(setID), aws.Int64(weight)
		}
		return r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: r}
	}
	var changes []r53types.Change
	for _, s := range services {
		label, _, _ := strings.Cut(s, ".")
		parent := strings.TrimPrefix(s, label)
		changes = append(changes,
			a(s, "legacy/dc1", "192.0.2.1", 50),
			a("api."+s, "", "192.0.2.2", 0),
			a(label+"-x"+parent, "", "192.0.2.3", 0),
			a("a.default.drover."+s, "someone-else/a", "192.0.2.4", 5),
			r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{
				Name: aws.String(s), Type: r53types.RRTypeTxt, TTL: aws.Int64(60),
				ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(`"v=spf1 -all"`)}}}},
		)
	}
	if len(changes) > 0 {
		if _, err := c.ChangeResourceRecordSets(ctx, &r53sdk.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zone), ChangeBatch: &r53types.ChangeBatch{Changes: changes}}); err != nil {
			t.Fatal(err)
		}
	}
	return zone
}
