package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/drover-dev/drover/internal/test/cloudbed"
)

func TestRecordsTableCells(t *testing.T) {
	tests := []struct {
		name string
		row  cloudbed.ProdRecords
		want []string
	}{
		{
			name: "steady",
			row: cloudbed.ProdRecords{Service: "s", Prod: "ns/p", Weight: ptr.To[int64](100), Share: 33,
				Octavia: &cloudbed.PathRecord{Weight: 90, Target: "198.51.100.10", HealthCheck: true}, NLB: &cloudbed.PathRecord{Weight: 10, Target: "nlb.example", HealthCheck: true}},
			want: []string{"s", "ns/p", "100 (33%)", "90 -> 198.51.100.10 [hc]", "10 -> nlb.example [hc]"},
		},
		{
			name: "no service record, no NLB path, no health check",
			row:  cloudbed.ProdRecords{Service: "s", Prod: "ns/p", Share: -1, Octavia: &cloudbed.PathRecord{Weight: 100, Target: "198.51.100.10", HealthCheck: false}},
			want: []string{"s", "ns/p", "-", "100 -> 198.51.100.10", "-"},
		},
		{
			name: "every weight 0",
			row:  cloudbed.ProdRecords{Service: "s", Prod: "ns/p", Weight: ptr.To[int64](0), Share: -1},
			want: []string{"s", "ns/p", "0", "-", "-"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := recordsTable([]cloudbed.ProdRecords{tt.row})
			if diff := cmp.Diff(tt.want, tbl.rows[0].cells); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNLBTableCells(t *testing.T) {
	tbl := nlbTable([]cloudbed.NLB{
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
