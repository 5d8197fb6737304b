package rollout

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// FuzzValidateAndPlan decodes a RolloutPolicy spec from fuzzed YAML or JSON (bytes that
// are neither choose the parts of a policy instead, see generatePolicy) and checks that
// Validate never panics, is deterministic, leaves the spec alone, names the step of
// every problem and refuses every selector the engine could not convert (the engine
// would otherwise fall back to selecting every Prod). A policy it accepts is then run by
// Next over a small simulated ProdSet (the world of rollout_test.go), through a stretch
// of fuzzed gate verdicts, commands and new revisions, then a calm stretch in which
// gates pass and the rollout is resumed and, every few rounds, promoted. Every round: a
// target for each Prod and no other, weights 0–255, a step picks only Prods its selector
// matches, never more than its count nor more in flight than its maxParallel, the set
// never has fewer Prods serving than its serving minimum, and only Prods out of traffic
// are retired (the world panics otherwise). The calm stretch must end the rollout
// (Succeeded or RolledBack) whenever the serving minimum leaves room to move.
//
// Found while triaging its failures: a Replace step of weight 0 took each original out
// of traffic as soon as its replacement was available, though the replacement got no
// traffic either, so the whole set could go dark below its serving minimum (seed
// replace-dark-step-keeps-serving).
//
//	go test -run='^$' -fuzz='^FuzzValidateAndPlan$' -fuzztime=60s -fuzzminimizetime=100x -parallel=1 ./internal/rollout/
func FuzzValidateAndPlan(f *testing.F) {
	for _, seed := range []struct {
		policy, defaultProm string
		prods, minServing   uint8
		script              uint64
	}{
		{policy: sampleCanary, prods: 5, minServing: 3, script: 1},
		{policy: sampleCanary, defaultProm: "http://prometheus:9090", prods: 3, minServing: 1, script: 0xdeadbeef},
		{policy: `{"strategy":"Replace","rollbackWindow":"10s","steps":[{"name":"test","selector":{"matchLabels":{"name":"p3"}},"weight":10,` +
			`"gates":[{"httpCheck":{"url":"http://{{ .Host }}/"}}]},{"name":"rest","maxParallel":2}]}`, prods: 4, minServing: 4, script: 7},
		{policy: `{"failurePolicy":"Pause","steps":[{"name":"dark","count":"50%","weight":0,"gates":[{"pause":{"untilApproved":true}}]},` +
			`{"name":"rest","maxParallel":"100%","gates":[{"approval":{"message":"ok?"}}]}]}`, prods: 6, minServing: 2, script: 99},
		{policy: `{"steps":[{"name":"by-region","order":"LabelValue","orderLabel":"region","orderValues":["eu","us"],"count":2,` +
			`"selector":{"matchExpressions":[{"key":"region","operator":"In","values":["eu","us"]}]}},` +
			`{"name":"most","order":"MostTrafficFirst","gates":[{"pause":{"duration":"30s"}}]}]}`, prods: 7, minServing: 5, script: 12345},
		{policy: `{"steps":[{"name":"a","gates":[{"prometheus":{"query":"up{prod=\"{{ .Prod }\"}","comparison":"<","threshold":"1e3x"}}]},` +
			`{"name":"b","selector":{"matchExpressions":[{"key":"a","operator":"In"}]}},{"name":"c","gates":[{"httpCheck":{"url":"http://{{ .Host"}}]}]}`,
			prods: 2, script: 3},
		{policy: `{"steps":[{"name":"x","selector":{"matchLabels":{"bad key!":"v"}}},{"name":"x","count":"abc"}]}`, prods: 1},
		{policy: "steps:\n- name: one\n  count: 0\n  maxParallel: -1\n  weight: 300\n", prods: 3, script: 5},
		{policy: `{"steps":[]}`, prods: 2},
		{policy: `{"failurePolicy":"Pause","steps":[{"name":"bake","count":1,"minHealthyTime":"30s","progressDeadline":"2m",` +
			`"gates":[{"pause":{"duration":"10s"}}]},{"name":"rest","maxParallel":2,"progressDeadline":"10s","maxFailures":1}]}`, prods: 5, minServing: 3, script: 31},
		{policy: `{"steps":[{"name":"canary","count":1,"gates":[{"baseline":{"metrics":[{"name":"errors","query":"sum(rate(errors{prod=\"{{ .Prod }}\"}[1m]))",` +
			`"maxRatio":"1.2"},{"name":"success","query":"ok{prod=\"{{ .Prod }}\"}","worseWhen":"Lower","maxDifference":"0.01"}],` +
			`"window":"2m","interval":"10s","onInconclusive":"Pause"}}]},{"name":"rest"}]}`, defaultProm: "http://prometheus:9090", prods: 4, minServing: 2, script: 77},
		{policy: `{"steps":[{"name":"canary","gates":[{"baseline":{"confidence":"1.5","window":"10s","interval":"1m",` +
			`"metrics":[{"name":"e","query":"{{ .Nope","worseWhen":"Up","maxRatio":"0.5"},{"name":"e","query":"x","maxDifference":"-1"}]}}]}]}`, prods: 2, script: 9},
		// Not a document: generatePolicy's choices (Replace, Pause on failure, a window, 3
		// steps with selectors, orders, counts, weights and gates).
		{policy: "\x02\x02\x01\x03\x02\x03\x01\x04\x03\x01\x02\x03\x04\x05\x06\x07\x00\x01\x02\x03\x01\x04\x02\x01\x00", prods: 6, minServing: 3, script: 42},
		{policy: "\x01\x00\x00\x00\x01\x00\x07\x07\x01\x02\x02\x00", prods: 5, minServing: 4, script: 8},
	} {
		f.Add([]byte(seed.policy), seed.defaultProm, seed.prods, seed.minServing, seed.script)
	}
	f.Fuzz(func(t *testing.T, policy []byte, defaultProm string, nProds, minServing uint8, script uint64) {
		var spec droverv1.RolloutPolicySpec
		if err := yaml.Unmarshal(policy, &spec); err != nil {
			// Not a policy document: the bytes choose a policy's parts instead, so that
			// most mutations still reach the engine.
			spec = generatePolicy(policy)
		}
		err := checkValidate(t, spec, defaultProm)
		if err != nil {
			return // Accepted=False: the engine never sees the policy
		}
		n := 1 + int(nProds)%8
		if !admissible(spec) {
			// Refused by the CRD: the engine never sees it either; still, it must not panic.
			w := fuzzWorld(spec, n, 0)
			out := Next(w.input(NoCommand, nil))
			checkTargets(t, w, out)
			return
		}
		runRollout(t, spec, n, int(minServing)%(n+1), script)
	})
}

