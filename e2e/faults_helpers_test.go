package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/cloudbed"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// The fault specs' evidence. A ledger follows one ProdSet from the moment it starts:
// every version of its Prods and of the set itself, as the control plane's watch hands
// them out (so no state in between is missed), and the set's service-level records in
// Route53 (moto), read every ledgerDNSInterval. A step that ran twice shows there as a
// second move of a Prod's revision, a second drain, a Prod's rollout phase going back,
// a gate verdict recorded twice or a rollout started again.

// ledgerDNSInterval is how often the ledger reads the set's records in moto. A drain
// holds a Prod at weight 0 for at least the set's TTL (seconds) plus its update, so a
// drain cannot fall between two readings.
const ledgerDNSInterval = 200 * time.Millisecond

// noRecord stands for "no service-level record" in a Prod's Route53 weight history.
const noRecord = -1

// prodSpecState is one generation of a Prod's spec as the ProdSet wrote it.
type prodSpecState struct {
	Generation int64
	Revision   string
	Version    string
	Weight     int32
}

func (s prodSpecState) String() string {
	return fmt.Sprintf("g%d %s/%s@%d", s.Generation, s.Version, shortRev(s.Revision), s.Weight)
}

// prodHistory is what the ledger saw of one Prod.
type prodHistory struct {
	UID types.UID
	// Initial is true for a Prod that existed when the ledger started.
	Initial bool
	// Specs are the Prod's spec generations, in order, each once.
	Specs []prodSpecState
	// Deleting is true once the Prod had a deletionTimestamp; Deleted once it was gone.
	Deleting, Deleted bool
	// Superseded is true once the Prod carried drover.dev/superseded.
	Superseded bool
}

// rolloutHistory is what the ledger saw of the set's rollout of one revision.
type rolloutHistory struct {
	// StartedTimes are the distinct status.rollout.startedTime values: a rollout begun
	// again would have a second one.
	StartedTimes []string
	// Steps and Phases are the rollout's step and phase, each change once.
	Steps  []int32
	Phases []droverv1.RolloutPhase
	// ProdPhases is each Prod's phase in status.rollout.prods, each change once;
	// ProdSteps the step(s) that picked it.
	ProdPhases map[string][]droverv1.RolloutProdPhase
	ProdSteps  map[string][]int32
	// Gates is the longest list of gate verdicts seen; GateRegressions are statuses
	// whose list did not extend the one before (a verdict lost or rewritten).
	Gates           []droverv1.GateOutcome
	GateRegressions []string
}

// faultLedger records what drover did to one ProdSet; see above.
type faultLedger struct {
	key    client.ObjectKey
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	prods map[string]*prodHistory
	// rollouts by revision.
	rollouts map[string]*rolloutHistory
	// published is each Prod's status.prods[].publishedWeight, each change once
	// (noRecord while unset); dns its service-level weight in Route53 (noRecord
	// without a record).
	published map[string][]int64
	dns       map[string][]int64
	// replicas is status.replicas, each change once; summaries every Prod name that
	// appeared in status.prods.
	replicas  []int32
	summaries map[string]bool
	// dnsReads and dnsErrors count the readings of Route53; gaps the watches that had
	// to list again (history was lost: a 410 Gone).
	dnsReads, dnsErrors int
	gaps                []string
	// prodsListed is true once the Prods were first listed: a Prod first seen after
	// that was created after the ledger started.
	prodsListed bool
}

