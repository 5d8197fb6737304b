package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"
)

func TestProdRows(t *testing.T) {
	svc := func(id string, w int64) dnsRecord {
		return dnsRecord{Name: "shop.example.com.", SetID: id, Weight: w, Target: strings.TrimPrefix(id, "drover/") + ".drover.shop.example.com"}
	}
	path := func(prod, p string, w int64, target string) dnsRecord {
		ns, name, _ := strings.Cut(prod, "/")
		return dnsRecord{Name: name + "." + ns + ".drover.shop.example.com", SetID: "drover/" + prod + "/" + p, Weight: w, Target: target, HealthCheck: true}
	}
	tests := []struct {
		name string
		recs []dnsRecord
		want []prodRecords
	}{
		{name: "nothing", recs: nil, want: []prodRecords{}},
		{
			name: "two Prods with both paths, shares of the service",
			recs: []dnsRecord{
				path("default/b", "nlb", 10, "nlb-b.elb.amazonaws.com"),
				svc("drover/default/b", 100),
				path("default/a", "octavia", 90, "198.51.100.10"),
				svc("drover/default/a", 300),
				path("default/a", "nlb", 10, "nlb-a.elb.amazonaws.com"),
				path("default/b", "octavia", 90, "198.51.100.11"),
			},
			want: []prodRecords{
				{Service: "shop.example.com", Prod: "default/a", Weight: ptr.To[int64](300), Share: 75,
					Octavia: &pathRecord{90, "198.51.100.10", true}, NLB: &pathRecord{10, "nlb-a.elb.amazonaws.com", true}},
				{Service: "shop.example.com", Prod: "default/b", Weight: ptr.To[int64](100), Share: 25,
					Octavia: &pathRecord{90, "198.51.100.11", true}, NLB: &pathRecord{10, "nlb-b.elb.amazonaws.com", true}},
			},
		},
		{
			name: "an evicted Prod and every weight 0: no share",
			recs: []dnsRecord{svc("drover/default/a", 0), svc("drover/default/b", 0)},
			want: []prodRecords{
				{Service: "shop.example.com", Prod: "default/a", Weight: ptr.To[int64](0), Share: -1},
				{Service: "shop.example.com", Prod: "default/b", Weight: ptr.To[int64](0), Share: -1},
			},
		},
		{
			name: "paths without a service record yet; records of other owners and names left out",
			recs: []dnsRecord{
				path("default/a", "octavia", 100, "198.51.100.10"),
				{Name: "shop.example.com", SetID: "legacy/dc1", Weight: 50, Target: "192.0.2.1"},
				{Name: "a.default.drover.shop.example.com", SetID: "someone-else/default/a/nlb", Weight: 5},
				{Name: "elsewhere.example.com", SetID: "drover/default/a/nlb", Weight: 5},
			},
			want: []prodRecords{
				{Service: "shop.example.com", Prod: "default/a", Share: -1, Octavia: &pathRecord{100, "198.51.100.10", true}},
			},
		},
		{
			name: "services sorted apart, each with its own shares",
			recs: []dnsRecord{
				{Name: "web.example.com", SetID: "drover/default/w", Weight: 10},
				{Name: "api.example.com", SetID: "drover/default/x", Weight: 1},
				{Name: "api.example.com", SetID: "drover/default/y", Weight: 2},
			},
			want: []prodRecords{
				{Service: "api.example.com", Prod: "default/x", Weight: ptr.To[int64](1), Share: 33},
				{Service: "api.example.com", Prod: "default/y", Weight: ptr.To[int64](2), Share: 67},
				{Service: "web.example.com", Prod: "default/w", Weight: ptr.To[int64](10), Share: 100},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := prodRows("drover", tt.recs)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("prodRows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordsTableCells(t *testing.T) {
	tests := []struct {
		name string
		row  prodRecords
		want []string
	}{
		{
			name: "steady",
			row: prodRecords{Service: "s", Prod: "ns/p", Weight: ptr.To[int64](100), Share: 33,
				Octavia: &pathRecord{90, "198.51.100.10", true}, NLB: &pathRecord{10, "nlb.example", true}},
			want: []string{"s", "ns/p", "100 (33%)", "90 -> 198.51.100.10 [hc]", "10 -> nlb.example [hc]"},
		},
		{
			name: "no service record, no NLB path, no health check",
			row:  prodRecords{Service: "s", Prod: "ns/p", Share: -1, Octavia: &pathRecord{100, "198.51.100.10", false}},
			want: []string{"s", "ns/p", "-", "100 -> 198.51.100.10", "-"},
		},
		{
			name: "every weight 0",
			row:  prodRecords{Service: "s", Prod: "ns/p", Weight: ptr.To[int64](0), Share: -1},
			want: []string{"s", "ns/p", "0", "-", "-"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := recordsTable([]prodRecords{tt.row})
			if diff := cmp.Diff(tt.want, tbl.rows[0].cells); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNLBTableCells(t *testing.T) {
	tbl := nlbTable([]nlbInfo{
		{Prod: "ns/a", ARN: "arn:a", DNSName: "a.elb", State: "active", TargetGroups: 1, Targets: 2, Healthy: 2},
		{Prod: "ns/b", ARN: "arn:b", DNSName: "b.elb", State: "provisioning", TargetGroups: 2, Targets: 3, Healthy: 1},
	})
	want := [][]string{
		{"ns/a", "a.elb", "active", "2 (2 healthy) in 1 target group", "arn:a"},
		{"ns/b", "b.elb", "provisioning", "3 (1 healthy) in 2 target groups", "arn:b"},
	}
	for i, r := range tbl.rows {
		if diff := cmp.Diff(want[i], r.cells); diff != "" {
			t.Errorf("row %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestTableRenderMarksChanges(t *testing.T) {
	tbl := func(rows ...tableRow) table { return table{header: []string{"K", "V"}, rows: rows} }
	row := func(k, v string) tableRow { return tableRow{key: k, cells: []string{k, v}} }
	tests := []struct {
		name string
		prev map[string]string
		t    table
		want string
	}{
		{
			name: "first rendering marks nothing",
			t:    tbl(row("a", "1"), row("b", "2")),
			want: "     K  V\n     a  1\n     b  2\n",
		},
		{
			name: "changed and new rows marked, gone ones listed",
			prev: map[string]string{"a": "a\t1", "b": "b\t2", "c": "c\t3"},
			t:    tbl(row("a", "1"), row("b", "9"), row("d", "4")),
			want: "     K  V\n     a  1\n  *  b  9\n  *  d  4\n  - c: gone\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cells := tt.t.render(tt.prev)
			if got != tt.want {
				t.Errorf("render:\n%s\nwant:\n%s", got, tt.want)
			}
			if len(cells) != len(tt.t.rows) {
				t.Errorf("render returned %d rows' cells, want %d", len(cells), len(tt.t.rows))
			}
		})
	}
}
