package scale

import (
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="prod",result="success"} 1990
controller_runtime_reconcile_total{controller="prod",result="requeue_after"} 10
controller_runtime_reconcile_total{controller="prodset",result="success"} 200
workqueue_depth{controller="prod",name="prod"} 0
odd{a="x\"y,z}",b="\\"} 1.5e3 1712345678000
go_memstats_heap_inuse_bytes 1.2345e+07
`
	m, err := parseMetrics(strings.NewReader(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"controller_runtime_reconcile_total", map[string]string{"controller": "prod"}, 2000},
		{"controller_runtime_reconcile_total", map[string]string{"controller": "prodset"}, 200},
		{"controller_runtime_reconcile_total", nil, 2200},
		{"workqueue_depth", map[string]string{"name": "prod"}, 0},
		{"odd", map[string]string{"a": `x"y,z}`, "b": `\`}, 1500},
		{"go_memstats_heap_inuse_bytes", nil, 12345000},
		{"absent", nil, 0},
	} {
		if got := m.sum(c.name, c.match); got != c.want {
			t.Errorf("sum(%s, %v) = %v, want %v", c.name, c.match, got, c.want)
		}
	}
	kept, err := parseMetrics(strings.NewReader(text), func(n string) bool { return n == "workqueue_depth" })
	if err != nil || len(kept) != 1 {
		t.Errorf("parse keeping workqueue_depth = %v, %v; want one sample", kept, err)
	}
	for _, bad := range []string{"novalue", `x{a="b"`, `x{a=b} 1`, "x abc"} {
		if _, err := parseMetrics(strings.NewReader(bad), nil); err == nil {
			t.Errorf("parseMetrics(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
	stat := "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 12 0 100 0 0"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3800 * time.Millisecond; got != want {
		t.Errorf("parseStatCPU = %s, want %s (380 ticks)", got, want)
	}
	if _, err := parseStatCPU("4242 (x) S 1"); err == nil {
		t.Error("parseStatCPU of a short line succeeded")
	}
}

func TestObjectDiff(t *testing.T) {
	before := objectSnapshot{"c/ConfigMap/a/x": "1", "c/ConfigMap/a/y": "2", "c/Service/a/z": "3"}
	after := objectSnapshot{"c/ConfigMap/a/x": "1", "c/ConfigMap/a/y": "5", "c/Service/a/w": "6"}
	d := before.diff(after)
	if got, want := d.String(), "1 changed (c/ConfigMap/a/y); 1 added (c/Service/a/w); 1 removed (c/Service/a/z)"; got != want {
		t.Errorf("diff = %q, want %q", got, want)
	}
	if d.count() != 3 || d.empty() {
		t.Errorf("count %d, empty %t; want 3, false", d.count(), d.empty())
	}
	if d := before.diff(before); !d.empty() || d.String() != "nothing changed" {
		t.Errorf("diff with itself = %q", d)
	}
}

func TestRequestCounts(t *testing.T) {
	before := requestCounts{{"APPLY", "configmaps", ""}: 10, {"GET", "", "/api"}: 5, {"PUT", "leases", ""}: 3}
	after := requestCounts{
		{"APPLY", "configmaps", ""}: 30, {"GET", "", "/api"}: 9, {"PUT", "leases", ""}: 7,
		{"LIST", "prods", ""}: 2, {"LIST", "services", ""}: 1, {"WATCH", "secrets", ""}: 1,
	}
	d := after.minus(before)
	if got := d.total(attributable); got != 22 {
		t.Errorf("attributable requests = %v, want 22 (20 applies, 2 lists; not the leases, probes, the apiserver's own LIST services or ended watches)", got)
	}
	if got, want := d.String(), "APPLY configmaps=20, GET /api=4, PUT leases=4, LIST prods=2, LIST services=1, WATCH secrets=1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestSizeSets(t *testing.T) {
	s, err := Size{Prods: 2000, Clusters: 20, PerSet: 10}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	sets := s.sets()
	if len(sets) != 200 || s.pools() != 2 {
		t.Fatalf("%d sets in %d pools, want 200 in 2", len(sets), s.pools())
	}
	perPool := map[string]int{}
	for _, set := range sets {
		perPool[set.pool] += set.replicas
	}
	if perPool["pool-0"] != 1000 || perPool["pool-1"] != 1000 {
		t.Errorf("Prods per pool %v, want 1000 each", perPool)
	}
	clustersPerPool := map[string]int{}
	regionsPerPool := map[string]map[string]bool{}
	for _, w := range s.workloads() {
		p := w.Labels[poolLabel]
		clustersPerPool[p]++
		if regionsPerPool[p] == nil {
			regionsPerPool[p] = map[string]bool{}
		}
		regionsPerPool[p][w.Labels[regionLabel]] = true
	}
	if clustersPerPool["pool-0"] != 10 || len(regionsPerPool["pool-0"]) != regions {
		t.Errorf("pool-0 has %d clusters in %d regions, want 10 in %d", clustersPerPool["pool-0"], len(regionsPerPool["pool-0"]), regions)
	}
	small, _ := Size{Prods: 31, Clusters: 3, PerSet: 5}.normalize()
	last := small.sets()[len(small.sets())-1]
	if small.PerSet != 3 || len(small.sets()) != 11 || last.replicas != 1 {
		t.Errorf("31 Prods over 3 clusters: PerSet %d, %d sets, last of %d; want 3, 11, 1", small.PerSet, len(small.sets()), last.replicas)
	}
}

func TestFirstApplyCheck(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size       Size
		namespaces float64
		objects    float64
		other      requestKey
		others     float64
		ok         bool
	}{
		// 10 Prods with a Deployment: 10 namespaces and 30 objects at the least.
		{name: "least", size: Size{Prods: 10}, namespaces: 10, objects: 30, ok: true},
		{name: "at the limit", size: Size{Prods: 10}, namespaces: 10, objects: 30, other: requestKey{Verb: "GET", Resource: "namespaces"}, others: 8, ok: true},
		{name: "above", size: Size{Prods: 10}, namespaces: 10, objects: 30, other: requestKey{Verb: "PATCH", Resource: "configmaps"}, others: 9},
		// Without Deployments the least is 10 namespaces and 20 objects.
		{name: "no deployment above", size: Size{Prods: 10, NoDeployment: true}, namespaces: 10, objects: 30},
		{name: "no deployment", size: Size{Prods: 10, NoDeployment: true}, namespaces: 10, objects: 20, ok: true},
		// The kube-apiservers' own requests do not count.
		{name: "housekeeping", size: Size{Prods: 10}, namespaces: 10, objects: 30, other: requestKey{Verb: "PUT", Resource: "leases"}, others: 1000, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := result{Size: tc.size, FirstWorkloadReq: requestCounts{
				{Verb: "POST", Resource: "namespaces"}:  tc.namespaces,
				{Verb: "APPLY", Resource: "configmaps"}: tc.objects,
			}}
			if tc.others > 0 {
				r.FirstWorkloadReq[tc.other] += tc.others
			}
			if err := r.firstApplyCheck(); (err == nil) != tc.ok {
				t.Errorf("firstApplyCheck() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestSizeWithoutDeployment(t *testing.T) {
	with, without := Size{Prods: 4, Clusters: 2, PerSet: 2}, Size{Prods: 4, Clusters: 2, PerSet: 2, NoDeployment: true}
	if with.objectsPerProd() != 3 || without.objectsPerProd() != 2 {
		t.Errorf("objects per Prod %d with a Deployment and %d without, want 3 and 2", with.objectsPerProd(), without.objectsPerProd())
	}
	for _, w := range without.workloads() {
		if w.Controllers {
			t.Errorf("workload %s runs controllers with no Deployment to run", w.Name)
		}
	}
	set := prodSet(setSpec{name: "a", replicas: 1, pool: "pool-0", zone: "Z"}, false)
	for _, m := range set.Spec.Template.Spec.Manifests {
		if strings.Contains(string(m.Raw), `"Deployment"`) {
			t.Errorf("a ProdSet without a Deployment has one: %s", m.Raw)
		}
	}
	if n := len(prodSet(setSpec{name: "a", replicas: 1}, true).Spec.Template.Spec.Manifests); n != 3 {
		t.Errorf("a ProdSet with a Deployment has %d manifests, want 3", n)
	}
}