const sampleCanary = `
strategy: InPlace
failurePolicy: Rollback
steps:
- name: canary
  order: LeastTrafficFirst
  count: 1
  weight: 10
  gates:
  - httpCheck:
      url: "http://{{ .Host }}/healthz"
  - prometheus:
      address: http://prometheus.monitoring:9090
      query: sum(rate(http_requests_total{prod="{{ .Prod }}",code=~"5.."}[5m]))
      comparison: "<"
      threshold: "0.01"
- name: rest
  order: Name
  maxParallel: 50%
  gates:
  - prometheus:
      query: up
      comparison: ">"
      threshold: "0"
`

// checkValidate runs Validate and checks the properties that hold for any spec.
func checkValidate(t *testing.T, spec droverv1.RolloutPolicySpec, defaultProm string) error {
	t.Helper()
	before := spec.DeepCopy()
	err := Validate(spec, defaultProm)
	if !reflect.DeepEqual(before, &spec) {
		t.Fatalf("Validate changed the spec")
	}
	if again := Validate(spec, defaultProm); fmt.Sprint(err) != fmt.Sprint(again) {
		t.Fatalf("Validate is not deterministic: %v, then %v", err, again)
	}
	var problems []error
	if joined, ok := err.(interface{ Unwrap() []error }); ok { // Validate joins its problems: read them one by one
		problems = joined.Unwrap()
	} else if err != nil {
		problems = []error{err}
	}
	for _, p := range problems {
		if !strings.HasPrefix(p.Error(), "spec.steps[") {
			t.Errorf("problem %q does not say which step", p)
		}
	}
	msg := fmt.Sprint(err)
	for i, step := range spec.Steps {
		if step.Selector == nil {
			continue
		}
		_, convErr := metav1.LabelSelectorAsSelector(step.Selector.AsMetav1())
		reported := strings.Contains(msg, fmt.Sprintf("spec.steps[%d] (%s).selector:", i, step.Name))
		if (convErr != nil) != reported {
			t.Errorf("step %d: the selector converts with error %v, but Validate reported it: %v (%v)", i, convErr, reported, err)
		}
	}
	return err
}

