package cloudbed

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"
)

func TestProdRows(t *testing.T) {
	svc := func(id string, w int64) Record {
		return Record{Name: "shop.example.com.", SetID: id, Weight: w, Target: strings.TrimPrefix(id, "drover/") + ".drover.shop.example.com"}
	}
	path := func(prod, p string, w int64, target string) Record {
		ns, name, _ := strings.Cut(prod, "/")
		return Record{Name: name + "." + ns + ".drover.shop.example.com", SetID: "drover/" + prod + "/" + p, Weight: w, Target: target, HealthCheck: true}
	}
	tests := []struct {
		name string
		recs []Record
		want []ProdRecords
	}{
		{name: "nothing", recs: nil, want: []ProdRecords{}},
		{
			name: "two Prods with both paths, shares of the service",
			recs: []Record{
				path("default/b", "nlb", 10, "nlb-b.elb.amazonaws.com"),
				svc("drover/default/b", 100),
				path("default/a", "octavia", 90, "198.51.100.10"),
				svc("drover/default/a", 300),
				path("default/a", "nlb", 10, "nlb-a.elb.amazonaws.com"),
				path("default/b", "octavia", 90, "198.51.100.11"),
			},
			want: []ProdRecords{
				{Service: "shop.example.com", Prod: "default/a", Weight: ptr.To[int64](300), Share: 75,
					Octavia: &PathRecord{90, "198.51.100.10", true}, NLB: &PathRecord{10, "nlb-a.elb.amazonaws.com", true}},
				{Service: "shop.example.com", Prod: "default/b", Weight: ptr.To[int64](100), Share: 25,
					Octavia: &PathRecord{90, "198.51.100.11", true}, NLB: &PathRecord{10, "nlb-b.elb.amazonaws.com", true}},
			},
		},
		{
			name: "an evicted Prod and every weight 0: no share",
			recs: []Record{svc("drover/default/a", 0), svc("drover/default/b", 0)},
			want: []ProdRecords{
				{Service: "shop.example.com", Prod: "default/a", Weight: ptr.To[int64](0), Share: -1},
				{Service: "shop.example.com", Prod: "default/b", Weight: ptr.To[int64](0), Share: -1},
			},
		},
		{
			name: "paths without a service record yet; records of other owners and names left out",
			recs: []Record{
				path("default/a", "octavia", 100, "198.51.100.10"),
				{Name: "shop.example.com", SetID: "legacy/dc1", Weight: 50, Target: "192.0.2.1"},
				{Name: "a.default.drover.shop.example.com", SetID: "someone-else/default/a/nlb", Weight: 5},
				{Name: "elsewhere.example.com", SetID: "drover/default/a/nlb", Weight: 5},
			},
			want: []ProdRecords{
				{Service: "shop.example.com", Prod: "default/a", Share: -1, Octavia: &PathRecord{100, "198.51.100.10", true}},
			},
		},
		{
			name: "services sorted apart, each with its own shares",
			recs: []Record{
				{Name: "web.example.com", SetID: "drover/default/w", Weight: 10},
				{Name: "api.example.com", SetID: "drover/default/x", Weight: 1},
				{Name: "api.example.com", SetID: "drover/default/y", Weight: 2},
			},
			want: []ProdRecords{
				{Service: "api.example.com", Prod: "default/x", Weight: ptr.To[int64](1), Share: 33},
				{Service: "api.example.com", Prod: "default/y", Weight: ptr.To[int64](2), Share: 67},
				{Service: "web.example.com", Prod: "default/w", Weight: ptr.To[int64](10), Share: 100},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ProdRows("drover", tt.recs)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("prodRows (-want +got):\n%s", diff)
			}
		})
	}
}
