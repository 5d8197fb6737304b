package cli

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/release"
	"github.com/drover-dev/drover/internal/traffic"
)

// DashboardView is everything the dashboard page shows, as the page receives it (JSON):
// built by buildDashboard from what the user's own credentials could read, so the page
// shows nothing their RBAC hides.
type DashboardView struct {
	// Time the view was built (RFC 3339).
	Time string `json:"time"`
	// Scope says which namespaces the view covers: "all namespaces" or "namespace x".
	Scope string `json:"scope"`
	// Hidden lists what the user's credentials could not read, so the page can say what
	// it does not show and why.
	Hidden   []string       `json:"hidden"`
	ProdSets []DashboardSet `json:"prodSets"`
	// Prods of no ProdSet.
	Prods    []ProdView         `json:"prods"`
	Clusters []DashboardCluster `json:"clusters"`
	Freezes  []FreezeRow        `json:"freezes"`
}

// DashboardSet is one ProdSet: what `status` shows, plus its traffic picture, the
// rollout's steps, the commands the user may give, and its release history.
type DashboardSet struct {
	SetView
	// Traffic is the service's traffic by region, cluster and Prod.
	Traffic TrafficView `json:"traffic"`
	// Steps are the rollout policy's steps with where the rollout is; empty without a
	// policy that could be read.
	Steps []StepView `json:"steps"`
	// Commands are the rollout commands, each with what it would do now or why drover
	// would ignore it (the same check `kubectl drover rollout` makes).
	Commands []CommandView `json:"commands"`
	// Releases are the set's Releases, newest first.
	Releases []ReleaseBar `json:"releases"`
}

// TrafficView is a service's traffic: each Prod's share of the service's weights, in
// DNS and as desired, grouped by region and cluster.
type TrafficView struct {
	// Published and Desired are the sums of the Prods' weights.
	Published int32 `json:"published"`
	Desired   int32 `json:"desired"`
	// InFlight is true while DNS does not hold the desired weights yet (a change
	// submitted and not in sync, or not submitted yet).
	InFlight bool            `json:"inFlight"`
	Regions  []RegionTraffic `json:"regions"`
}

// RegionTraffic is the traffic of one region ("" when the cluster's region is unknown).
type RegionTraffic struct {
	Region    string           `json:"region"`
	Published int32            `json:"published"`
	Desired   int32            `json:"desired"`
	Clusters  []ClusterTraffic `json:"clusters"`
}

// ClusterTraffic is the traffic of one cluster of a region.
type ClusterTraffic struct {
	Cluster   string        `json:"cluster"`
	Published int32         `json:"published"`
	Desired   int32         `json:"desired"`
	Prods     []ProdTraffic `json:"prods"`
}

// ProdTraffic is one Prod's part of the service's traffic.
type ProdTraffic struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Published is the weight DNS holds (nil: nothing published); Pending a change in
	// flight; Desired the weight drover wants.
	Published *int32 `json:"published,omitempty"`
	Pending   *int32 `json:"pending,omitempty"`
	Desired   int32  `json:"desired"`
	// PublishedShare and DesiredShare are the Prod's share of the service, in percent.
	PublishedShare float64 `json:"publishedShare"`
	DesiredShare   float64 `json:"desiredShare"`
	// Paths is how the Prod's own traffic splits between its Octavia VIP and its NLB;
	// nil while the Prod has no endpoint.
	Paths *PathSplit `json:"paths,omitempty"`
	// State is one word for the picture: serving, draining, drained, evicted, pending,
	// unavailable or unreachable.
	State   string `json:"state"`
	Evicted string `json:"evicted,omitempty"`
	Held    string `json:"held,omitempty"`
}

// PathSplit is a Prod's two path records.
type PathSplit struct {
	Octavia int32 `json:"octavia"`
	NLB     int32 `json:"nlb"`
	// OctaviaStatus is the load balancer's operating status as last read.
	OctaviaStatus string `json:"octaviaStatus,omitempty"`
	// NLBHealthy and NLBTargets are the mirror's targets; 0 without a mirror.
	NLBTargets int32 `json:"nlbTargets,omitempty"`
	NLBHealthy int32 `json:"nlbHealthy,omitempty"`
	// Note says why the split is not the steady state (a path known down).
	Note string `json:"note,omitempty"`
	// InFlight is true while DNS has not confirmed the paths' records.
	InFlight bool `json:"inFlight,omitempty"`
}