// admissible mirrors the CRD's schema and CEL rules that the engine relies on (the
// enums, the bounds of weights, counts and parallelism, unique step names, one kind per
// gate): Next is only ever given policies the API server stored.
func admissible(spec droverv1.RolloutPolicySpec) bool {
	if len(spec.Steps) < 1 || len(spec.Steps) > 32 {
		return false
	}
	switch spec.Strategy {
	case "", droverv1.InPlaceStrategy, droverv1.ReplaceStrategy:
	default:
		return false
	}
	switch spec.FailurePolicy {
	case "", droverv1.RollbackFailurePolicy, droverv1.PauseFailurePolicy:
	default:
		return false
	}
	if spec.RollbackWindow != nil && spec.Strategy != droverv1.ReplaceStrategy {
		return false
	}
	names := map[string]bool{}
	for _, s := range spec.Steps {
		if s.Name == "" || names[s.Name] {
			return false
		}
		names[s.Name] = true
		if s.Weight != nil && (*s.Weight < 0 || *s.Weight > 255) {
			return false
		}
		if !admissibleScale(s.Count) || !admissibleScale(s.MaxParallel) {
			return false
		}
		switch s.Order {
		case "", droverv1.LeastTrafficFirstOrder, droverv1.MostTrafficFirstOrder, droverv1.NameOrder, droverv1.LabelValueOrder:
		default:
			return false
		}
		for _, g := range s.Gates {
			kinds := 0
			for _, set := range []bool{g.Pause != nil, g.Approval != nil, g.HTTPCheck != nil, g.Prometheus != nil} {
				if set {
					kinds++
				}
			}
			if kinds != 1 {
				return false
			}
			if g.Pause != nil && (g.Pause.Duration != nil) == (g.Pause.UntilApproved != nil && *g.Pause.UntilApproved) {
				return false
			}
		}
	}
	return true
}

var percentPattern = regexp.MustCompile(`^([1-9][0-9]?|100)%$`)

func admissibleScale(v *intstr.IntOrString) bool {
	if v == nil {
		return true
	}
	if v.Type == intstr.Int {
		return v.IntVal >= 1
	}
	return percentPattern.MatchString(v.StrVal)
}

// fuzzWorld is n Prods on r1, labelled with a name, a region and a tier, with different
// traffic so that the traffic orders mean something.
func fuzzWorld(spec droverv1.RolloutPolicySpec, n, minServing int) *world {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("p%d", i+1)
	}
	w := newWorld(spec, names...)
	for i, name := range names {
		p := w.prods[name]
		p.Labels = map[string]string{"name": name, "region": []string{"eu", "us", "ap"}[i%3], "tier": []string{"a", "b"}[i%2]}
		p.Traffic = int32(100 - 10*(i%4))
	}
	w.in.MinServing = minServing
	return w
}

// input is what round gives Next, for a single call outside a round.
func (w *world) input(cmd Command, gates []GateResult) Input {
	in := w.in
	in.Now, in.State, in.Command, in.Gates = w.now, w.state, cmd, gates
	for _, n := range slices.Sorted(maps.Keys(w.prods)) {
		in.Prods = append(in.Prods, *w.prods[n])
	}
	return in
}

// checkTargets: one target per Prod of the round, and none for anything else.
func checkTargets(t *testing.T, w *world, out Output) {
	t.Helper()
	for n := range w.prods {
		if _, ok := out.Targets[n]; !ok {
			t.Fatalf("no target for Prod %s", n)
		}
	}
	if len(out.Targets) != len(w.prods) {
		t.Fatalf("targets for %v, Prods are %v", slices.Sorted(maps.Keys(out.Targets)), slices.Sorted(maps.Keys(w.prods)))
	}
}

