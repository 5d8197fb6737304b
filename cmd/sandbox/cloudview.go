package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbsdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	r53sdk "github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/drover-dev/drover/internal/cloudbed"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// The sandbox's view of AWS: drover's weighted records in each hosted zone and its NLB
// mirrors, read from moto with the AWS SDK (not with drover's code, so it shows what
// the cloud has, not what drover believes), printed whenever they change.

// cloudPollInterval is how often the sandbox reads Route53 and ELBv2.
const cloudPollInterval = 2 * time.Second

// owner is the manager's --owner-id, which the sandbox leaves at its default: the
// prefix of drover's SetIdentifiers and the value of its ownership tags.
const owner = route53.DefaultOwner

// dnsRecord is a weighted record set as the view needs it.
type dnsRecord struct {
	Name        string // without the final dot
	SetID       string
	Weight      int64
	Target      string // the alias target (without the final dot) or the first value
	HealthCheck bool
}

// pathRecord is one of a Prod's path records.
type pathRecord struct {
	Weight      int64
	Target      string
	HealthCheck bool
}

// prodRecords are drover's records of one Prod under one service name.
type prodRecords struct {
	Service string // the service name (shop.example.com)
	Prod    string // namespace/name
	// Weight is the Prod's service-level weight; nil when it has no such record (yet, or
	// any more).
	Weight *int64
	// Share is Weight as a percentage of the service-level weights of the service; -1
	// when they add up to 0.
	Share        int
	Octavia, NLB *pathRecord
}