// StepView is one step of the rollout policy.
type StepView struct {
	Index int32  `json:"index"`
	Name  string `json:"name"`
	// What the step takes: "1 Prod at weight 10", "every remaining Prod", ...
	Takes string `json:"takes"`
	// State is done, current, failed or waiting.
	State string `json:"state"`
	// Gates is the number of gates of the step.
	Gates int `json:"gates"`
	// Prods picked in this step, with their phase.
	Prods []StepProd `json:"prods,omitempty"`
}

// StepProd is a Prod picked in a step.
type StepProd struct {
	Name        string `json:"name"`
	Phase       string `json:"phase"`
	Replacement string `json:"replacement,omitempty"`
	Failed      bool   `json:"failed,omitempty"`
}

// CommandView is one rollout command as the page offers it.
type CommandView struct {
	Verb string `json:"verb"`
	// Applies is false when drover would ignore the command now; Text says what it
	// would do, or why not.
	Applies bool   `json:"applies"`
	Text    string `json:"text"`
}

// ReleaseBar is one Release on the timeline.
type ReleaseBar struct {
	Name             string `json:"name"`
	Revision         string `json:"revision"`
	PreviousRevision string `json:"previousRevision,omitempty"`
	Version          string `json:"version,omitempty"`
	// Outcome is how it ended (Completed, RolledBack, Aborted, Superseded), or its phase
	// while it runs.
	Outcome   string `json:"outcome"`
	Running   bool   `json:"running"`
	Started   string `json:"started"`
	Finished  string `json:"finished,omitempty"`
	StartedBy string `json:"startedBy,omitempty"`
	EndedBy   string `json:"endedBy,omitempty"`
	Message   string `json:"message,omitempty"`
	Steps     int    `json:"steps"`
	// RollbackLatency is from the failure to the rollback's DNS change, when it rolled back.
	RollbackLatency string `json:"rollbackLatency,omitempty"`
	// Commands given during the release ("promote by alice at step 1").
	Commands []string `json:"commands,omitempty"`
}

// DashboardCluster is one workload cluster: what `cluster list` shows, its region, and
// the maintenances' phases in short.
type DashboardCluster struct {
	ClusterRow
	Region string `json:"region,omitempty"`
	// Inferred is true when the user may not read Cluster API Clusters and the cluster
	// is known only from the Prods on it.
	Inferred bool `json:"inferred,omitempty"`
}

// dashboardData is what the dashboard read; each list holds only what the user's
// credentials could list.
type dashboardData struct {
	scope          string
	hidden         []string
	sets           []droverv1.ProdSet
	prods          []droverv1.Prod
	policies       []droverv1.RolloutPolicy
	releases       []droverv1.Release
	clusters       []clusterv1.Cluster
	maintenances   []droverv1.ClusterMaintenance
	freezes        []droverv1.Freeze
	clusterFreezes []droverv1.ClusterFreeze
	// clustersListed is false when Clusters could not be listed.
	clustersListed bool
	// mayPatch says, by namespace, whether the user may patch ProdSets there (send
	// commands); a namespace not in it is taken as allowed (not asked yet).
	mayPatch map[string]bool
}

// regionLabels are the Cluster labels read as a cluster's region, first found wins.
var regionLabels = []string{"topology.drover.dev/region", "topology.kubernetes.io/region"}

// releasesShown bounds the Releases on a set's timeline.
const releasesShown = 20

