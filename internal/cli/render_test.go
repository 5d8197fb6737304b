package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func cond(t string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg}
}

func TestMarkers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		conds []ConditionView
		want  string
	}{
		{"none", nil, "R- Ap- Av- T- M-"},
		{"all true", []ConditionView{
			{Type: "ClusterReachable", Status: "True"}, {Type: "Applied", Status: "True"}, {Type: "Available", Status: "True"},
			{Type: "TrafficReady", Status: "True"}, {Type: "MirrorSynced", Status: "True"},
		}, "R✓ Ap✓ Av✓ T✓ M✓"},
		{"unreachable", []ConditionView{
			{Type: "ClusterReachable", Status: "False"}, {Type: "Applied", Status: "False"}, {Type: "Available", Status: "Unknown"},
			{Type: "TrafficReady", Status: "False"},
		}, "R✗ Ap✗ Av? T✗ M-"},
		{"order does not matter", []ConditionView{{Type: "MirrorSynced", Status: "False"}, {Type: "ClusterReachable", Status: "True"}}, "R✓ Ap- Av- T- M✗"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := markers(tc.conds); got != tc.want {
				t.Errorf("markers = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWeightText(t *testing.T) {
	for _, tc := range []struct {
		p    ProdView
		want string
	}{
		{ProdView{}, "-/-"},
		{ProdView{Weight: ptr.To[int32](100)}, "100/-"},
		{ProdView{Weight: ptr.To[int32](100), PublishedWeight: ptr.To[int32](100)}, "100/100"},
		{ProdView{Weight: ptr.To[int32](0), PublishedWeight: ptr.To[int32](100), PendingWeight: ptr.To[int32](0)}, "0/100 (→0)"},
		{ProdView{Weight: ptr.To[int32](0), PendingWeight: ptr.To[int32](0)}, "0/- (→0)"},
		{ProdView{Weight: ptr.To[int32](5), PublishedWeight: ptr.To[int32](5), PendingWeight: ptr.To[int32](5)}, "5/5"},
	} {
		if got := weightText(tc.p); got != tc.want {
			t.Errorf("weightText(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

// rolloutSet is a ProdSet in the middle of a canary rollout, with one Prod mirrored to
// an NLB, one out of traffic on an unreachable cluster, one its status lists that is
// gone, and a command drover has not read yet.
func rolloutSet() (*droverv1.ProdSet, []droverv1.Prod, *droverv1.RolloutPolicy) {
	set := &droverv1.ProdSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop",
			Annotations: map[string]string{droverv1.RolloutCommandAnnotation: "promote@1"}},
		Spec: droverv1.ProdSetSpec{
			Replicas:         ptr.To[int32](3),
			Template:         droverv1.ProdTemplate{Spec: droverv1.ProdTemplateSpec{Version: "v2"}},
			RolloutPolicyRef: &droverv1.LocalObjectReference{Name: "shop-canary"},
		},
		Status: droverv1.ProdSetStatus{
			AvailableReplicas: 2, ServingReplicas: 1, MinServing: 2,
			CurrentRevision: "1a2b3c4d5e", PreviousRevision: "9f8e7d6c5b",
			ObservedRolloutCommand: "pause@0",
			Conditions: []metav1.Condition{
				cond("Available", metav1.ConditionFalse, "BelowServingMinimum", "1 serving, minimum 2"),
				cond("Frozen", metav1.ConditionFalse, "NotFrozen", ""),
				cond("RolledOut", metav1.ConditionFalse, "Progressing", "step 1 (canary): ..."),
			},
			Rollout: &droverv1.RolloutStatus{
				Revision: "1a2b3c4d5e", PreviousRevision: "9f8e7d6c5b", Policy: "shop-canary",
				Phase: droverv1.RolloutProgressing, Step: 0, StepName: "canary",
				Message: "step canary: gate 2 (approval): waiting for approval (promote):\n look at the dashboards",
				Prods:   []droverv1.RolloutProdStatus{{Name: "shop-eu-1", Step: 0, Phase: "Done"}},
				Gates: []droverv1.GateOutcome{
					{Step: 0, StepName: "canary", Gate: 0, Type: "httpCheck", Passed: true, Message: "5/5 tries succeeded"},
				},
			},
			Prods: []droverv1.ProdSummary{
				{Name: "shop-eu-1", Cluster: "eu-1", Version: "v2", Revision: "1a2b3c4d5e", Weight: ptr.To[int32](10), PublishedWeight: ptr.To[int32](10)},
				{Name: "shop-gone", Cluster: "us-9", Version: "v1", Revision: "9f8e7d6c5b", Weight: ptr.To[int32](0), PublishedWeight: ptr.To[int32](100), PendingWeight: ptr.To[int32](0), Evicted: "Deleting"},
				{Name: "shop-us-1", Cluster: "us-1", Version: "v1", Revision: "9f8e7d6c5b", Weight: ptr.To[int32](0), PublishedWeight: ptr.To[int32](0), Evicted: "ClusterUnreachable"},
			},
		},
	}
	synced := metav1.NewTime(now.Add(-30 * time.Second))
	prods := []droverv1.Prod{
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop-us-1", Labels: map[string]string{droverv1.ProdSetNameLabel: "shop"}},
			Spec:       droverv1.ProdSpec{ClusterRef: droverv1.ClusterReference{Name: "us-1"}, ProdTemplateSpec: droverv1.ProdTemplateSpec{Version: "v1"}},
			Status: droverv1.ProdStatus{Conditions: []metav1.Condition{
				cond("ClusterReachable", metav1.ConditionFalse, "HealthProbeFailing", "cluster us-1: probe failed"),
				cond("Applied", metav1.ConditionFalse, "ClusterUnreachable", ""),
				cond("Available", metav1.ConditionUnknown, "StatusUnknown", ""),
				cond("TrafficReady", metav1.ConditionFalse, "Draining", "out of traffic"),
			}},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop-eu-1", Labels: map[string]string{droverv1.ProdSetNameLabel: "shop"}},
			Spec: droverv1.ProdSpec{ClusterRef: droverv1.ClusterReference{Name: "eu-1"}, ProdTemplateSpec: droverv1.ProdTemplateSpec{
				Version: "v2", Traffic: droverv1.ProdTraffic{Mirror: &droverv1.NLBMirror{}},
			}},
			Status: droverv1.ProdStatus{
				Conditions: []metav1.Condition{
					cond("ClusterReachable", metav1.ConditionTrue, "Reachable", ""),
					cond("Applied", metav1.ConditionTrue, "Applied", ""),
					cond("Available", metav1.ConditionTrue, "Available", ""),
					cond("TrafficReady", metav1.ConditionTrue, "Published", ""),
					cond("MirrorSynced", metav1.ConditionTrue, "InSync", ""),
				},
				Endpoint: &droverv1.ProdEndpoint{LoadBalancerID: "lb-1", VIP: "10.0.0.7", OctaviaStatus: "ONLINE",
					NLBDNSName: "shop-eu-1-abc.elb.eu-west-1.amazonaws.com"},
				Mirror: &droverv1.MirrorStatus{Outcome: "InSync", LastSyncTime: &synced, TargetGroups: []droverv1.MirrorTargetGroup{
					{Pool: "http", Targets: 3, HealthyTargets: 3}, {Pool: "https", Targets: 3, HealthyTargets: 2},
				}},
			},
		},
	}
	policy := &droverv1.RolloutPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop-canary"},
		Spec: droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{
			{Name: "canary", Gates: []droverv1.Gate{
				{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://x"}},
				{Approval: &droverv1.ApprovalGate{Message: "look at the dashboards"}},
			}},
			{Name: "rest"},
		}},
	}
	return set, prods, policy
}

func TestRenderSet(t *testing.T) {
	set, prods, policy := rolloutSet()
	var b bytes.Buffer
	renderStatus(&b, StatusView{ProdSets: []SetView{buildSetView(set, prods, policy)}}, now)
	want := `ProdSet default/shop  version v2  revision 1a2b3c4d5e (previous 9f8e7d6c5b)
│ replicas 3: 2 available, 1 serving (minimum 2)
│ rollout Progressing  step 1/2 canary  policy shop-canary
│   waits for: step canary: gate 2 (approval): waiting for approval (promote): look at the dashboards
│   gate 1 httpCheck: ✓ passed (5/5 tries succeeded)
│   gate 2 approval: waiting
│ command promote@1 sent, not read by drover yet
│ ! Available False BelowServingMinimum: 1 serving, minimum 2
├─ shop-eu-1  eu-1  v2 (1a2b3c4d5e)  10/10       R✓ Ap✓ Av✓ T✓ M✓  rollout Done
│    endpoint: octavia 10.0.0.7 (ONLINE), nlb shop-eu-1-abc.elb.eu-west-1.amazonaws.com
│    mirror InSync: 2 target groups, 5/6 targets healthy, synced 30s ago
├─ shop-gone  us-9  v1 (9f8e7d6c5b)  0/100 (→0)  (Prod not found)  out of traffic: Deleting
└─ shop-us-1  us-1  v1 (9f8e7d6c5b)  0/0         R✗ Ap✗ Av? T✗ M-  out of traffic: ClusterUnreachable
     ✗ ClusterReachable False HealthProbeFailing: cluster us-1: probe failed
     ✗ Applied False ClusterUnreachable
     ? Available Unknown StatusUnknown
     ✗ TrafficReady False Draining: out of traffic

` + legend + "\n"
	if got := b.String(); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
}

// A step's template gate shows by the template's name.
func TestRenderTemplateGate(t *testing.T) {
	set, prods, policy := rolloutSet()
	policy.Spec.Steps[0].Gates = []droverv1.Gate{
		{Template: &droverv1.TemplateGate{Name: "error-ratio", Cluster: true}},
		{Template: &droverv1.TemplateGate{Name: "own-check"}},
	}
	set.Status.Rollout.Gates = nil
	var b bytes.Buffer
	renderStatus(&b, StatusView{ProdSets: []SetView{buildSetView(set, prods, policy)}}, now)
	for _, want := range []string{"│   gate 1 template error-ratio (cluster): waiting\n", "│   gate 2 template own-check: waiting\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("tree lacks %q:\n%s", want, b.String())
		}
	}
}

// A baseline gate's judgement shows under its gate: the Prods compared, then each metric.
func TestRenderBaselineJudgement(t *testing.T) {
	set, prods, policy := rolloutSet()
	policy.Spec.Steps[0].Gates = []droverv1.Gate{{Baseline: &droverv1.BaselineGate{Metrics: []droverv1.BaselineMetric{{Name: "errors", Query: "x"}}}}}
	set.Status.Rollout.Gates = []droverv1.GateOutcome{{Step: 0, Gate: 0, Type: "baseline", Inconclusive: true, Message: "Inconclusive after 5m0s",
		Baseline: &droverv1.BaselineJudgement{Canary: []string{"shop-eu-1"}, Baseline: []string{"shop-us-1"}, Attempts: 3, Metrics: []droverv1.MetricJudgement{
			{Name: "errors", Verdict: "Inconclusive", BaselineMean: "0.0101", BaselineSamples: 20, Unusable: 20},
			{Name: "p99", Verdict: "Pass", CanaryMean: "0.21", BaselineMean: "0.2", CanarySamples: 20, BaselineSamples: 20, PValue: "0.31"},
		}}}}
	var b bytes.Buffer
	renderStatus(&b, StatusView{ProdSets: []SetView{buildSetView(set, prods, policy)}}, now)
	want := `│   gate 1 baseline: ? inconclusive
│     canary shop-eu-1 vs baseline shop-us-1 (3 attempts)
│     errors Inconclusive: canary mean – (0 samples) vs baseline 0.0101 (20), 20 NaN or infinite left out
│     p99 Pass: canary mean 0.21 (20 samples) vs baseline 0.2 (20), p=0.31
`
	if got := b.String(); !strings.Contains(got, want) {
		t.Errorf("tree:\n%s\nwant it to hold:\n%s", got, want)
	}
	view := buildSetView(set, prods, policy)
	if g := view.Rollout.Gates[0]; g.Verdict != "inconclusive" || g.Baseline == nil || len(g.Baseline.Metrics) != 2 {
		t.Errorf("-o json view of the gate: %+v", g)
	}
}

func TestRenderSetWithoutPolicyOrProds(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  droverv1.ProdSet
		want string
	}{
		{
			name: "new set, policy not found",
			set: droverv1.ProdSet{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cart"},
				Spec: droverv1.ProdSetSpec{Replicas: ptr.To[int32](2), Template: droverv1.ProdTemplate{Spec: droverv1.ProdTemplateSpec{Version: "v1"}},
					RolloutPolicyRef: &droverv1.LocalObjectReference{Name: "gone"}},
				Status: droverv1.ProdSetStatus{Conditions: []metav1.Condition{
					cond("RolledOut", metav1.ConditionFalse, "PolicyNotFound", "RolloutPolicy gone not found"),
					cond("Frozen", metav1.ConditionTrue, "TooManyClustersUnreachable", "2 of 3 clusters unreachable"),
				}},
			},
			want: `ProdSet ns/cart  version v1
  replicas 2: 0 available, 0 serving (minimum 0)
  policy gone, no rollout yet
  ! Frozen True TooManyClustersUnreachable: 2 of 3 clusters unreachable
  ! RolledOut False PolicyNotFound: RolloutPolicy gone not found
`,
		},
		{
			name: "rolled back, policy unknown: verdicts from the status",
			set: droverv1.ProdSet{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cart"},
				Spec:       droverv1.ProdSetSpec{Template: droverv1.ProdTemplate{Spec: droverv1.ProdTemplateSpec{Version: "v3"}}},
				Status: droverv1.ProdSetStatus{CurrentRevision: "cccccccccc", Rollout: &droverv1.RolloutStatus{
					Revision: "cccccccccc", PreviousRevision: "bbbbbbbbbb", Phase: droverv1.RolloutRolledBack, Step: 1, StepName: "us",
					Message: "gate failed: below 100% success",
					Gates:   []droverv1.GateOutcome{{Step: 1, Gate: 0, Type: "httpCheck", Passed: false, Message: "below 100% success"}},
				}},
			},
			want: `ProdSet ns/cart  version v3  revision cccccccccc
  replicas 0: 0 available, 0 serving (minimum 0)
  rollout RolledBack  step 2 us
    message: gate failed: below 100% success
    gate 1 httpCheck: ✗ failed (below 100% success)
`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			renderSet(&b, buildSetView(&tc.set, nil, nil), now)
			if got := b.String(); got != tc.want {
				t.Errorf("tree:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestRenderStatusEmptyAndOwnProds(t *testing.T) {
	var b bytes.Buffer
	renderStatus(&b, StatusView{}, now)
	if b.String() != "No ProdSets or Prods found.\n" {
		t.Errorf("empty: %q", b.String())
	}
	b.Reset()
	p := droverv1.Prod{
		ObjectMeta: metav1.ObjectMeta{Name: "solo"},
		Spec:       droverv1.ProdSpec{ClusterRef: droverv1.ClusterReference{Name: "c1"}, ProdTemplateSpec: droverv1.ProdTemplateSpec{Version: "v7"}},
		Status:     droverv1.ProdStatus{PublishedWeight: ptr.To[int32](100)},
	}
	renderStatus(&b, StatusView{Prods: []ProdView{prodView(&p, nil)}}, now)
	want := "Prods of no ProdSet\n└─ solo  c1  v7  100/100  R- Ap- Av- T- M-\n\n" + legend + "\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestCheckCommand(t *testing.T) {
	finished := metav1.NewTime(now.Add(-10 * time.Minute))
	replace := func(window time.Duration) *droverv1.RolloutPolicy {
		return &droverv1.RolloutPolicy{Spec: droverv1.RolloutPolicySpec{Strategy: droverv1.ReplaceStrategy,
			RollbackWindow: &metav1.Duration{Duration: window}, Steps: []droverv1.RolloutStep{{Name: "all"}}}}
	}
	inPlace := &droverv1.RolloutPolicy{Spec: droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{
		{Name: "canary", Gates: []droverv1.Gate{{Approval: &droverv1.ApprovalGate{}}}}, {Name: "rest"},
	}}}
	type mut func(*droverv1.ProdSet)
	phase := func(p droverv1.RolloutPhase) mut {
		return func(s *droverv1.ProdSet) { s.Status.Rollout.Phase = p }
	}
	for _, tc := range []struct {
		name    string
		word    string
		policy  *droverv1.RolloutPolicy
		mutate  []mut
		effect  string // a substring of the effect
		refused string // a substring of the refusal
	}{
		{name: "pause progressing", word: "pause", policy: inPlace, effect: "goes to Paused at step 1 (canary)"},
		{name: "pause paused", word: "pause", policy: inPlace, mutate: []mut{phase(droverv1.RolloutPaused)}, refused: "already Paused"},
		{name: "pause succeeded", word: "pause", policy: inPlace, mutate: []mut{phase(droverv1.RolloutSucceeded)}, refused: "no rollout is in progress"},
		{name: "resume progressing", word: "resume", policy: inPlace, refused: "not Paused, it is Progressing"},
		{name: "resume paused", word: "resume", policy: inPlace, mutate: []mut{phase(droverv1.RolloutPaused)}, effect: "back to Progressing at step 1 (canary)"},
		{name: "promote progressing", word: "promote", policy: inPlace, effect: "pass (gate 1 approval), and the rollout goes on to step 2 (rest)"},
		{name: "promote paused", word: "promote", policy: inPlace, mutate: []mut{phase(droverv1.RolloutPaused)}, effect: "takes effect after resume"},
		{name: "promote twice", word: "promote", policy: inPlace, mutate: []mut{func(s *droverv1.ProdSet) { s.Status.Rollout.Promoted = true }}, refused: "already promoted"},
		{name: "promote rolling back", word: "promote", policy: inPlace, mutate: []mut{phase(droverv1.RolloutRollingBack)}, refused: "no rollout is in progress"},
		{name: "abort progressing", word: "abort", policy: inPlace, effect: "RollingBack: the Prods on the new revision (shop-eu-1) leave traffic in one DNS change and go back to revision 9f8e7d6c5b"},
		{name: "abort rolled back", word: "abort", policy: inPlace, mutate: []mut{phase(droverv1.RolloutRolledBack)}, refused: "already RolledBack"},
		{name: "rollback paused", word: "rollback", policy: inPlace, mutate: []mut{phase(droverv1.RolloutPaused)}, effect: "RollingBack"},
		{name: "rollback after InPlace", word: "rollback", policy: inPlace, mutate: []mut{phase(droverv1.RolloutSucceeded)}, refused: "the InPlace strategy keeps none"},
		{name: "rollback within window", word: "rollback", policy: replace(time.Hour), mutate: []mut{phase(droverv1.RolloutSucceeded), func(s *droverv1.ProdSet) {
			s.Status.Rollout.FinishedTime = &finished
			s.Status.Rollout.Prods[0].Replacement = "shop-eu-1-1"
		}}, effect: "warm previous-revision Prods get their weight back"},
		{name: "rollback after window", word: "rollback", policy: replace(5 * time.Minute), mutate: []mut{phase(droverv1.RolloutSucceeded), func(s *droverv1.ProdSet) {
			s.Status.Rollout.FinishedTime = &finished
			s.Status.Rollout.Prods[0].Replacement = "shop-eu-1-1"
		}}, refused: "the rollbackWindow of 5m0s ended at 2026-11-26T11:55:00Z"},
		{name: "no policy ref", word: "pause", policy: inPlace, mutate: []mut{func(s *droverv1.ProdSet) { s.Spec.RolloutPolicyRef = nil }}, refused: "has no rolloutPolicyRef"},
		{name: "policy missing", word: "pause", policy: nil, refused: "RolloutPolicy shop-canary not found"},
		{name: "policy invalid", word: "pause", policy: inPlace, mutate: []mut{func(s *droverv1.ProdSet) {
			s.Status.Conditions = []metav1.Condition{cond("RolledOut", metav1.ConditionFalse, "PolicyInvalid", "RolloutPolicy shop-canary is invalid")}
		}}, refused: "exists and is valid: RolloutPolicy shop-canary is invalid"},
		{name: "unread command", word: "pause", policy: inPlace, mutate: []mut{func(s *droverv1.ProdSet) {
			s.Annotations = map[string]string{droverv1.RolloutCommandAnnotation: "abort@2"}
		}}, refused: "abort@2 was not read by drover yet"},
		{name: "read command", word: "pause", policy: inPlace, mutate: []mut{func(s *droverv1.ProdSet) {
			s.Annotations = map[string]string{droverv1.RolloutCommandAnnotation: "abort@2"}
			s.Status.ObservedRolloutCommand = "abort@2"
		}}, effect: "Paused"},
		{name: "new revision not started", word: "pause", policy: inPlace, mutate: []mut{func(s *droverv1.ProdSet) { s.Status.CurrentRevision = "ffffffffff" }}, refused: "the template changed to revision ffffffffff"},
		{name: "no rollout yet", word: "pause", policy: inPlace, mutate: []mut{func(s *droverv1.ProdSet) { s.Status.Rollout = nil }}, refused: "has no rollout yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, _, _ := rolloutSet()
			set.Annotations, set.Status.Rollout.Gates = nil, nil
			for _, m := range tc.mutate {
				m(set)
			}
			effect, err := checkCommand(tc.word, set, tc.policy, now)
			if tc.refused != "" {
				var ref *refusedError
				if !errors.As(err, &ref) || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("want a refusal containing %q, got effect %q, err %v", tc.refused, effect, err)
				}
				return
			}
			if err != nil || !strings.Contains(effect, tc.effect) {
				t.Fatalf("want an effect containing %q, got %q, err %v", tc.effect, effect, err)
			}
		})
	}
}

func TestClusterReachable(t *testing.T) {
	probe := func(s metav1.ConditionStatus) *clusterv1.Cluster {
		return &clusterv1.Cluster{Status: clusterv1.ClusterStatus{Conditions: []metav1.Condition{
			cond(clusterv1.ClusterRemoteConnectionProbeCondition, s, "Probe"+string(s), ""),
		}}}
	}
	prod := func(name string, s metav1.ConditionStatus, reason string) *droverv1.Prod {
		return &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: droverv1.ProdStatus{Conditions: []metav1.Condition{cond("ClusterReachable", s, reason, "")}}}
	}
	deleting := probe(metav1.ConditionTrue)
	deleting.DeletionTimestamp = &metav1.Time{Time: now}
	for _, tc := range []struct {
		name          string
		cluster       *clusterv1.Cluster
		prods         []*droverv1.Prod
		status, cause string
	}{
		{"nothing known", &clusterv1.Cluster{}, nil, "Unknown", "no probe reported yet"},
		{"probe true", probe(metav1.ConditionTrue), nil, "True", "RemoteConnectionProbe"},
		{"probe false", probe(metav1.ConditionFalse), []*droverv1.Prod{prod("p1", metav1.ConditionTrue, "Reachable")}, "False", "RemoteConnectionProbe: ProbeFalse"},
		{"drover sees it first", probe(metav1.ConditionTrue), []*droverv1.Prod{
			prod("p1", metav1.ConditionTrue, "Reachable"), prod("p2", metav1.ConditionFalse, "HealthProbeFailing"),
		}, "False", "Prod p2: HealthProbeFailing"},
		{"prods only", &clusterv1.Cluster{}, []*droverv1.Prod{prod("p1", metav1.ConditionTrue, "Reachable")}, "True", "Prod p1: Reachable"},
		{"deleting", deleting, nil, "False", "Cluster is being deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, cause := clusterReachable(tc.cluster, tc.prods)
			if status != tc.status || cause != tc.cause {
				t.Errorf("got %s (%s), want %s (%s)", status, cause, tc.status, tc.cause)
			}
		})
	}
}

