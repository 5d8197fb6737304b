package scale

import (
	"fmt"
	"strings"
	"time"
)

const mib = 1 << 20

// workloadQPS and workloadBurst are the client-side rate limit of each workload
// cluster's client: Cluster API's cluster cache defaults, which drover keeps.
const (
	workloadQPS   = 20
	workloadBurst = 30
)

// table renders the result as markdown: each figure measured, its minimum where one
// exists, and the ratio.
func (r result) table() string {
	n := float64(r.Size.Prods)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d Prods (%d ProdSets of up to %d, %d pools) over %d workload clusters; restart by %s; load average %s\n\n",
		r.Size.Prods, r.Sets, r.Size.PerSet, r.Size.pools(), r.Size.Clusters, r.signal, strings.Join(r.Load, " → "))
	b.WriteString("| figure | measured | minimum | measured / minimum |\n| --- | --- | --- | --- |\n")
	row := func(figure, measured, minimum string, ratio float64) {
		rs := "–"
		if ratio > 0 {
			rs = fmt.Sprintf("%.1f×", ratio)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", figure, measured, minimum, rs)
	}
	ratio := func(a, b float64) float64 {
		if b <= 0 {
			return 0
		}
		return a / b
	}

	wlMin := float64(len(r.Size.manifestKinds()) * r.Size.Clusters)
	all := func(requestKey) bool { return true }
	wlWatch, cpWatch := r.WorkloadWatches.total(opened), r.CPWatches.total(opened)
	wl := r.workloadRequests()
	wlOther := r.WorkloadReq.total(func(k requestKey) bool { return k.Resource == "" })
	cp := r.CPReq.total(attributable) + cpWatch
	cpOther := r.CPReq.total(func(k requestKey) bool { return k.Resource == "" })
	row("resync: time from process start until every Prod is reconciled and the queues are empty",
		secs(r.Resync), secs(r.FloorTime)+" (the benchmark listing every type in every cluster at once)", ratio(r.Resync.Seconds(), r.FloorTime.Seconds()))
	row("resync: requests to the workload clusters",
		fmt.Sprintf("%.0f (%s; and %.0f watches opened: %s); besides %.0f discovery and health probes",
			wl, only(r.WorkloadReq, attributable), wlWatch, only(r.WorkloadWatches, all), wlOther),
		fmt.Sprintf("%.0f (one LIST and WATCH — a watch whose first answer is the list — of each of %d types per cluster)", wlMin, len(r.Size.manifestKinds())), ratio(wl, wlMin))
	row("resync: the Prods' objects compared with the workload clusters: in sync / applied",
		fmt.Sprintf("%.0f / %.0f", r.Verified, r.Applied), fmt.Sprintf("%d / 0", r.Size.Prods*r.Size.objectsPerProd()), 0)
	qpsFloor := max(0, r.BusiestCluster-workloadBurst) / workloadQPS
	row("resync: the same requests as the manager counted them (rest_client_requests_total)",
		fmt.Sprintf("%.0f to the workload clusters (at most %.0f to one), %.0f to the control plane; a Prod reconcile took %s on average",
			r.MgrWorkloadReq, r.BusiestCluster, r.MgrCPReq, r.ProdReconcileMean.Round(time.Millisecond)),
		fmt.Sprintf("%.1f s: the busiest cluster's requests at the workload client's rate limit (%d/s, burst %d, Cluster API's default)", qpsFloor, workloadQPS, workloadBurst), 0)
	row("resync: workload objects written", fmt.Sprint(r.WorkloadWrites.count()), "0", 0)
	row("resync: requests to the control plane",
		fmt.Sprintf("%.0f (%s; and %.0f watches opened, whose first answer is the informer's list: %s); besides %.0f discovery",
			cp, only(r.CPReq, attributable), cpWatch, only(r.CPWatches, all), cpOther),
		fmt.Sprintf("%d (one LIST per kind read, and of the kubeconfig Secrets)", controlPlaneInformers), ratio(cp, controlPlaneInformers))
	row("resync: control-plane objects written (Prods, ProdSets, ControllerRevisions)", fmt.Sprint(r.CPWrites.count()), "0", 0)
	row("resync: manager CPU, start to done, less the benchmark's scrapes of its /metrics",
		fmt.Sprintf("%s (%.2f ms per Prod; %s with the %d scrapes, which cost %.1f ms each, %.1f ms with no Prod)",
			secs(r.netCPU()), ms(r.netCPU())/n, secs(r.ResyncCPU), r.Scrapes, ms(r.ScrapeCPU), ms(r.BaselineScrapeCPU)),
		fmt.Sprintf("%s (%.3f ms per Prod: the benchmark decoding those LISTs)", secs(r.FloorCPU), ms(r.FloorCPU)/n), ratio(r.netCPU().Seconds(), r.FloorCPU.Seconds()))
	row("resync: manager peak RSS (VmHWM)", mibs(r.ResyncHWM), "–", 0)
	row(fmt.Sprintf("resync: manager RSS when done, and %s later", r.settle),
		fmt.Sprintf("%s, %s (baseline with no Prod %s; %.1f KiB per Prod above it)", mibs(r.DoneRSS), mibs(r.SettleRSS), mibs(r.Baseline.RSS), float64(r.SettleRSS-r.Baseline.RSS)/1024/n),
		"–", 0)
	heapPer := (r.SettleHeap - r.BaselineHeap) / n
	floorPer := float64(r.FloorHeap) / n
	row("resync: manager Go heap in use, settled (go_memstats_heap_inuse_bytes)",
		fmt.Sprintf("%s (baseline %s; %.1f KiB per Prod above it)", mibs(int64(r.SettleHeap)), mibs(int64(r.BaselineHeap)), heapPer/1024),
		fmt.Sprintf("%.1f KiB per Prod (the Prods, ProdSets and Clusters decoded, as an informer holds them; a Prod is %d bytes of JSON)", floorPer/1024, r.ProdBytes),
		ratio(heapPer, floorPer))

	fwMin := r.firstWorkloadMin()
	fw := r.FirstWorkloadReq.total(attributable)
	fww := r.FirstWorkloadReq.total(func(k requestKey) bool { return attributable(k) && isWrite(k.Verb) })
	fcMin := 2*n + 2*float64(r.Sets) // create each Prod, one status write each; the sets' creates and one status write each
	cpWrite := func(k requestKey) bool { return attributable(k) && isWrite(k.Verb) }
	fcw := r.FirstCPReq.total(cpWrite)
	row("first apply: ProdSets created → every Prod created / Applied and Available / weights published and quiet",
		fmt.Sprintf("%s / %s / %s", secs(r.FirstCreated), secs(r.FirstAvailable), secs(r.FirstSettled)), "–", 0)
	row("first apply: requests to the workload clusters",
		fmt.Sprintf("%.0f (%.2f per Prod), %.0f of them writes (%s)", fw, fw/n, fww, only(r.FirstWorkloadReq, attributable)),
		fmt.Sprintf("%.0f (create each Prod's namespace and %d objects; the run fails above %.1f×)", fwMin, r.Size.objectsPerProd(), firstWorkloadLimit), ratio(fw, fwMin))
	row("first apply: write requests to the control plane",
		fmt.Sprintf("%.0f, %.2f per Prod (%s)", fcw, fcw/n, only(r.FirstCPReq, cpWrite)),
		fmt.Sprintf("%.0f (create each Prod and set, one status write each)", fcMin), ratio(fcw, fcMin))
	for _, c := range cpWriteClasses {
		got := r.FirstCPReq.total(func(k requestKey) bool { return cpWrite(k) && c.of(k.Resource) })
		row("first apply: control-plane writes of "+c.name, fmt.Sprintf("%.0f (%.2f per Prod)", got, got/n), c.least, 0)
	}
	row("first apply: manager CPU", fmt.Sprintf("%s (%.2f ms per Prod)", secs(r.FirstCPU), ms(r.FirstCPU)/n), "–", 0)
	row("first apply: manager peak RSS (VmHWM), RSS settled", fmt.Sprintf("%s, %s", mibs(r.FirstHWM), mibs(r.FirstRSS)), "–", 0)
	fmt.Fprintf(&b, "\nreconciles by the restarted manager until done: %v (errors %v); client-side throttling waits logged: %d; stop took %s; test bed started in %s\n",
		r.Reconciles, r.ReconcileErrors, r.Throttled, secs(r.Stop), secs(r.BedStart))
	return b.String()
}