// buildDashboard joins what was read into the page's view.
func buildDashboard(d *dashboardData, now time.Time) DashboardView {
	v := DashboardView{
		Time: now.UTC().Format(time.RFC3339), Scope: d.scope, Hidden: append([]string{}, d.hidden...),
		ProdSets: []DashboardSet{}, Prods: []ProdView{}, Clusters: []DashboardCluster{}, Freezes: []FreezeRow{},
	}

	// Clusters: the Cluster API Clusters, or those the Prods name when they cannot be read.
	clusters := d.clusters
	if !d.clustersListed {
		seen := map[string]bool{}
		for i := range d.prods {
			p := &d.prods[i]
			key := p.ClusterNamespace() + "/" + p.Spec.ClusterRef.Name
			if !seen[key] {
				seen[key] = true
				c := clusterv1.Cluster{}
				c.Namespace, c.Name = p.ClusterNamespace(), p.Spec.ClusterRef.Name
				clusters = append(clusters, c)
			}
		}
	}
	region := map[string]string{} // namespace/name → region
	for i := range clusters {
		for _, l := range regionLabels {
			if r := clusters[i].Labels[l]; r != "" {
				region[clusters[i].Namespace+"/"+clusters[i].Name] = r
				break
			}
		}
	}
	for _, row := range clusterRows(&clusterData{clusters: clusters, maintenances: d.maintenances, prods: d.prods, sets: d.sets}) {
		v.Clusters = append(v.Clusters, DashboardCluster{ClusterRow: row, Region: region[row.Namespace+"/"+row.Name], Inferred: !d.clustersListed})
	}

	if fs := freezeRows(d.freezes, d.clusterFreezes, now); fs.Freezes != nil {
		v.Freezes = fs.Freezes
	}

	policies := map[string]*droverv1.RolloutPolicy{}
	for i := range d.policies {
		policies[d.policies[i].Namespace+"/"+d.policies[i].Name] = &d.policies[i]
	}
	sets := slices.Clone(d.sets)
	slices.SortFunc(sets, func(a, b droverv1.ProdSet) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	releases := map[types.UID][]*droverv1.Release{} // by the UID of their controller
	for i := range d.releases {
		if ref := metav1.GetControllerOf(&d.releases[i]); ref != nil {
			releases[ref.UID] = append(releases[ref.UID], &d.releases[i])
		}
	}
	bySet := map[string][]droverv1.Prod{} // namespace/set → its Prods
	for _, p := range d.prods {
		if name := p.Labels[droverv1.ProdSetNameLabel]; name != "" {
			bySet[p.Namespace+"/"+name] = append(bySet[p.Namespace+"/"+name], p)
		}
	}
	for i := range sets {
		set := &sets[i]
		mine := bySet[set.Namespace+"/"+set.Name]
		var policy *droverv1.RolloutPolicy
		if ref := set.Spec.RolloutPolicyRef; ref != nil {
			policy = policies[set.Namespace+"/"+ref.Name]
		}
		ds := DashboardSet{SetView: buildSetView(set, mine, policy), Steps: []StepView{}, Commands: []CommandView{}, Releases: []ReleaseBar{}}
		ds.Traffic = trafficView(set, mine, ds.Prods, region)
		ds.Steps = stepViews(set, policy)
		if set.Spec.RolloutPolicyRef != nil {
			may, asked := d.mayPatch[set.Namespace]
			for _, verb := range rolloutVerbs {
				text, err := checkCommand(verb.word, set, policy, now)
				cv := CommandView{Verb: verb.word, Applies: err == nil, Text: text}
				switch {
				case asked && !may:
					cv.Applies = false
					cv.Text = "your credentials may not patch ProdSets in namespace " + set.Namespace + " (a command is an annotation on the ProdSet)"
				case err != nil:
					cv.Text = err.Error()
				}
				ds.Commands = append(ds.Commands, cv)
			}
		}
		ds.Releases = releaseBars(set, releases[set.UID])
		v.ProdSets = append(v.ProdSets, ds)
	}
	for i := range d.prods {
		if p := &d.prods[i]; p.Labels[droverv1.ProdSetNameLabel] == "" {
			v.Prods = append(v.Prods, prodView(p, nil))
		}
	}
	slices.SortFunc(v.Prods, func(a, b ProdView) int { return strings.Compare(a.Name, b.Name) })
	return v
}

// trafficView groups a set's Prods by region and cluster with their weights and paths.
func trafficView(set *droverv1.ProdSet, prods []droverv1.Prod, views []ProdView, region map[string]string) TrafficView {
	byName := map[string]*droverv1.Prod{}
	for i := range prods {
		byName[prods[i].Name] = &prods[i]
	}
	summaries := map[string]*droverv1.ProdSummary{}
	for i := range set.Status.Prods {
		summaries[set.Status.Prods[i].Name] = &set.Status.Prods[i]
	}
	var hc *traffic.HealthCheck // the split does not depend on the check
	tv := TrafficView{Regions: []RegionTraffic{}}
	var all []ProdTraffic
	type place struct{ region, cluster string }
	where := map[string]place{}
	for _, pv := range views {
		pt := ProdTraffic{Name: pv.Name, Version: pv.Version, Published: pv.PublishedWeight, Pending: pv.PendingWeight, Evicted: pv.Evicted, Held: pv.Held}
		if pv.Weight != nil {
			pt.Desired = *pv.Weight
		}
		p := byName[pv.Name]
		sum := summaries[pv.Name]
		pt.State = prodState(pv, p, sum)
		if p != nil {
			if paths := traffic.ProdPaths(p, hc); paths != nil {
				ps := &PathSplit{Octavia: paths.OctaviaWeight, NLB: paths.NLBWeight}
				if ep := p.Status.Endpoint; ep != nil {
					ps.OctaviaStatus = ep.OctaviaStatus
				}
				if m := p.Status.Mirror; m != nil {
					for _, tg := range m.TargetGroups {
						ps.NLBTargets += tg.Targets
						ps.NLBHealthy += tg.HealthyTargets
					}
				}
				switch {
				case paths.OctaviaVIP != "" && paths.NLBDNSName != "" && paths.OctaviaWeight == 0:
					ps.Note = "Octavia " + cmp.Or(ps.OctaviaStatus, "down") + ": the NLB takes the Prod's traffic"
				case paths.OctaviaVIP != "" && paths.NLBDNSName != "" && paths.NLBWeight == 0:
					ps.Note = "no healthy NLB target: Octavia takes the Prod's traffic"
				}
				ps.InFlight = sum != nil && sum.PendingPaths != ""
				pt.Paths = ps
			}
		}
		if pt.Published != nil {
			tv.Published += *pt.Published
		}
		tv.Desired += pt.Desired
		if pt.Pending != nil || pt.Published == nil && pt.Desired > 0 || pt.Published != nil && *pt.Published != pt.Desired {
			tv.InFlight = true
		}
		ns := set.Namespace
		if p != nil {
			ns = p.ClusterNamespace()
		}
		where[pv.Name] = place{region[ns+"/"+pv.Cluster], pv.Cluster}
		all = append(all, pt)
	}
	for i := range all {
		pt := &all[i]
		if pt.Published != nil && tv.Published > 0 {
			pt.PublishedShare = share(*pt.Published, tv.Published)
		}
		if tv.Desired > 0 {
			pt.DesiredShare = share(pt.Desired, tv.Desired)
		}
		w := where[pt.Name]
		ri := slices.IndexFunc(tv.Regions, func(r RegionTraffic) bool { return r.Region == w.region })
		if ri < 0 {
			tv.Regions = append(tv.Regions, RegionTraffic{Region: w.region, Clusters: []ClusterTraffic{}})
			ri = len(tv.Regions) - 1
		}
		r := &tv.Regions[ri]
		ci := slices.IndexFunc(r.Clusters, func(c ClusterTraffic) bool { return c.Cluster == w.cluster })
		if ci < 0 {
			r.Clusters = append(r.Clusters, ClusterTraffic{Cluster: w.cluster, Prods: []ProdTraffic{}})
			ci = len(r.Clusters) - 1
		}
		c := &r.Clusters[ci]
		c.Prods = append(c.Prods, *pt)
		if pt.Published != nil {
			c.Published += *pt.Published
			r.Published += *pt.Published
		}
		c.Desired += pt.Desired
		r.Desired += pt.Desired
	}
	// Regions by name, the unknown region last; clusters by name.
	slices.SortFunc(tv.Regions, func(a, b RegionTraffic) int {
		if (a.Region == "") != (b.Region == "") {
			if a.Region == "" {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Region, b.Region)
	})
	for i := range tv.Regions {
		slices.SortFunc(tv.Regions[i].Clusters, func(a, b ClusterTraffic) int { return strings.Compare(a.Cluster, b.Cluster) })
	}
	return tv
}

// share is part of total in percent, rounded to one decimal.
func share(part, total int32) float64 {
	return math.Round(float64(part)*1000/float64(total)) / 10
}

// prodState is one word for a Prod in the traffic picture.
func prodState(pv ProdView, p *droverv1.Prod, sum *droverv1.ProdSummary) string {
	cond := func(t string) string {
		for _, c := range pv.Conditions {
			if c.Type == t {
				return c.Status
			}
		}
		return ""
	}
	published := pv.PublishedWeight != nil && *pv.PublishedWeight > 0
	switch {
	case cond(droverv1.ProdClusterReachableCondition) == string(metav1.ConditionFalse):
		return "unreachable"
	case pv.Evicted != "" && published:
		return "draining"
	case pv.Evicted != "" || sum != nil && sum.Drained:
		if pv.Weight != nil && *pv.Weight > 0 {
			break
		}
		if pv.Evicted != "" {
			return "evicted"
		}
		return "drained"
	case p != nil && cond(droverv1.ProdAvailableCondition) != string(metav1.ConditionTrue):
		return "unavailable"
	}
	switch {
	case pv.PendingWeight != nil || pv.Weight != nil && (pv.PublishedWeight == nil || *pv.PublishedWeight != *pv.Weight):
		return "pending"
	case published:
		return "serving"
	}
	return "drained"
}

// stepViews are the policy's steps, with where the set's rollout is.
func stepViews(set *droverv1.ProdSet, policy *droverv1.RolloutPolicy) []StepView {
	out := []StepView{}
	if policy == nil {
		return out
	}
	ro := set.Status.Rollout
	for i, s := range policy.Spec.Steps {
		sv := StepView{Index: int32(i), Name: cmp.Or(s.Name, fmt.Sprintf("step %d", i+1)), Takes: stepTakes(s, i == len(policy.Spec.Steps)-1), Gates: len(s.Gates), State: "waiting"}
		if ro != nil {
			switch {
			case ro.Phase == droverv1.RolloutSucceeded || int32(i) < ro.Step:
				sv.State = "done"
			case int32(i) == ro.Step && (ro.Phase == droverv1.RolloutRollingBack || ro.Phase == droverv1.RolloutRolledBack):
				sv.State = "failed"
			case int32(i) == ro.Step:
				sv.State = "current"
			}
			for _, p := range ro.Prods {
				if p.Step == int32(i) {
					sv.Prods = append(sv.Prods, StepProd{Name: p.Name, Phase: string(p.Phase), Replacement: p.Replacement, Failed: p.Failed})
				}
			}
		}
		out = append(out, sv)
	}
	return out
}

// stepTakes says what a step takes.
func stepTakes(s droverv1.RolloutStep, last bool) string {
	what := "every remaining Prod"
	if s.Count != nil {
		what = s.Count.String() + " Prod"
		if s.Count.String() != "1" {
			what += "s"
		}
	} else if !last {
		what = "the Prods its selector picks"
	}
	if s.Selector != nil && s.Count != nil {
		what += " of its selector"
	}
	if s.Weight != nil {
		what += fmt.Sprintf(" at weight %d", *s.Weight)
	}
	return what
}

// releaseBars are the set's own Releases (of its namespace, controlled by it), newest
// first, from candidates (those controlled by an object of the set's UID).
func releaseBars(set *droverv1.ProdSet, candidates []*droverv1.Release) []ReleaseBar {
	var rels []*droverv1.Release
	for _, r := range candidates {
		if r.Namespace == set.Namespace && metav1.IsControlledBy(r, set) {
			rels = append(rels, r)
		}
	}
	slices.SortStableFunc(rels, func(a, b *droverv1.Release) int {
		if c := b.StartedTime.Compare(a.StartedTime.Time); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	out := []ReleaseBar{}
	for _, r := range rels[:min(len(rels), releasesShown)] {
		b := ReleaseBar{
			Name: r.Name, Revision: r.Revision, PreviousRevision: r.PreviousRevision, Version: r.Version,
			Outcome: outcomeText(r), Running: !release.Finished(r), Started: r.StartedTime.UTC().Format(time.RFC3339),
			StartedBy: r.StartedBy, EndedBy: r.EndedBy, Message: r.Message, Steps: len(r.Steps),
		}
		if r.FinishedTime != nil {
			b.Finished = r.FinishedTime.UTC().Format(time.RFC3339)
		}
		if r.RollbackLatency != nil {
			b.RollbackLatency = r.RollbackLatency.Duration.String()
		}
		for _, c := range r.Commands {
			b.Commands = append(b.Commands, fmt.Sprintf("%s by %s at step %d", c.Command, cmp.Or(c.By, "-"), c.Step+1))
		}
		out = append(out, b)
	}
	return out
}