func TestRenderClusters(t *testing.T) {
	rows := []ClusterRow{
		{Namespace: "default", Name: "eu-1", Reachable: "True", Prods: 2, PublishedWeight: 200},
		{Namespace: "default", Name: "us-1", Reachable: "False", ReachableReason: "Prod shop-us-1: HealthProbeFailing", Prods: 1,
			Maintenances: []MaintenanceRef{{Name: "us-1-maintenance", Phase: "Drained", Surge: true}}},
		{Namespace: "default", Name: "us-2", Reachable: "Unknown", Maintenances: []MaintenanceRef{{Name: "m"}, {Name: "n", Phase: "Drained", Deleted: true}}},
	}
	var b bytes.Buffer
	renderClusters(&b, rows, false)
	want := `NAME   REACHABLE                                 MAINTENANCE                         PRODS   WEIGHT
eu-1   yes                                       -                                   2       200
us-1   no (Prod shop-us-1: HealthProbeFailing)   Drained, surge (us-1-maintenance)   1       0
us-2   unknown                                   Pending (m); restoring (n)          0       0
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestDrainPreview(t *testing.T) {
	sets := []droverv1.ProdSet{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "shop"}, Status: droverv1.ProdSetStatus{ServingReplicas: 3, MinServing: 3, Prods: []droverv1.ProdSummary{
			{Name: "shop-c1", Cluster: "c1", PublishedWeight: ptr.To[int32](100), Available: metav1.ConditionTrue},
			{Name: "shop-c2", Cluster: "c2", PublishedWeight: ptr.To[int32](100), Available: metav1.ConditionTrue},
		}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cart"}, Status: droverv1.ProdSetStatus{ServingReplicas: 2, MinServing: 1, Prods: []droverv1.ProdSummary{
			{Name: "cart-c1", Cluster: "c1", PublishedWeight: ptr.To[int32](100), Available: metav1.ConditionTrue},
		}}},
	}
	prods := []droverv1.Prod{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "solo"}, Spec: droverv1.ProdSpec{ClusterRef: droverv1.ClusterReference{Name: "c1"}}}}
	d := &clusterData{sets: sets, prods: prods}
	for _, tc := range []struct {
		cluster string
		surge   bool
		want    string
	}{
		{"c1", false, `cluster c1: 3 Prods leave traffic:
  ProdSet shop: shop-c1 (weight 100)
  ProdSet cart: cart-c1 (weight 100)
  Prod solo (of no ProdSet)
drover will likely refuse the drain (use --surge, or add capacity):
  ProdSet shop would have 2 serving Prods, below its minimum of 3`},
		{"c1", true, `cluster c1: 3 Prods leave traffic, after a stand-in for each is available on another cluster:
  ProdSet shop: shop-c1 (weight 100)
  ProdSet cart: cart-c1 (weight 100)
  Prod solo (of no ProdSet)`},
		{"c9", false, `cluster c9: no Prods on it; the drain has nothing to move`},
	} {
		if got := strings.Join(drainPreview(d, "ns", tc.cluster, tc.surge), "\n"); got != tc.want {
			t.Errorf("%s surge=%t:\n%s\nwant:\n%s", tc.cluster, tc.surge, got, tc.want)
		}
	}
}

func TestMaintenanceProgress(t *testing.T) {
	admitted := metav1.NewTime(now)
	for _, tc := range []struct {
		m    droverv1.ClusterMaintenance
		want string
	}{
		{droverv1.ClusterMaintenance{}, "Pending"},
		{droverv1.ClusterMaintenance{Status: droverv1.ClusterMaintenanceStatus{Phase: "Refused", Conditions: []metav1.Condition{
			cond("Admitted", metav1.ConditionFalse, "BelowServingMinimum", "draining cluster c is refused: ..."),
			cond("Drained", metav1.ConditionFalse, "NotAdmitted", "not admitted"),
		}}}, "Refused: draining cluster c is refused: ..."},
		{droverv1.ClusterMaintenance{Status: droverv1.ClusterMaintenanceStatus{Phase: "Draining", AdmittedTime: &admitted,
			Prods: []droverv1.MaintenanceProd{{Name: "a", Drained: true}, {Name: "b"}}}}, "Draining: 1 of 2 Prods drained"},
		{droverv1.ClusterMaintenance{Status: droverv1.ClusterMaintenanceStatus{Phase: "Draining", AdmittedTime: &admitted, Conditions: []metav1.Condition{
			cond("Admitted", metav1.ConditionTrue, "Admitted", "admitted"),
			cond("Drained", metav1.ConditionFalse, "WaitingForTraffic", "waiting for b"),
		}}}, "Draining: waiting for b"},
	} {
		if got := maintenanceProgress(&tc.m); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestWatchRedraws: on a terminal each change clears the screen and redraws; nothing
// is written while nothing changes; an error is shown and retried.
func TestWatchRedraws(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		t.Run(fmt.Sprintf("terminal=%t", terminal), func(t *testing.T) {
			var out bytes.Buffer
			c := &cli{Streams: Streams{Out: &out}, opts: Options{Now: func() time.Time { return now }, PollInterval: time.Millisecond, Terminal: &terminal}}
			frames := []string{"one\n", "one\n", "", "two\n", "two\n"}
			ctx, cancel := context.WithCancel(t.Context())
			i := 0
			err := c.watch(ctx, func(_ context.Context, w io.Writer) error {
				defer func() { i++ }()
				if i == len(frames)-1 {
					cancel()
				}
				if frames[i] == "" {
					return fmt.Errorf("connection refused")
				}
				_, err := io.WriteString(w, frames[i])
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			want := "one\n--- 2026-11-26T12:00:00Z\nerror: connection refused (retrying)\n--- 2026-11-26T12:00:00Z\ntwo\n"
			if terminal {
				want = clearScreen + "one\n" + clearScreen + "error: connection refused (retrying)\n" + clearScreen + "two\n"
			}
			if out.String() != want {
				t.Errorf("got %q, want %q", out.String(), want)
			}
		})
	}
}

func TestCommandValue(t *testing.T) {
	if got := commandValue("promote", now.Add(1500*time.Microsecond)); got != "promote@2026-11-26T12:00:00.001Z" {
		t.Errorf("got %q", got)
	}
}

// A move a safety rule holds shows on the Prod, and the rule under the set.
func TestRenderSafetyHold(t *testing.T) {
	set, prods, policy := rolloutSet()
	set.Status.Conditions = append(set.Status.Conditions, cond(droverv1.ProdSetSafetyRulesKeptCondition, metav1.ConditionFalse, droverv1.ProdSetSafetyHeldReason,
		"held: maxOut 0: 1 of 3 replicas would be out of traffic (0 now) (shop-gone 100 -> 0)"))
	set.Status.Prods[1].Held = "maxOut"
	var b bytes.Buffer
	renderStatus(&b, StatusView{ProdSets: []SetView{buildSetView(set, prods, policy)}}, now)
	for _, want := range []string{
		"│ ! SafetyRulesKept False Held: held: maxOut 0: 1 of 3 replicas would be out of traffic (0 now) (shop-gone 100 -> 0)\n",
		"(Prod not found)  out of traffic: Deleting, held in DNS by safety rule maxOut\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("tree lacks %q:\n%s", want, b.String())
		}
	}
}
