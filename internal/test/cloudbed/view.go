package cloudbed

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbsdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	r53sdk "github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// What AWS has of drover's, read from moto with the AWS SDK (not with drover's code,
// so it shows what the cloud has, not what drover believes): the weighted records of a
// hosted zone, grouped by Prod, and the NLB mirrors.

// Record is a weighted record set as the view needs it.
type Record struct {
	Name        string // without the final dot
	SetID       string
	Weight      int64
	Target      string // the alias target (without the final dot) or the first value
	HealthCheck bool
}

// PathRecord is one of a Prod's path records.
type PathRecord struct {
	Weight      int64
	Target      string
	HealthCheck bool
}

// ProdRecords are drover's records of one Prod under one service name.
type ProdRecords struct {
	Service string // the service name (shop.example.com)
	Prod    string // namespace/name
	// Weight is the Prod's service-level weight; nil when it has no such record (yet, or
	// any more).
	Weight *int64
	// Share is Weight as a percentage of the service-level weights of the service; -1
	// when they add up to 0.
	Share        int
	Octavia, NLB *PathRecord
}

// ProdRows groups the records of owner's Prods by service and Prod (the naming of
// internal/traffic/route53: "<owner>/<ns>/<name>" on the service name, with "/octavia"
// and "/nlb" on the Prod's own name "….drover.<service>"), sorted by service and Prod.
// Records of other owners are left out.
func ProdRows(owner string, recs []Record) []ProdRecords {
	type key struct{ service, prod string }
	byKey := map[key]*ProdRecords{}
	row := func(k key) *ProdRecords {
		if byKey[k] == nil {
			byKey[k] = &ProdRecords{Service: k.service, Prod: k.prod, Share: -1}
		}
		return byKey[k]
	}
	for _, r := range recs {
		id, ok := strings.CutPrefix(r.SetID, owner+"/")
		if !ok {
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(r.Name, "."))
		prod, path, isPath := strings.Cut(id, "/")
		if isPath {
			// <ns>/<name>/<path>
			ns := prod
			prod, path, isPath = strings.Cut(path, "/")
			prod = ns + "/" + prod
		} else {
			prod = id
		}
		if !isPath {
			w := r.Weight
			row(key{name, prod}).Weight = &w
			continue
		}
		_, service, found := strings.Cut(name, ".drover.")
		if !found {
			continue
		}
		p := &PathRecord{Weight: r.Weight, Target: r.Target, HealthCheck: r.HealthCheck}
		switch route53.Path(path) {
		case route53.OctaviaPath:
			row(key{service, prod}).Octavia = p
		case route53.NLBPath:
			row(key{service, prod}).NLB = p
		}
	}
	sums := map[string]int64{}
	for k, r := range byKey {
		if r.Weight != nil {
			sums[k.service] += *r.Weight
		}
	}
	rows := make([]ProdRecords, 0, len(byKey))
	for k, r := range byKey {
		if r.Weight != nil && sums[k.service] > 0 {
			r.Share = int(math.Round(float64(*r.Weight) * 100 / float64(sums[k.service])))
		}
		rows = append(rows, *r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Service != rows[j].Service {
			return rows[i].Service < rows[j].Service
		}
		return rows[i].Prod < rows[j].Prod
	})
	return rows
}

// NLB is one of drover's NLB mirrors as ELBv2 has it.
type NLB struct {
	Prod         string // namespace/name, from its drover.dev/prod tag
	ARN, DNSName string
	State        string
	TargetGroups int
	Targets      int
	Healthy      int
}

// ReadRecords lists the zone's weighted record sets. moto answers a zone of the
// sandbox's size in one page (and mishandles a page boundary inside a weighted set),
// so it reads one page of the most Route53 gives.
func ReadRecords(ctx context.Context, c *r53sdk.Client, zoneID string) ([]Record, error) {
	out, err := c.ListResourceRecordSets(ctx, &r53sdk.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), MaxItems: aws.Int32(300)})
	if err != nil {
		return nil, fmt.Errorf("listing the records of zone %s: %w", zoneID, err)
	}
	var recs []Record
	for _, r := range out.ResourceRecordSets {
		if r.SetIdentifier == nil {
			continue
		}
		rec := Record{
			Name: strings.TrimSuffix(aws.ToString(r.Name), "."), SetID: aws.ToString(r.SetIdentifier),
			Weight: aws.ToInt64(r.Weight), HealthCheck: aws.ToString(r.HealthCheckId) != "",
		}
		switch {
		case r.AliasTarget != nil:
			rec.Target = strings.TrimSuffix(aws.ToString(r.AliasTarget.DNSName), ".")
		case len(r.ResourceRecords) > 0:
			rec.Target = aws.ToString(r.ResourceRecords[0].Value)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// ReadNLBs lists the load balancers that carry drover's ownership tags with owner (the
// manager's --owner-id), with their target groups' targets, sorted by Prod.
func ReadNLBs(ctx context.Context, c *elbsdk.Client, owner string) ([]NLB, error) {
	var all []NLB
	p := elbsdk.NewDescribeLoadBalancersPaginator(c, &elbsdk.DescribeLoadBalancersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the load balancers: %w", err)
		}
		for _, lb := range page.LoadBalancers {
			all = append(all, NLB{ARN: aws.ToString(lb.LoadBalancerArn), DNSName: aws.ToString(lb.DNSName)})
			if lb.State != nil {
				all[len(all)-1].State = string(lb.State.Code)
			}
		}
	}
	var ours []NLB
	for chunk := range slices.Chunk(all, 20) {
		arns := make([]string, len(chunk))
		for i, n := range chunk {
			arns[i] = n.ARN
		}
		tags, err := c.DescribeTags(ctx, &elbsdk.DescribeTagsInput{ResourceArns: arns})
		if err != nil {
			return nil, fmt.Errorf("reading the load balancers' tags: %w", err)
		}
		byARN := map[string]map[string]string{}
		for _, d := range tags.TagDescriptions {
			m := map[string]string{}
			for _, t := range d.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			byARN[aws.ToString(d.ResourceArn)] = m
		}
		for _, n := range chunk {
			t := byARN[n.ARN]
			if t[nlb.TagManagedBy] != nlb.ManagedByValue || t[nlb.TagOwner] != owner {
				continue
			}
			n.Prod = t[nlb.TagProd]
			ours = append(ours, n)
		}
	}
	for i := range ours {
		if err := readTargets(ctx, c, &ours[i]); err != nil {
			return nil, err
		}
	}
	sort.Slice(ours, func(i, j int) bool { return ours[i].Prod+ours[i].ARN < ours[j].Prod+ours[j].ARN })
	return ours, nil
}

// readTargets counts the NLB's target groups and their (healthy) targets.
func readTargets(ctx context.Context, c *elbsdk.Client, n *NLB) error {
	tgs, err := c.DescribeTargetGroups(ctx, &elbsdk.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(n.ARN)})
	if err != nil {
		return fmt.Errorf("listing the target groups of %s: %w", n.ARN, err)
	}
	n.TargetGroups = len(tgs.TargetGroups)
	for _, tg := range tgs.TargetGroups {
		th, err := c.DescribeTargetHealth(ctx, &elbsdk.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
		if err != nil {
			return fmt.Errorf("reading the targets of %s: %w", aws.ToString(tg.TargetGroupArn), err)
		}
		for _, d := range th.TargetHealthDescriptions {
			n.Targets++
			if d.TargetHealth != nil && d.TargetHealth.State == "healthy" {
				n.Healthy++
			}
		}
	}
	return nil
}