// splitmix is a small deterministic generator of the script's choices.
type splitmix uint64

func (s *splitmix) next(n uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return (z ^ (z >> 31)) % n
}

// runRollout runs the policy over n Prods: a chaotic stretch of fuzzed gate verdicts,
// commands and new revisions, then a calm one, checking every round.
func runRollout(t *testing.T, spec droverv1.RolloutPolicySpec, n, minServing int, script uint64) {
	t.Helper()
	w := fuzzWorld(spec, n, minServing)
	rng := splitmix(script)
	darkStep := slices.ContainsFunc(spec.Steps, func(s droverv1.RolloutStep) bool { return s.Weight != nil && *s.Weight == 0 })
	revision := 2
	round := func(i int, cmd Command, gates []GateResult) Output {
		t.Helper()
		before := w.state
		prodsBefore := maps.Clone(w.prods)
		servingBefore := w.serving()
		in := w.input(cmd, gates)
		out := w.round(cmd, gates...)
		// The ProdSet controller drops the replaces label of a Prod whose original is
		// gone (prodset_controller.go): from then on it is a Prod like the others.
		for _, p := range w.prods {
			if p.Replaces != "" && w.prods[p.Replaces] == nil {
				p.Replaces = ""
			}
		}
		if len(out.Targets) != len(in.Prods) {
			t.Fatalf("round %d: %d targets for %d Prods", i, len(out.Targets), len(in.Prods))
		}
		for _, p := range in.Prods {
			tg, ok := out.Targets[p.Name]
			if !ok {
				t.Fatalf("round %d: no target for %s", i, p.Name)
			}
			if tg.Weight < 0 || tg.Weight > 255 {
				t.Fatalf("round %d: %s gets weight %d", i, p.Name, tg.Weight)
			}
		}
		checkSteps(t, i, spec, in, before, out.State, prodsBefore)
		// Nothing takes the set below its serving minimum, or below where it already was.
		if got := w.serving(); got < min(minServing, servingBefore) {
			t.Fatalf("round %d: %d serving, below the minimum %d (was %d); state %+v", i, got, minServing, servingBefore, out.State)
		}
		return out
	}
	gatesFor := func(pass bool) []GateResult {
		st := w.state
		if st.Step >= len(spec.Steps) {
			return nil
		}
		gates := make([]GateResult, len(spec.Steps[st.Step].Gates))
		for j := range gates {
			switch {
			case pass:
				gates[j] = GateResult{Status: GatePassed, Message: "ok"}
			default:
				gates[j] = GateResult{Status: []GateStatus{GatePassed, GatePassed, GatePassed, GatePending, GateFailed}[rng.next(5)], Message: "fuzzed"}
				if gates[j].Status == GateFailed && rng.next(2) == 0 {
					// A baseline gate that could not judge, pausing under onInconclusive Pause.
					gates[j].Inconclusive, gates[j].Pause = true, rng.next(2) == 0
				}
			}
		}
		return gates
	}

	chaos := int(rng.next(30))
	for i := range chaos {
		cmd := NoCommand
		if c := rng.next(20); c < 6 {
			cmd = []Command{Pause, Resume, Promote, Abort, Rollback, Promote}[c]
		}
		switch rng.next(12) {
		case 0: // a freeze of the set comes, or goes
			if w.in.Frozen == "" {
				w.in.Frozen = "frozen by Freeze fuzz/f (fuzzed) until it is deleted"
			} else {
				w.in.Frozen = ""
			}
		case 1: // a freeze of one Prod's cluster comes, or goes
			for _, name := range slices.Sorted(maps.Keys(w.prods)) {
				if p := w.prods[name]; rng.next(3) == 0 {
					if p.Frozen == "" {
						p.Frozen = "frozen by ClusterFreeze fuzz (fuzzed) until it is deleted"
					} else {
						p.Frozen = ""
					}
					break
				}
			}
		}
		if rng.next(25) == 0 {
			// A new revision supersedes the rollout.
			w.in.Previous, w.in.Revision = w.in.Revision, fmt.Sprintf("r%d", revision+1)
			revision++
		}
		round(i, cmd, gatesFor(false))
		w.now = w.now.Add(time.Duration(rng.next(120)) * time.Second)
	}
	// Calm: every gate passes, the rollout is promoted and resumed; it must end unless
	// the serving minimum holds Prods in place: InPlace with a minimum of every Prod, or
	// with a step of weight 0, whose Prods stay out of traffic until it passes (so one
	// that picks them all waits forever, rightly).
	stuck := !replacing(w.in) && (minServing >= n || darkStep)
	w.in.Frozen = "" // the freezes end
	for _, p := range w.prods {
		p.Frozen = ""
	}
	for i := chaos; i < chaos+200; i++ {
		if w.state.Phase == Succeeded || w.state.Phase == RolledBack {
			return
		}
		cmd := NoCommand
		switch {
		case w.state.Phase == Paused:
			cmd = Resume
		case i%4 == 3: // approvals come, but not at once
			cmd = Promote
		}
		out := round(i, cmd, gatesFor(true))
		w.now = w.now.Add(time.Second + out.RequeueAfter)
	}
	if !stuck {
		t.Fatalf("the rollout did not end in 200 calm rounds: phase %s, step %d, waiting %q", w.state.Phase, w.state.Step, w.rounds[len(w.rounds)-1].Waiting)
	}
}