// startFaultLedger starts following the set; stop it with stop (DeferCleanup does too).
func startFaultLedger(key client.ObjectKey) *faultLedger {
	wc, err := client.NewWithWatch(bed.ControlPlane.Config, client.Options{Scheme: setup.Scheme()})
	Expect(err).NotTo(HaveOccurred(), "a watching client of the control plane")
	ctx, cancel := context.WithCancel(context.Background())
	l := &faultLedger{
		key: key, cancel: cancel,
		prods: map[string]*prodHistory{}, rollouts: map[string]*rolloutHistory{},
		published: map[string][]int64{}, dns: map[string][]int64{}, summaries: map[string]bool{},
	}
	synced := make(chan struct{}, 2)
	l.wg.Go(func() {
		defer GinkgoRecover()
		l.follow(ctx, wc, &droverv1.ProdList{}, &client.ListOptions{
			Namespace: key.Namespace, LabelSelector: labels.SelectorFromSet(labels.Set{droverv1.ProdSetNameLabel: key.Name}),
		}, l.onProd, synced)
	})
	l.wg.Go(func() {
		defer GinkgoRecover()
		l.follow(ctx, wc, &droverv1.ProdSetList{}, &client.ListOptions{
			Namespace: key.Namespace, FieldSelector: fields.OneTermEqualSelector("metadata.name", key.Name),
		}, l.onSet, synced)
	})
	l.wg.Go(func() { l.readDNS(ctx) })
	for range 2 {
		select {
		case <-synced:
		case <-time.After(30 * time.Second):
			Fail("the ledger's watches did not list ProdSet " + key.String() + " and its Prods within 30s")
		}
	}
	DeferCleanup(l.stop)
	return l
}

// stop ends the ledger's watches and readings.
func (l *faultLedger) stop() {
	l.cancel()
	l.wg.Wait()
}

// follow lists, then watches from the list's resourceVersion, calling handle for every
// object and every event; a watch that ends is resumed where it stopped, and one whose
// history is gone (410) lists again, which is recorded as a gap.
func (l *faultLedger) follow(ctx context.Context, wc client.WithWatch, list client.ObjectList, opts *client.ListOptions, handle func(client.Object, bool), synced chan<- struct{}) {
	first := true
	for ctx.Err() == nil {
		lo := *opts
		if err := wc.List(ctx, list, &lo); err != nil {
			sleepCtx(ctx, time.Second)
			continue
		}
		items, err := meta.ExtractList(list)
		Expect(err).NotTo(HaveOccurred())
		for _, it := range items {
			handle(it.(client.Object), false)
		}
		if first {
			if _, ok := list.(*droverv1.ProdList); ok {
				l.mu.Lock()
				l.prodsListed = true
				l.mu.Unlock()
			}
			synced <- struct{}{}
			first = false
		}
		rv := list.GetResourceVersion()
		for ctx.Err() == nil {
			wo := *opts
			wo.Raw = &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}
			w, err := wc.Watch(ctx, list, &wo)
			if err != nil {
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					l.gap(fmt.Sprintf("%T: %v", list, err))
					break
				}
				sleepCtx(ctx, time.Second)
				continue
			}
			gone := false
			for ev := range w.ResultChan() {
				if ev.Type == watch.Error {
					if st := apierrors.FromObject(ev.Object); apierrors.IsResourceExpired(st) || apierrors.IsGone(st) {
						l.gap(fmt.Sprintf("%T: %v", list, st))
						gone = true
					}
					break
				}
				obj, ok := ev.Object.(client.Object)
				if !ok {
					continue
				}
				rv = obj.GetResourceVersion()
				if ev.Type != watch.Bookmark {
					handle(obj, ev.Type == watch.Deleted)
				}
			}
			w.Stop()
			if gone {
				break
			}
		}
	}
}

func (l *faultLedger) gap(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gaps = append(l.gaps, what)
}

// onProd records a version of one of the set's Prods.
func (l *faultLedger) onProd(obj client.Object, deleted bool) {
	p, ok := obj.(*droverv1.Prod)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.prods[p.Name]
	if h == nil || h.UID != p.UID && p.UID != "" {
		if h != nil {
			// Another Prod of the same name: keep the first's history under a new key.
			l.prods[p.Name+"@"+string(h.UID)] = h
		}
		h = &prodHistory{UID: p.UID, Initial: !l.prodsListed}
		l.prods[p.Name] = h
	}
	if deleted {
		h.Deleted = true
		return
	}
	if !p.DeletionTimestamp.IsZero() {
		h.Deleting = true
	}
	if p.Annotations[droverv1.SupersededAnnotation] != "" {
		h.Superseded = true
	}
	s := prodSpecState{Generation: p.Generation, Revision: p.Labels[droverv1.RevisionLabel], Version: p.Spec.Version, Weight: p.DesiredWeight()}
	if n := len(h.Specs); n == 0 || h.Specs[n-1].Generation != s.Generation {
		h.Specs = append(h.Specs, s)
	}
}