// firstWorkloadLimit is how far above the least possible the first apply's requests to
// the workload clusters may go before BenchmarkResync fails (see firstApplyCheck).
const firstWorkloadLimit = 1.2

// firstWorkloadMin is the least the first apply can ask of the workload clusters:
// create each Prod's namespace and its objects, one request each.
func (r result) firstWorkloadMin() float64 {
	return float64(r.Size.Prods * (1 + r.Size.objectsPerProd()))
}

// firstApplyCheck holds the first apply to what BenchmarkResync checks of it: its
// requests to the workload clusters at most firstWorkloadLimit times the least possible.
// Times are reported, not checked: they depend on the machine and its load.
func (r result) firstApplyCheck() error {
	least := r.firstWorkloadMin()
	if got := r.FirstWorkloadReq.total(attributable); got > firstWorkloadLimit*least {
		return fmt.Errorf("the first apply sent %.0f requests to the workload clusters, %.2f× the least possible %.0f (one per Prod's namespace and object); at most %.1f× allowed: %s",
			got, got/least, least, firstWorkloadLimit, only(r.FirstWorkloadReq, attributable))
	}
	return nil
}

// cpWriteClass is a class of the control-plane writes the report splits the first
// apply's into, by resource.
type cpWriteClass struct {
	name, least string
	of          func(resource string) bool
}

var cpWriteClasses = []cpWriteClass{
	{"Prods (create, finalizer, spec)", "1 per Prod (its create)", func(r string) bool { return r == "prods" }},
	{"Prod status", "2 per Prod (landed, Available)", func(r string) bool { return r == "prods/status" }},
	{"ProdSets and their status", "–", func(r string) bool { return r == "prodsets" || r == "prodsets/status" }},
	{"events", "–", func(r string) bool { return r == "events" }},
	{"others (ControllerRevisions...)", "–", func(r string) bool {
		switch r {
		case "prods", "prods/status", "prodsets", "prodsets/status", "events":
			return false
		}
		return true
	}},
}

// opened accepts the watches of a resource (apiserver_longrunning_requests).
func opened(k requestKey) bool { return k.Verb == "WATCH" && k.Resource != "" }

// workloadRequests is what the resync asked of the workload clusters: the requests
// that ended, less the kube-apiservers' own, and the watches it opened.
func (r result) workloadRequests() float64 {
	return r.WorkloadReq.total(attributable) + r.WorkloadWatches.total(opened)
}

// netCPU is the resync's CPU without what the benchmark's scrapes of /metrics cost.
func (r result) netCPU() time.Duration {
	return max(0, r.ResyncCPU-time.Duration(r.Scrapes)*r.ScrapeCPU)
}

// only renders the classes of c that keep accepts.
func only(c requestCounts, keep func(requestKey) bool) string {
	out := requestCounts{}
	for k, v := range c {
		if keep(k) {
			out[k] = v
		}
	}
	return out.String()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mibs(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/mib) }