// prodRows groups the records of owner's Prods by service and Prod (the naming of
// internal/traffic/route53: "<owner>/<ns>/<name>" on the service name, with "/octavia"
// and "/nlb" on the Prod's own name "….drover.<service>"), sorted by service and Prod.
// Records of other owners are left out.
func prodRows(owner string, recs []dnsRecord) []prodRecords {
	type key struct{ service, prod string }
	byKey := map[key]*prodRecords{}
	row := func(k key) *prodRecords {
		if byKey[k] == nil {
			byKey[k] = &prodRecords{Service: k.service, Prod: k.prod, Share: -1}
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
		p := &pathRecord{Weight: r.Weight, Target: r.Target, HealthCheck: r.HealthCheck}
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
	rows := make([]prodRecords, 0, len(byKey))
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

// recordsTable is the table of drover's records: a row per Prod.
func recordsTable(rows []prodRecords) table {
	t := table{header: []string{"SERVICE", "PROD", "WEIGHT", "OCTAVIA PATH", "NLB PATH"}}
	for _, r := range rows {
		weight := "-"
		if r.Weight != nil {
			weight = fmt.Sprintf("%d", *r.Weight)
			if r.Share >= 0 {
				weight += fmt.Sprintf(" (%d%%)", r.Share)
			}
		}
		t.rows = append(t.rows, tableRow{key: r.Service + " " + r.Prod, cells: []string{r.Service, r.Prod, weight, pathCell(r.Octavia), pathCell(r.NLB)}})
	}
	return t
}

// pathCell renders a path record as "weight -> target", with [hc] when a health check
// decides whether it is served.
func pathCell(p *pathRecord) string {
	if p == nil {
		return "-"
	}
	s := fmt.Sprintf("%d -> %s", p.Weight, p.Target)
	if p.HealthCheck {
		s += " [hc]"
	}
	return s
}

// nlbInfo is one of drover's NLB mirrors as ELBv2 has it.
type nlbInfo struct {
	Prod         string // namespace/name, from its drover.dev/prod tag
	ARN, DNSName string
	State        string
	TargetGroups int
	Targets      int
	Healthy      int
}

// nlbTable is the table of the NLB mirrors: a row per Prod.
func nlbTable(nlbs []nlbInfo) table {
	t := table{header: []string{"PROD", "DNS NAME", "STATE", "TARGETS", "ARN"}}
	for _, n := range nlbs {
		groups := "target groups"
		if n.TargetGroups == 1 {
			groups = "target group"
		}
		t.rows = append(t.rows, tableRow{key: n.Prod + " " + n.ARN, cells: []string{
			n.Prod, n.DNSName, n.State,
			fmt.Sprintf("%d (%d healthy) in %d %s", n.Targets, n.Healthy, n.TargetGroups, groups), n.ARN,
		}})
	}
	return t
}

// table is rows of cells under a header; each row has a key that identifies it from one
// rendering to the next.
type table struct {
	header []string
	rows   []tableRow
}

type tableRow struct {
	key   string
	cells []string
}

// render writes the table aligned, each line indented by two spaces, and marks with *
// the rows that are new or differ from prev (the previous rendering's cells by key;
// nil marks nothing) and lists the rows of prev that are gone. It returns the text and
// this rendering's cells by key.
func (t table) render(prev map[string]string) (string, map[string]string) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  \t%s\n", strings.Join(t.header, "\t"))
	now := make(map[string]string, len(t.rows))
	for _, r := range t.rows {
		line := strings.Join(r.cells, "\t")
		now[r.key] = line
		mark := " "
		if old, ok := prev[r.key]; prev != nil && (!ok || old != line) {
			mark = "*"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", mark, line)
	}
	_ = tw.Flush()
	var gone []string
	for k := range prev {
		if _, ok := now[k]; !ok {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for _, k := range gone {
		fmt.Fprintf(&b, "  - %s: gone\n", k)
	}
	return b.String(), now
}

// cloudView prints drover's records and NLBs whenever they change.
type cloudView struct {
	route53 *r53sdk.Client
	elbv2   *elbsdk.Client
	zones   map[string]string // id by name
	out     io.Writer
	started time.Time // when the sandbox started, for the time since in each title

	shown   map[string]string            // the last text printed, by section
	cells   map[string]map[string]string // the last cells printed, by section
	failing bool
}

func newCloudView(c *cloudbed.Clouds, out io.Writer, started time.Time) *cloudView {
	return &cloudView{route53: c.AWS.Route53, elbv2: c.AWS.ELBv2, zones: c.Zones, out: out, started: started,
		shown: map[string]string{}, cells: map[string]map[string]string{}}
}

// run prints the view every cloudPollInterval when it changed, until ctx ends.
func (v *cloudView) run(ctx context.Context) {
	tick := time.NewTicker(cloudPollInterval)
	defer tick.Stop()
	for {
		v.update(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// update reads AWS once and prints each section that changed.
func (v *cloudView) update(ctx context.Context) {
	names := make([]string, 0, len(v.zones))
	for name := range v.zones {
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		id := v.zones[name]
		recs, err := readRecords(ctx, v.route53, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rows := prodRows(owner, recs)
		title := fmt.Sprintf("Route53 zone %s (%s): drover's weighted records", name, id)
		if len(rows) == 0 {
			v.show("zone "+name, title+": none yet", table{})
			continue
		}
		v.show("zone "+name, title+" (service name -> Prod, and each Prod's two paths)", recordsTable(rows))
	}
	nlbs, err := readNLBs(ctx, v.elbv2)
	if err != nil {
		errs = append(errs, err)
	} else if len(nlbs) == 0 {
		v.show("nlbs", "ELBv2: no NLB mirrors yet", table{})
	} else {
		v.show("nlbs", "ELBv2: drover's NLB mirrors of the Prods' Octavia load balancers", nlbTable(nlbs))
	}
	switch {
	case len(errs) > 0 && !v.failing && ctx.Err() == nil:
		fmt.Fprintf(v.out, "%s reading AWS (moto): %v (retrying quietly)\n", time.Now().Format(time.TimeOnly), errs[0])
		v.failing = true
	case len(errs) == 0:
		v.failing = false
	}
}

// show prints the section's title and table if they differ from what it printed last.
func (v *cloudView) show(section, title string, t table) {
	text, cells := "", map[string]string(nil)
	if len(t.header) > 0 {
		text, cells = t.render(v.cells[section])
	}
	// Compare without the change marks, which depend on what came before.
	key := title + "\n" + strings.Join(sortedValues(cells), "\n")
	if v.shown[section] == key {
		return
	}
	v.shown[section], v.cells[section] = key, cells
	now := time.Now()
	fmt.Fprintf(v.out, "\n%s (+%s) %s\n%s", now.Format(time.TimeOnly), now.Sub(v.started).Round(time.Second), title, text)
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"\t"+v)
	}
	slices.Sort(out)
	return out
}

// readRecords lists the zone's weighted record sets. moto answers a zone of the
// sandbox's size in one page (and mishandles a page boundary inside a weighted set),
// so it reads one page of the most Route53 gives.
func readRecords(ctx context.Context, c *r53sdk.Client, zoneID string) ([]dnsRecord, error) {
	out, err := c.ListResourceRecordSets(ctx, &r53sdk.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), MaxItems: aws.Int32(300)})
	if err != nil {
		return nil, fmt.Errorf("listing the records of zone %s: %w", zoneID, err)
	}
	var recs []dnsRecord
	for _, r := range out.ResourceRecordSets {
		if r.SetIdentifier == nil {
			continue
		}
		rec := dnsRecord{
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

// readNLBs lists the load balancers that carry drover's ownership tags (this owner's),
// with their target groups' targets, sorted by Prod.
func readNLBs(ctx context.Context, c *elbsdk.Client) ([]nlbInfo, error) {
	var all []nlbInfo
	p := elbsdk.NewDescribeLoadBalancersPaginator(c, &elbsdk.DescribeLoadBalancersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the load balancers: %w", err)
		}
		for _, lb := range page.LoadBalancers {
			all = append(all, nlbInfo{ARN: aws.ToString(lb.LoadBalancerArn), DNSName: aws.ToString(lb.DNSName)})
			if lb.State != nil {
				all[len(all)-1].State = string(lb.State.Code)
			}
		}
	}
	var ours []nlbInfo
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
func readTargets(ctx context.Context, c *elbsdk.Client, n *nlbInfo) error {
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