// onSet records a version of the set's status.
func (l *faultLedger) onSet(obj client.Object, deleted bool) {
	set, ok := obj.(*droverv1.ProdSet)
	if !ok || deleted {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.replicas); n == 0 || l.replicas[n-1] != set.Status.Replicas {
		l.replicas = append(l.replicas, set.Status.Replicas)
	}
	for _, sum := range set.Status.Prods {
		l.summaries[sum.Name] = true
		w := int64(noRecord)
		if sum.PublishedWeight != nil {
			w = int64(*sum.PublishedWeight)
		}
		l.published[sum.Name] = appendChange(l.published[sum.Name], w)
	}
	ro := set.Status.Rollout
	if ro == nil {
		return
	}
	h := l.rollouts[ro.Revision]
	if h == nil {
		h = &rolloutHistory{ProdPhases: map[string][]droverv1.RolloutProdPhase{}, ProdSteps: map[string][]int32{}}
		l.rollouts[ro.Revision] = h
	}
	if ro.StartedTime != nil {
		if t := ro.StartedTime.UTC().Format(time.RFC3339); !slices.Contains(h.StartedTimes, t) {
			h.StartedTimes = append(h.StartedTimes, t)
		}
	}
	h.Steps = appendChange(h.Steps, ro.Step)
	h.Phases = appendChange(h.Phases, ro.Phase)
	for _, rp := range ro.Prods {
		h.ProdPhases[rp.Name] = appendChange(h.ProdPhases[rp.Name], rp.Phase)
		h.ProdSteps[rp.Name] = appendChange(h.ProdSteps[rp.Name], rp.Step)
	}
	if !gatesExtend(h.Gates, ro.Gates) {
		h.GateRegressions = append(h.GateRegressions, fmt.Sprintf("%s then %s", describeGates(h.Gates), describeGates(ro.Gates)))
	}
	if len(ro.Gates) >= len(h.Gates) {
		h.Gates = slices.Clone(ro.Gates)
	}
}

// gatesExtend reports whether next keeps every verdict of prev, in order, unchanged.
func gatesExtend(prev, next []droverv1.GateOutcome) bool {
	if len(next) < len(prev) {
		return false
	}
	for i := range prev {
		a, b := prev[i], next[i]
		if a.Step != b.Step || a.Gate != b.Gate || a.Passed != b.Passed || !a.Time.Equal(&b.Time) {
			return false
		}
	}
	return true
}