// checkSteps checks the Prods a round picked: a step picks only Prods its selector
// matches, no more than its count of the set's Prods (a percentage rounds up) and no more
// in flight than its maxParallel; once every step passed, the rest go one at a time.
func checkSteps(t *testing.T, i int, spec droverv1.RolloutPolicySpec, in Input, before, after State, prods map[string]*Prod) {
	t.Helper()
	if after.Revision != before.Revision {
		before = State{} // a new rollout: every pick is new
	}
	if after.Phase == RollingBack || after.Phase == RolledBack {
		return // a rollback picks nothing
	}
	count := func(st State, k int, inflightOnly bool) int {
		c := 0
		for _, ps := range st.Prods {
			if ps.Step == k && (!inflightOnly || ps.Phase != Done && !ps.Failed) {
				c++
			}
		}
		return c
	}
	for name, ps := range after.Prods {
		if _, was := before.Prods[name]; was {
			continue
		}
		if ps.Step == len(spec.Steps) {
			continue
		}
		if ps.Step < 0 || ps.Step > len(spec.Steps) {
			t.Fatalf("round %d: %s picked in step %d of %d", i, name, ps.Step, len(spec.Steps))
		}
		step := spec.Steps[ps.Step]
		if step.Selector != nil {
			sel, err := metav1.LabelSelectorAsSelector(step.Selector.AsMetav1())
			if err != nil {
				t.Fatalf("round %d: step %s has a selector Validate should have refused: %v", i, step.Name, err)
			}
			if p := prods[name]; p == nil || !sel.Matches(labels.Set(p.Labels)) {
				t.Fatalf("round %d: step %s picked %s, which its selector %s does not match", i, step.Name, name, sel)
			}
		}
	}
	for k, step := range spec.Steps {
		grew := count(after, k, false) > count(before, k, false)
		if !grew {
			continue
		}
		quota := len(in.Prods)
		if step.Count != nil {
			quota = min(quota, scaledBound(step.Count, len(in.Prods)))
		}
		if got := count(after, k, false); got > quota {
			t.Fatalf("round %d: step %s has %d Prods, more than its count %v of %d allows (%d)", i, step.Name, got, step.Count, len(in.Prods), quota)
		}
		limit := 1
		if step.MaxParallel != nil {
			limit = max(1, scaledBound(step.MaxParallel, quota))
		}
		if got := count(after, k, true); got > limit {
			t.Fatalf("round %d: step %s has %d Prods in flight, more than its maxParallel %v (%d)", i, step.Name, got, step.MaxParallel, limit)
		}
	}
	if k := len(spec.Steps); count(after, k, true) > 1 && count(after, k, false) > count(before, k, false) {
		t.Fatalf("round %d: %d Prods in flight after the last step; the rest go one at a time", i, count(after, k, true))
	}
}

