package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	elbsdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	r53sdk "github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/drover-dev/drover/internal/test/cloudbed"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// The sandbox's view of AWS: drover's weighted records in each hosted zone and its NLB
// mirrors, read from moto with the AWS SDK (not with drover's code, so it shows what
// the cloud has, not what drover believes), printed whenever they change.

// cloudPollInterval is how often the sandbox reads Route53 and ELBv2.
const cloudPollInterval = 2 * time.Second

// owner is the manager's --owner-id, which the sandbox gives as drover's default: the
// prefix of drover's SetIdentifiers and the value of its ownership tags.
const owner = route53.DefaultOwner

// recordsTable is the table of drover's records: a row per Prod.
func recordsTable(rows []cloudbed.ProdRecords) table {
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
func pathCell(p *cloudbed.PathRecord) string {
	if p == nil {
		return "-"
	}
	s := fmt.Sprintf("%d -> %s", p.Weight, p.Target)
	if p.HealthCheck {
		s += " [hc]"
	}
	return s
}

// nlbTable is the table of the NLB mirrors: a row per Prod.
func nlbTable(nlbs []cloudbed.NLB) table {
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
		recs, err := cloudbed.ReadRecords(ctx, v.route53, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rows := cloudbed.ProdRows(owner, recs)
		title := fmt.Sprintf("Route53 zone %s (%s): drover's weighted records", name, id)
		if len(rows) == 0 {
			v.show("zone "+name, title+": none yet", table{})
			continue
		}
		v.show("zone "+name, title+" (service name -> Prod, and each Prod's two paths)", recordsTable(rows))
	}
	nlbs, err := cloudbed.ReadNLBs(ctx, v.elbv2, owner)
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