// readDNS reads the set's service-level weights from moto every ledgerDNSInterval.
func (l *faultLedger) readDNS(ctx context.Context) {
	t := time.NewTicker(ledgerDNSInterval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		recs, err := readSetRecords(rctx, l.key)
		cancel()
		l.mu.Lock()
		switch {
		case err != nil:
			if ctx.Err() == nil {
				l.dnsErrors++
			}
		default:
			l.dnsReads++
			weights := recordWeights(recs)
			names := map[string]bool{}
			for k := range weights {
				names[strings.TrimPrefix(k, l.key.Namespace+"/")] = true
			}
			for name := range l.dns {
				names[name] = true
			}
			for name := range names {
				w, ok := weights[l.key.Namespace+"/"+name]
				if !ok {
					w = noRecord
				}
				l.dns[name] = appendChange(l.dns[name], w)
			}
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// appendChange appends v unless it is the last value already.
func appendChange[T comparable](s []T, v T) []T {
	if n := len(s); n > 0 && s[n-1] == v {
		return s
	}
	return append(s, v)
}

// drains counts how often a weight history went from serving (> 0) to 0, a missing
// record in between or not.
func drains(weights []int64) int {
	n, last := 0, int64(noRecord)
	for _, w := range weights {
		if w == noRecord {
			continue
		}
		if last > 0 && w == 0 {
			n++
		}
		last = w
	}
	return n
}

// vanished reports whether a weight history lost its record after having one.
func vanished(weights []int64) bool {
	i := slices.IndexFunc(weights, func(w int64) bool { return w != noRecord })
	return i >= 0 && slices.Contains(weights[i:], noRecord)
}

// inPlaceSpecs says what is wrong with a Prod's spec generations for one InPlace move
// from revision prev to next ("" when nothing is): it serves on prev, leaves traffic
// (weight 0) once, moves to next while out, and comes back at weights that only rise (a
// step's weight, then the template's). A weight going up on prev after the drain, or
// down on next after the return, is a decision undone: a step taken twice.
func inPlaceSpecs(specs []prodSpecState, prev, next string) string {
	var weights []int64
	drained, back := false, int32(0)
	for _, s := range specs {
		weights = append(weights, int64(s.Weight))
		switch {
		case s.Revision == prev && drained && s.Weight > 0:
			return "back in traffic on the previous revision after it was drained"
		case s.Revision == prev && s.Weight == 0:
			drained = true
		case s.Revision == next && !drained:
			return "moved to the new revision without leaving traffic first"
		case s.Revision == next && s.Weight == 0 && back > 0:
			return "out of traffic again after it came back on the new revision"
		case s.Revision == next && s.Weight < back:
			return fmt.Sprintf("its weight fell from %d to %d after it came back", back, s.Weight)
		case s.Revision == next:
			back = s.Weight
		}
	}
	if n := drains(weights); n != 1 {
		return fmt.Sprintf("its weight went to 0 %d times", n)
	}
	return ""
}

// rolloutPhaseOrder ranks an InPlace Prod's phases: a Prod only ever moves forward.
var rolloutPhaseOrder = map[droverv1.RolloutProdPhase]int{"Draining": 0, "Updating": 1, "Done": 2}

// ledgerExpectation is what a rollout through the ledger must show.
type ledgerExpectation struct {
	// Revision rolled out, and Previous, the one every Prod was on.
	Revision, Previous string
	// Version of Revision.
	Version string
	// Prods are the set's Prods before the rollout, by name, with their UIDs.
	Prods map[string]types.UID
	// GatesPerStep is how many gates each step of the policy has.
	GatesPerStep []int
}

// verifyRollout checks the ledger for the rollout in exp once it Succeeded and returns
// what was wrong (nothing, when all is well) and a report of the counts, one line per
// Prod, for the log:
//
//   - no Prod lost or added: the same names and UIDs, none deleted, deleting or
//     superseded, status.replicas never changed;
//   - the watch saw every spec generation of every Prod (consecutive generations);
//   - each Prod's revision moved exactly once, from Previous to Revision, and it ends
//     there at the template's weight; its spec went the InPlace way once and never
//     back (inPlaceSpecs);
//   - each Prod was drained exactly once: one fall from > 0 to 0 of its service-level
//     weight in Route53, and one of status.prods[].publishedWeight, neither of which
//     ever went away;
//   - the rollout was started once (one startedTime), its step never went back, each
//     Prod was picked by one step and its phase only moved forward, ending Done;
//   - each gate of each step has exactly one verdict, all passed, and no verdict was
//     ever lost or rewritten.
func (l *faultLedger) verifyRollout(exp ledgerExpectation) (problems []string, report string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var b strings.Builder

	if len(l.gaps) > 0 {
		bad("the ledger's watches lost history (listed again): %v", l.gaps)
	}
	if l.dnsReads == 0 {
		bad("the ledger never read Route53")
	}
	var names []string
	for name, h := range l.prods {
		if strings.Contains(name, "@") {
			bad("Prod %s was replaced by another Prod of the same name (UID %s)", strings.Split(name, "@")[0], h.UID)
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if want := slices.Sorted(maps.Keys(exp.Prods)); !slices.Equal(names, want) {
		bad("the set's Prods were %v before the rollout and %v during it", want, names)
	}
	if len(l.replicas) != 1 {
		bad("status.replicas changed: %v", l.replicas)
	}
	for name := range l.summaries {
		if _, ok := exp.Prods[name]; !ok {
			bad("status.prods listed a Prod %s that was not the set's", name)
		}
	}
	ro := l.rollouts[exp.Revision]
	if ro == nil {
		bad("the ledger never saw a rollout of %s", exp.Revision)
		ro = &rolloutHistory{ProdPhases: map[string][]droverv1.RolloutProdPhase{}, ProdSteps: map[string][]int32{}}
	}
	for _, name := range names {
		h := l.prods[name]
		switch {
		case h.UID != exp.Prods[name]:
			bad("Prod %s has UID %s, not %s: it was made again", name, h.UID, exp.Prods[name])
		case !h.Initial:
			bad("Prod %s was created during the rollout", name)
		case h.Deleted || h.Deleting:
			bad("Prod %s was deleted (deleting %t, gone %t)", name, h.Deleting, h.Deleted)
		case h.Superseded:
			bad("Prod %s was superseded", name)
		}
		var revs []string
		for i, s := range h.Specs {
			revs = appendChange(revs, s.Revision)
			if i > 0 && s.Generation != h.Specs[i-1].Generation+1 {
				bad("Prod %s: the watch missed a spec generation between %d and %d", name, h.Specs[i-1].Generation, s.Generation)
			}
		}
		if !slices.Equal(revs, []string{exp.Previous, exp.Revision}) {
			bad("Prod %s's revision went %v, not once from %s to %s", name, revs, exp.Previous, exp.Revision)
		}
		if why := inPlaceSpecs(h.Specs, exp.Previous, exp.Revision); why != "" {
			bad("Prod %s's spec went %s: %s", name, describeSpecs(h.Specs), why)
		}
		if n := len(h.Specs); n > 0 {
			if last := h.Specs[n-1]; last.Version != exp.Version || last.Weight != droverv1.DefaultWeight {
				bad("Prod %s ends at %s, not %s at weight %d", name, last, exp.Version, droverv1.DefaultWeight)
			}
		}
		if vanished(l.dns[name]) {
			bad("Prod %s's service-level record went away in Route53: %v", name, l.dns[name])
		}
		if vanished(l.published[name]) {
			bad("Prod %s's status.prods[].publishedWeight went away: %v", name, l.published[name])
		}
		if n := drains(l.dns[name]); n != 1 {
			bad("Prod %s was drained %d times in Route53: %v", name, n, l.dns[name])
		}
		if n := drains(l.published[name]); n != 1 {
			bad("Prod %s was drained %d times in status.prods[].publishedWeight: %v", name, n, l.published[name])
		}
		phases := ro.ProdPhases[name]
		for i := 1; i < len(phases); i++ {
			a, okA := rolloutPhaseOrder[phases[i-1]]
			c, okC := rolloutPhaseOrder[phases[i]]
			if !okA || !okC || c < a {
				bad("Prod %s's rollout phase went %v: back, or out of the InPlace phases", name, phases)
				break
			}
		}
		if len(phases) == 0 || phases[len(phases)-1] != "Done" {
			bad("Prod %s's rollout phases %v do not end Done", name, phases)
		}
		if len(ro.ProdSteps[name]) != 1 {
			bad("Prod %s was picked by steps %v, not by one", name, ro.ProdSteps[name])
		}
		fmt.Fprintf(&b, "  %s: spec %s; Route53 weight %v (%d drain); published %v; rollout step %v, phases %v\n",
			name, describeSpecs(h.Specs), l.dns[name], drains(l.dns[name]), l.published[name], ro.ProdSteps[name], phases)
	}
	if len(ro.StartedTimes) != 1 {
		bad("the rollout of %s was started %d times: %v", exp.Revision, len(ro.StartedTimes), ro.StartedTimes)
	}
	for i := 1; i < len(ro.Steps); i++ {
		if ro.Steps[i] < ro.Steps[i-1] {
			bad("the rollout's step went back: %v", ro.Steps)
			break
		}
	}
	if len(ro.GateRegressions) > 0 {
		bad("gate verdicts were lost or rewritten: %v", ro.GateRegressions)
	}
	verdicts := map[[2]int32]int{}
	for _, g := range ro.Gates {
		verdicts[[2]int32{g.Step, g.Gate}]++
		if !g.Passed {
			bad("step %s gate %d (%s) failed: %s", g.StepName, g.Gate, g.Type, g.Message)
		}
	}
	want := 0
	for step, n := range exp.GatesPerStep {
		for gate := range n {
			want++
			if c := verdicts[[2]int32{int32(step), int32(gate)}]; c != 1 {
				bad("step %d gate %d has %d verdicts, not 1", step, gate, c)
			}
		}
	}
	if len(ro.Gates) != want {
		bad("%d gate verdicts recorded, want %d: %s", len(ro.Gates), want, describeGates(ro.Gates))
	}
	fmt.Fprintf(&b, "  rollout %s: started %v, steps %v, phases %v, %d gate verdicts %s; status.replicas %v; %d Route53 readings (%d failed)",
		shortRev(exp.Revision), ro.StartedTimes, ro.Steps, ro.Phases, len(ro.Gates), describeGates(ro.Gates), l.replicas, l.dnsReads, l.dnsErrors)
	return problems, b.String()
}

func describeSpecs(specs []prodSpecState) string {
	parts := make([]string, len(specs))
	for i, s := range specs {
		parts[i] = s.String()
	}
	return strings.Join(parts, " → ")
}

func describeGates(gs []droverv1.GateOutcome) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = fmt.Sprintf("%s/%d:%s:%t", g.StepName, g.Gate, g.Type, g.Passed)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func shortRev(r string) string {
	if len(r) > 6 {
		return r[:6]
	}
	return r
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// prodUIDs maps the Prods' names to their UIDs.
func prodUIDs(prods []droverv1.Prod) map[string]types.UID {
	out := map[string]types.UID{}
	for i := range prods {
		out[prods[i].Name] = prods[i].UID
	}
	return out
}

// workloadObject is one object a Prod applied to its workload cluster, as last read.
type workloadObject struct {
	Cluster    string
	Kind, Name string
	UID        types.UID
	Generation int64
}

// readWorkloadObjects reads the ConfigMap, Deployment and Service of each Prod of the
// set (app name app) on its cluster, keyed by Prod name and kind.
func readWorkloadObjects(ctx context.Context, g Gomega, app string, prods []droverv1.Prod) map[string]map[string]workloadObject {
	out := map[string]map[string]workloadObject{}
	for i := range prods {
		p := &prods[i]
		w := bed.Workload(p.Spec.ClusterRef.Name)
		g.Expect(w).NotTo(BeNil(), "Prod %s's cluster %s is not the test bed's", p.Name, p.Spec.ClusterRef.Name)
		objs := map[string]client.Object{
			"ConfigMap":  &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}},
			"Deployment": &appsv1.Deployment{},
			"Service":    &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}},
		}
		names := map[string]string{"ConfigMap": app + "-config", "Deployment": app, "Service": app}
		out[p.Name] = map[string]workloadObject{}
		for kind, obj := range objs {
			key := client.ObjectKey{Namespace: p.Spec.TargetNamespace, Name: names[kind]}
			g.Expect(w.Client.Get(ctx, key, obj)).To(Succeed(), "reading %s %s of Prod %s on %s", kind, key, p.Name, w.Name)
			out[p.Name][kind] = workloadObject{Cluster: w.Name, Kind: kind, Name: key.Name, UID: obj.GetUID(), Generation: obj.GetGeneration()}
		}
	}
	return out
}

// readDeployment reads the Deployment of the Prod (app name app) on its cluster.
func readDeployment(ctx context.Context, g Gomega, app string, p *droverv1.Prod) *appsv1.Deployment {
	w := bed.Workload(p.Spec.ClusterRef.Name)
	g.Expect(w).NotTo(BeNil())
	d := &appsv1.Deployment{}
	g.Expect(w.Client.Get(ctx, client.ObjectKey{Namespace: p.Spec.TargetNamespace, Name: app}, d)).To(Succeed())
	return d
}

// replicaActivity is what a manager replica's metrics say it did since it started.
type replicaActivity struct {
	// Reconciles by every controller (controller_runtime_reconcile_total), and by the
	// ProdSet controller alone.
	Reconciles, ProdSetReconciles float64
	// CloudCalls to any cloud API, and CloudWrites, the calls that change something
	// (drover_cloud_api_calls_total).
	CloudCalls, CloudWrites float64
	// GateVerdicts (drover_rollout_gate_results_total) and MirrorSyncs
	// (drover_nlb_mirror_syncs_total).
	GateVerdicts, MirrorSyncs float64
}

func (a replicaActivity) String() string {
	return fmt.Sprintf("%g reconciles (%g of ProdSets), %g cloud API calls (%g writes), %g gate verdicts, %g NLB mirror syncs",
		a.Reconciles, a.ProdSetReconciles, a.CloudCalls, a.CloudWrites, a.GateVerdicts, a.MirrorSyncs)
}

// none reports whether the replica did nothing at all.
func (a replicaActivity) none() bool { return a == replicaActivity{} }

// cloudWriteOperations are the prefixes of the cloud API calls that change something.
var cloudWriteOperations = []string{"Create", "Delete", "Register", "Deregister", "Modify", "Change", "Add", "Remove", "Set", "Update"}

// activityOf scrapes the replica's metrics.
func activityOf(ctx context.Context, r *managerReplica) (replicaActivity, error) {
	fams, err := r.metrics(ctx)
	if err != nil {
		return replicaActivity{}, err
	}
	isWrite := func(l map[string]string) bool {
		return slices.ContainsFunc(cloudWriteOperations, func(p string) bool { return strings.HasPrefix(l["operation"], p) })
	}
	return replicaActivity{
		Reconciles:        sumOf(fams["controller_runtime_reconcile_total"], nil),
		ProdSetReconciles: sumOf(fams["controller_runtime_reconcile_total"], map[string]string{"controller": "prodset"}),
		CloudCalls:        sumOf(fams["drover_cloud_api_calls_total"], nil),
		CloudWrites:       sumWhere(fams["drover_cloud_api_calls_total"], isWrite),
		GateVerdicts:      sumOf(fams["drover_rollout_gate_results_total"], nil),
		MirrorSyncs:       sumOf(fams["drover_nlb_mirror_syncs_total"], nil),
	}, nil
}

// metricsUp reports whether the replica's metrics endpoint answers.
func metricsUp(r *managerReplica) bool {
	if r.Exited() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := r.metrics(ctx)
	return err == nil
}

// leaderWait is how long a replica gets to become the leader: a killed leader does not
// release the Lease, so a successor waits out its 15 s duration, plus a retry period
// and the start of the binary on a loaded machine.
var leaderWait = []any{45 * time.Second, 250 * time.Millisecond}

// waitForLeader waits until r leads and returns when it was first seen leading.
func waitForLeader(r *managerReplica) time.Time {
	Eventually(func() bool {
		if err := r.ExitError(); err != nil && !r.killed {
			StopTrying("manager " + r.name + " exited").Wrap(err).Now()
		}
		return r.isLeader()
	}, leaderWait...).WithOffset(1).Should(BeTrue(), "manager %s never became the leader", r.name)
	return time.Now()
}

// rolloutMoment says where the set's rollout is, for the log of the kills: the step,
// each picked Prod's phase, whether gates run and whether a DNS change is in flight.
func rolloutMoment(ctx context.Context, key client.ObjectKey) (moment string, kinds []string) {
	set := &droverv1.ProdSet{}
	if err := cp.Get(ctx, key, set); err != nil {
		return "unknown (" + err.Error() + ")", nil
	}
	ro := set.Status.Rollout
	if ro == nil {
		return "no rollout", nil
	}
	var parts []string
	for _, p := range ro.Prods {
		if p.Phase != "Done" {
			parts = append(parts, fmt.Sprintf("%s %s", p.Name, p.Phase))
			switch p.Phase {
			case "Draining":
				kinds = append(kinds, "drain")
			case "Updating":
				kinds = append(kinds, "update")
			}
		}
	}
	if ro.GatesStartedTime != nil && ro.Phase == droverv1.RolloutProgressing {
		parts = append(parts, "gates running since "+ro.GatesStartedTime.Format(time.TimeOnly))
		kinds = append(kinds, "gate")
	}
	if t := set.Status.Traffic; t != nil && t.ChangeID != "" {
		parts = append(parts, "DNS change "+t.ChangeID+" in flight")
		kinds = append(kinds, "publish")
	}
	for _, p := range set.Status.Prods {
		if p.PendingWeight != nil {
			parts = append(parts, fmt.Sprintf("%s pending weight %d", p.Name, *p.PendingWeight))
		}
	}
	if ro.Phase != droverv1.RolloutProgressing {
		kinds = append(kinds, strings.ToLower(string(ro.Phase)))
	}
	return fmt.Sprintf("%s step %d (%s) [%s]", ro.Phase, ro.Step, ro.StepName, strings.Join(parts, "; ")), slices.Compact(kinds)
}

// expectOneNLBPerProd checks that moto has exactly one NLB of drover's for each Prod,
// and the set has no NLB of a Prod that is not there; it returns them by Prod name.
func expectOneNLBPerProd(ctx context.Context, g Gomega, key client.ObjectKey, prods []droverv1.Prod) map[string]string {
	nlbs, err := readOwnNLBs(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	byProd := map[string][]string{}
	for _, n := range nlbs {
		if strings.HasPrefix(n.Prod, key.Namespace+"/"+key.Name+"-") {
			byProd[strings.TrimPrefix(n.Prod, key.Namespace+"/")] = append(byProd[strings.TrimPrefix(n.Prod, key.Namespace+"/")], n.ARN)
		}
	}
	out := map[string]string{}
	for i := range prods {
		p := &prods[i]
		g.Expect(byProd[p.Name]).To(HaveLen(1), "NLBs of Prod %s", p.Name)
		g.Expect(p.Status.Endpoint).NotTo(BeNil())
		g.Expect(byProd[p.Name][0]).To(Equal(p.Status.Endpoint.NLBARN), "Prod %s's NLB in moto and in status.endpoint", p.Name)
		out[p.Name] = byProd[p.Name][0]
		delete(byProd, p.Name)
	}
	g.Expect(byProd).To(BeEmpty(), "NLBs of Prods the set does not have")
	return out
}

// expectRecordsOfProdsOnly checks that moto has, under the set's service name and the
// Prods' own names, exactly three records per Prod (its service-level record and its
// two paths) and none of another Prod.
func expectRecordsOfProdsOnly(ctx context.Context, g Gomega, key client.ObjectKey, prods []droverv1.Prod) {
	recs, err := readOwnRecords(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	count := map[string]int{}
	prefix := key.Namespace + "/" + key.Name + "-"
	for _, r := range recs {
		id, ok := strings.CutPrefix(r.SetID, ownerPrefix)
		if !ok || !strings.HasPrefix(id, prefix) {
			continue
		}
		prod, _, _ := strings.Cut(strings.TrimPrefix(id, key.Namespace+"/"), "/")
		count[prod]++
	}
	for i := range prods {
		g.Expect(count[prods[i].Name]).To(Equal(3), "records of Prod %s (service-level, Octavia path, NLB path)", prods[i].Name)
		delete(count, prods[i].Name)
	}
	g.Expect(count).To(BeEmpty(), "records of Prods the set does not have")
}

// ownerPrefix starts the SetIdentifier of every record of the suite's manager.
const ownerPrefix = route53.DefaultOwner + "/"

// readOwnRecords reads the weighted records of the suite's zone from moto.
func readOwnRecords(ctx context.Context) ([]cloudbed.Record, error) {
	return cloudbed.ReadRecords(ctx, clouds.AWS.Route53, zoneID)
}

// readOwnNLBs reads the NLBs of the suite's manager from moto.
func readOwnNLBs(ctx context.Context) ([]cloudbed.NLB, error) {
	return cloudbed.ReadNLBs(ctx, clouds.AWS.ELBv2, route53.DefaultOwner)
}