// scaledBound is an int, or a percentage of total rounded up (at least 1).
func scaledBound(v *intstr.IntOrString, total int) int {
	if v.Type == intstr.Int {
		return int(v.IntVal)
	}
	var pct int
	if _, err := fmt.Sscanf(v.StrVal, "%d%%", &pct); err != nil {
		panic(errors.New("admissible let through " + v.StrVal))
	}
	return max(1, (pct*total+99)/100)
}

// generatePolicy builds a policy from bytes that are not a policy document: each byte
// chooses one part (strategy, steps, their selectors, order, count, maxParallel, weight,
// gates) among the shapes the engine treats differently; missing bytes choose the first.
func generatePolicy(data []byte) droverv1.RolloutPolicySpec {
	pick := func(n int) int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b) % n
	}
	scale := func() *intstr.IntOrString {
		return []*intstr.IntOrString{nil, ptr.To(intstr.FromInt32(1)), ptr.To(intstr.FromInt32(2)), ptr.To(intstr.FromInt32(5)),
			ptr.To(intstr.FromString("1%")), ptr.To(intstr.FromString("34%")), ptr.To(intstr.FromString("50%")), ptr.To(intstr.FromString("100%"))}[pick(8)]
	}
	selectors := []*droverv1.LabelSelector{
		nil,
		{MatchLabels: map[string]droverv1.LabelValue{"region": "eu"}},
		{MatchLabels: map[string]droverv1.LabelValue{"name": "p3"}},
		{MatchExpressions: []droverv1.LabelSelectorRequirement{{Key: "region", Operator: metav1.LabelSelectorOpIn, Values: []droverv1.LabelValue{"eu", "us"}}}},
		{MatchExpressions: []droverv1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []droverv1.LabelValue{"a"}}}},
		{MatchExpressions: []droverv1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists}}},
		{MatchExpressions: []droverv1.LabelSelectorRequirement{{Key: "region", Operator: metav1.LabelSelectorOpDoesNotExist}}},
		{MatchLabels: map[string]droverv1.LabelValue{"region": "nowhere"}},
	}
	gates := []droverv1.Gate{
		{Pause: &droverv1.PauseGate{Duration: &metav1.Duration{Duration: 30 * time.Second}}},
		{Pause: &droverv1.PauseGate{UntilApproved: ptr.To(true)}},
		{Approval: &droverv1.ApprovalGate{Message: "go?"}},
		{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://{{ .Host }}/healthz"}},
		{Prometheus: &droverv1.PrometheusGate{Address: "http://prometheus:9090", Query: `up{prod="{{ .Prod }}"}`, Comparison: ">", Threshold: "0"}},
	}
	spec := droverv1.RolloutPolicySpec{
		Strategy:      []droverv1.RolloutStrategy{"", droverv1.InPlaceStrategy, droverv1.ReplaceStrategy}[pick(3)],
		FailurePolicy: []droverv1.FailurePolicy{"", droverv1.RollbackFailurePolicy, droverv1.PauseFailurePolicy}[pick(3)],
	}
	if spec.Strategy == droverv1.ReplaceStrategy && pick(2) == 1 {
		spec.RollbackWindow = &metav1.Duration{Duration: time.Duration(pick(4)) * 10 * time.Second}
	}
	for i := range 1 + pick(4) {
		step := droverv1.RolloutStep{
			Name:        fmt.Sprintf("s%d", i),
			Selector:    selectors[pick(len(selectors))],
			Order:       []droverv1.ProdOrder{"", droverv1.LeastTrafficFirstOrder, droverv1.MostTrafficFirstOrder, droverv1.NameOrder, droverv1.LabelValueOrder}[pick(5)],
			Count:       scale(),
			MaxParallel: scale(),
			Weight:      []*int32{nil, ptr.To[int32](0), ptr.To[int32](10), ptr.To[int32](255)}[pick(4)],
		}
		if step.Order == droverv1.LabelValueOrder {
			step.OrderLabel, step.OrderValues = "region", []string{"us", "eu"}
		}
		for range pick(3) {
			step.Gates = append(step.Gates, gates[pick(len(gates))])
		}
		spec.Steps = append(spec.Steps, step)
	}
	return spec
}
