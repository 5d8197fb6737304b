package argocd

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/ready"
)

var update = flag.Bool("update", false, "write argocd-cm.yaml from the Lua files")

func TestMain(m *testing.M) {
	// Every script runs with undefined globals an error: one that reaches for a library
	// Argo CD does not open fails here, on every path the tests take.
	strictGlobals = true
	os.Exit(m.Run())
}

func unstructuredOf(t *testing.T, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: content}
}

func cond(typ string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: 3, LastTransitionTime: started}
}

var (
	started  = metav1.NewTime(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))
	finished = metav1.NewTime(time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC))
)

// prodSet is a ProdSet of generation 3 that drover observed, its own conditions those of
// a set that is as it should be, mutate applied, then c in place of its own conditions of
// the same type, and Ready, Reconciling and Stalled as drover computes them from that.
func prodSet(mutate func(*droverv1.ProdSet), c ...metav1.Condition) *droverv1.ProdSet {
	s := &droverv1.ProdSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: droverv1.GroupVersion.String(), Kind: "ProdSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "team-a", Generation: 3, Annotations: map[string]string{"team": "a"}},
		Spec: droverv1.ProdSetSpec{
			Replicas:         ptr.To[int32](3),
			RolloutPolicyRef: &droverv1.LocalObjectReference{Name: "canary"},
			Template: droverv1.ProdTemplate{Spec: droverv1.ProdTemplateSpec{
				Version: "v2", TargetNamespace: "shop",
				Manifests: []runtime.RawExtension{{Raw: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shop"},"data":{}}`)}},
			}},
		},
	}
	s.Status.ObservedGeneration = 3
	s.Status.CurrentRevision = "rev2"
	s.Status.Conditions = []metav1.Condition{
		cond(droverv1.ProdSetFrozenCondition, metav1.ConditionFalse, droverv1.ProdSetNotFrozenReason, ""),
		cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionTrue, droverv1.ProdSetRolledOutReason, "Succeeded"),
		cond(droverv1.ProdSetPlacedCondition, metav1.ConditionTrue, droverv1.ProdSetPlacedReason, "3 of 3 placed"),
		cond(droverv1.ProdSetTrafficReadyCondition, metav1.ConditionTrue, droverv1.ProdSetTrafficSyncedReason, "in sync"),
		cond(droverv1.ProdSetAvailableCondition, metav1.ConditionTrue, droverv1.ProdSetAvailableReason, "3 of 3 serve"),
	}
	s.Status.Rollout = &droverv1.RolloutStatus{Revision: "rev2", PreviousRevision: "rev1", Policy: "canary",
		Phase: droverv1.RolloutSucceeded, Step: 2, StartedTime: &started, FinishedTime: &finished,
		Prods: []droverv1.RolloutProdStatus{{Name: "shop-0", Step: 0, Phase: "Done"}, {Name: "shop-1", Step: 1, Phase: "Done"}}}
	if mutate != nil {
		mutate(s)
	}
	for _, x := range c {
		meta.SetStatusCondition(&s.Status.Conditions, x)
	}
	ready.Apply(&s.Status.Conditions, s.Generation, ready.ProdSet(s), "every replica serves the template's revision, in sync in DNS")
	return s
}

// rollout sets the set's rollout in phase at step 1 (canary) with message, and its
// RolledOut condition as drover does.
func rollout(phase droverv1.RolloutPhase, message string) func(*droverv1.ProdSet) {
	return func(s *droverv1.ProdSet) {
		ro := s.Status.Rollout
		ro.Phase, ro.Step, ro.StepName, ro.Message, ro.FinishedTime = phase, 1, "canary", message, nil
		reason := map[droverv1.RolloutPhase]string{
			droverv1.RolloutProgressing: droverv1.ProdSetRolloutProgressing, droverv1.RolloutPaused: droverv1.ProdSetRolloutPausedReason,
			droverv1.RolloutRollingBack: droverv1.ProdSetRollingBackReason, droverv1.RolloutRolledBack: droverv1.ProdSetRolledBackReason,
		}[phase]
		if phase == droverv1.RolloutSucceeded {
			ro.FinishedTime = &finished
			meta.SetStatusCondition(&s.Status.Conditions, cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionTrue, droverv1.ProdSetRolledOutReason, string(phase)))
			return
		}
		meta.SetStatusCondition(&s.Status.Conditions, cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionFalse, reason, message))
	}
}

func both(fs ...func(*droverv1.ProdSet)) func(*droverv1.ProdSet) {
	return func(s *droverv1.ProdSet) {
		for _, f := range fs {
			f(s)
		}
	}
}

func failed(s *droverv1.ProdSet) {
	s.Status.Rollout.FailedTime = &metav1.MicroTime{Time: finished.Time}
}

func TestProdSetHealth(t *testing.T) {
	tests := []struct {
		name     string
		set      *droverv1.ProdSet
		status   string
		contains string
	}{
		{"healthy", prodSet(nil), "Healthy", "every replica serves"},
		{"mid-rollout", prodSet(rollout(droverv1.RolloutProgressing, "step 2 (canary): waiting for shop-1 to be available")), "Progressing", "waiting for shop-1"},
		{"waiting for an approval", prodSet(rollout(droverv1.RolloutProgressing, "step 2 (canary): gate 1 (approval): waiting for approval (promote)")), "Progressing", "waiting for approval"},
		{"paused by a person", prodSet(rollout(droverv1.RolloutPaused, "paused by request")), "Suspended", "paused at step 2 (canary): paused by request"},
		{"paused by its failure policy", prodSet(both(rollout(droverv1.RolloutPaused, "gate failed: step canary, gate 1 (httpCheck): 2/5 tries returned 503"), failed)), "Degraded", "2/5 tries returned 503"},
		{"rolling back", prodSet(both(rollout(droverv1.RolloutRollingBack, "gate failed: 503"), failed)), "Progressing", "503"},
		{"rolled back", prodSet(both(rollout(droverv1.RolloutRolledBack, "gate failed: 503"), failed)), "Degraded", "RolledBack"},
		{"paused by a person while stalled", prodSet(rollout(droverv1.RolloutPaused, "paused by request"),
			cond(droverv1.ProdSetFrozenCondition, metav1.ConditionTrue, droverv1.ProdSetFrozenReason, "3 of 4 clusters unreachable")), "Degraded", "3 of 4 clusters unreachable"},
		{"stalled: no room", prodSet(nil, cond(droverv1.ProdSetPlacedCondition, metav1.ConditionFalse, droverv1.ProdSetUnplacedReason, "no cluster has room for shop-2")), "Degraded", "no cluster has room"},
		{"stalled: policy invalid", prodSet(nil, cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionFalse, droverv1.ProdSetPolicyInvalidReason, "step 1 has no name")), "Degraded", "step 1 has no name"},
		{"generation not observed", prodSet(func(s *droverv1.ProdSet) { s.Generation = 4 }), "Progressing", "waiting for drover to observe generation 4"},
		{"no status", &droverv1.ProdSet{TypeMeta: metav1.TypeMeta{APIVersion: droverv1.GroupVersion.String(), Kind: "ProdSet"},
			ObjectMeta: metav1.ObjectMeta{Name: "shop", Generation: 1}}, "Progressing", "waiting for drover"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, msg, err := Health(unstructuredOf(t, tc.set))
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || !strings.Contains(msg, tc.contains) {
				t.Errorf("health = %s %q, want %s with %q", status, msg, tc.status, tc.contains)
			}
		})
	}
}

func TestOtherKindsHealth(t *testing.T) {
	typeMeta := func(kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: droverv1.GroupVersion.String(), Kind: kind}
	}
	om := metav1.ObjectMeta{Name: "x", Namespace: "team-a", Generation: 3}
	prod := func(c ...metav1.Condition) *droverv1.Prod {
		p := &droverv1.Prod{TypeMeta: typeMeta("Prod"), ObjectMeta: om}
		p.Status.ObservedGeneration = 3
		p.Status.Conditions = []metav1.Condition{
			cond(droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason, ""),
			cond(droverv1.ProdClusterReachableCondition, metav1.ConditionTrue, droverv1.ProdClusterReachableReason, ""),
			cond(droverv1.ProdAvailableCondition, metav1.ConditionTrue, droverv1.ProdAvailableReason, ""),
			cond(droverv1.ProdTrafficReadyCondition, metav1.ConditionFalse, droverv1.ProdTrafficNotConfiguredReason, ""),
		}
		for _, x := range c {
			meta.SetStatusCondition(&p.Status.Conditions, x)
		}
		ready.Apply(&p.Status.Conditions, p.Generation, ready.Prod(p), "applied, available and in traffic")
		return p
	}
	policy := func(c metav1.Condition, observed int64) *droverv1.RolloutPolicy {
		p := &droverv1.RolloutPolicy{TypeMeta: typeMeta("RolloutPolicy"), ObjectMeta: om}
		p.Status.ObservedGeneration = observed
		p.Status.Conditions = []metav1.Condition{c}
		ready.Apply(&p.Status.Conditions, p.Generation, ready.RolloutPolicy(p), "accepted")
		return p
	}
	maintenance := func(phase droverv1.MaintenancePhase, admitted bool, c ...metav1.Condition) *droverv1.ClusterMaintenance {
		m := &droverv1.ClusterMaintenance{TypeMeta: typeMeta("ClusterMaintenance"), ObjectMeta: om,
			Spec: droverv1.ClusterMaintenanceSpec{ClusterName: "workload-1"}}
		m.Status.ObservedGeneration, m.Status.Phase, m.Status.Conditions = 3, phase, c
		if admitted {
			m.Status.AdmittedTime = &started
		}
		ready.Apply(&m.Status.Conditions, m.Generation, ready.ClusterMaintenance(m), "drained: no traffic reaches the cluster's Prods")
		return m
	}
	notifier := func(v ready.Verdict) *droverv1.Notifier {
		n := &droverv1.Notifier{TypeMeta: typeMeta("Notifier"), ObjectMeta: om}
		n.Status.ObservedGeneration = 3
		ready.Apply(&n.Status.Conditions, n.Generation, v, "events are sent as they happen")
		return n
	}
	admitted := cond(droverv1.MaintenanceAdmittedCondition, metav1.ConditionTrue, droverv1.MaintenanceAdmittedReason, "")
	tests := []struct {
		name     string
		obj      runtime.Object
		status   string
		contains string
	}{
		{"Prod healthy", prod(), "Healthy", "applied, available and in traffic"},
		{"Prod rolling out", prod(cond(droverv1.ProdAvailableCondition, metav1.ConditionFalse, droverv1.ProdProgressingReason, "Deployment shop: 1 of 3 available")), "Progressing", "1 of 3 available"},
		{"Prod stalled", prod(cond(droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdInvalidManifestReason, "manifest 2 has no kind")), "Degraded", "manifest 2 has no kind"},
		{"Prod without status", &droverv1.Prod{TypeMeta: typeMeta("Prod"), ObjectMeta: om}, "Progressing", "waiting for drover"},
		{"RolloutPolicy accepted", policy(cond(droverv1.RolloutPolicyAcceptedCondition, metav1.ConditionTrue, droverv1.RolloutPolicyAcceptedReason, "3 steps"), 3), "Healthy", "accepted"},
		{"RolloutPolicy invalid", policy(cond(droverv1.RolloutPolicyAcceptedCondition, metav1.ConditionFalse, droverv1.RolloutPolicyInvalidReason, "no Prometheus server"), 3), "Degraded", "no Prometheus server"},
		{"RolloutPolicy changed", policy(cond(droverv1.RolloutPolicyAcceptedCondition, metav1.ConditionTrue, droverv1.RolloutPolicyAcceptedReason, "3 steps"), 2), "Progressing", "observe generation 3"},
		{"ClusterMaintenance drained", maintenance(droverv1.MaintenanceDrained, true, admitted,
			cond(droverv1.MaintenanceDrainedCondition, metav1.ConditionTrue, droverv1.MaintenanceDrainedReason, "")), "Healthy", "drained"},
		{"ClusterMaintenance draining", maintenance(droverv1.MaintenanceDraining, true, admitted,
			cond(droverv1.MaintenanceDrainedCondition, metav1.ConditionFalse, droverv1.MaintenanceDrainingReason, "2 Prods still in DNS")), "Progressing", "2 Prods still in DNS"},
		{"ClusterMaintenance refused", maintenance(droverv1.MaintenanceRefused, false,
			cond(droverv1.MaintenanceAdmittedCondition, metav1.ConditionFalse, droverv1.MaintenanceRefusedReason, "shop would serve on 1 of its minimum 2"),
			cond(droverv1.MaintenanceDrainedCondition, metav1.ConditionFalse, droverv1.MaintenanceNotAdmittedReason, "")), "Degraded", "minimum 2"},
		{"Notifier delivering", notifier(ready.Verdict{}), "Healthy", "events are sent"},
		{"Notifier failing", notifier(ready.Verdict{Reconciling: true, Reason: droverv1.NotifierDeliveryFailingReason, Message: "HTTP 500"}), "Progressing", "HTTP 500"},
		{"Notifier without its Secret", notifier(ready.Verdict{Stalled: true, Reason: droverv1.NotifierSecretNotFoundReason, Message: "Secret chat not found"}), "Degraded", "Secret chat"},
		{"ClusterMaintenance without status", &droverv1.ClusterMaintenance{TypeMeta: typeMeta("ClusterMaintenance"), ObjectMeta: om}, "Progressing", "waiting for drover"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, msg, err := Health(unstructuredOf(t, tc.obj))
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || !strings.Contains(msg, tc.contains) {
				t.Errorf("health = %s %q, want %s with %q", status, msg, tc.status, tc.contains)
			}
		})
	}
}

// TestActionsDiscovery: an action is enabled exactly when kubectl drover rollout would
// send it without --force (internal/cli's checkCommand).
func TestActionsDiscovery(t *testing.T) {
	replace := func(s *droverv1.ProdSet) {
		s.Status.Rollout.Prods = []droverv1.RolloutProdStatus{{Name: "shop-0", Phase: "Done", Replacement: "shop-0-rev2"}}
	}
	tests := []struct {
		name    string
		set     *droverv1.ProdSet
		enabled []string
	}{
		{"progressing", prodSet(rollout(droverv1.RolloutProgressing, "step 2 (canary): waiting")), []string{"abort", "pause", "promote", "rollback"}},
		{"progressing, promoted", prodSet(both(rollout(droverv1.RolloutProgressing, "waiting"), func(s *droverv1.ProdSet) { s.Status.Rollout.Promoted = true })),
			[]string{"abort", "pause", "rollback"}},
		{"paused", prodSet(rollout(droverv1.RolloutPaused, "paused by request")), []string{"abort", "promote", "resume", "rollback"}},
		{"paused by its failure policy", prodSet(both(rollout(droverv1.RolloutPaused, "gate failed: 503"), failed)), []string{"abort", "promote", "resume", "rollback"}},
		{"succeeded in place", prodSet(nil), nil},
		{"succeeded, originals kept warm", prodSet(replace), []string{"rollback"}},
		{"rolling back", prodSet(rollout(droverv1.RolloutRollingBack, "abort requested")), nil},
		{"rolled back", prodSet(rollout(droverv1.RolloutRolledBack, "abort requested")), nil},
		{"no rollout yet", prodSet(func(s *droverv1.ProdSet) { s.Status.Rollout = nil }), nil},
		{"no RolloutPolicy", prodSet(both(rollout(droverv1.RolloutProgressing, "waiting"), func(s *droverv1.ProdSet) { s.Spec.RolloutPolicyRef = nil })), nil},
		{"policy not found", prodSet(rollout(droverv1.RolloutProgressing, "waiting"),
			cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionFalse, droverv1.ProdSetPolicyNotFoundReason, "RolloutPolicy canary not found")), nil},
		{"a command not read yet", prodSet(both(rollout(droverv1.RolloutProgressing, "waiting"), func(s *droverv1.ProdSet) {
			s.Annotations[droverv1.RolloutCommandAnnotation] = "pause@2026-05-04T10:01:00Z"
			s.Status.ObservedRolloutCommand = "promote@2026-05-04T10:00:00Z"
		})), nil},
		{"the last command read", prodSet(both(rollout(droverv1.RolloutProgressing, "waiting"), func(s *droverv1.ProdSet) {
			s.Annotations[droverv1.RolloutCommandAnnotation] = "promote@2026-05-04T10:00:00Z"
			s.Status.ObservedRolloutCommand = "promote@2026-05-04T10:00:00Z"
		})), []string{"abort", "pause", "promote", "rollback"}},
		{"a new template, its rollout not started", prodSet(both(rollout(droverv1.RolloutProgressing, "waiting"), func(s *droverv1.ProdSet) {
			s.Status.CurrentRevision = "rev3"
		})), nil},
		{"no status", &droverv1.ProdSet{TypeMeta: metav1.TypeMeta{APIVersion: droverv1.GroupVersion.String(), Kind: "ProdSet"},
			ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, nil},
	}
	all := actionNames(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			actions, err := Actions(unstructuredOf(t, tc.set))
			if err != nil {
				t.Fatal(err)
			}
			var names, enabled []string
			for name, disabled := range actions {
				names = append(names, name)
				if !disabled {
					enabled = append(enabled, name)
				}
			}
			slices.Sort(names)
			slices.Sort(enabled)
			if !slices.Equal(names, all) {
				t.Errorf("discovery offers %v, the actions are %v", names, all)
			}
			if !slices.Equal(enabled, tc.enabled) {
				t.Errorf("enabled %v, want %v", enabled, tc.enabled)
			}
		})
	}
}

// actionNames are the ProdSet's action directories.
func actionNames(t *testing.T) []string {
	t.Helper()
	entries, err := fs.ReadDir(scripts, "drover.dev/ProdSet/actions")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestRunAction(t *testing.T) {
	at := time.Date(2026, 5, 4, 10, 2, 3, 0, time.FixedZone("CEST", 2*3600))
	now = func() time.Time { return at }
	defer func() { now = time.Now }()

	base := prodSet(rollout(droverv1.RolloutProgressing, "waiting"))
	bare := base.DeepCopy()
	bare.Annotations = nil
	for _, name := range actionNames(t) {
		for _, set := range []*droverv1.ProdSet{base, bare} {
			in := unstructuredOf(t, set)
			// Empty objects, which Lua cannot tell from empty lists, come back as objects.
			in.Object["spec"].(map[string]any)["placement"] = map[string]any{}
			orig := in.DeepCopy()
			out, err := RunAction(in, name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !equality.Semantic.DeepEqual(in, orig) {
				t.Errorf("%s changed its input", name)
			}
			want := name + "@2026-05-04T08:02:03Z"
			if got := out.GetAnnotations()[droverv1.RolloutCommandAnnotation]; got != want {
				t.Errorf("%s set %s=%q, want %q", name, droverv1.RolloutCommandAnnotation, got, want)
			}
			// Nothing else changed: the annotation is the whole patch.
			changed := out.DeepCopy()
			ann := changed.GetAnnotations()
			delete(ann, droverv1.RolloutCommandAnnotation)
			if len(ann) == 0 {
				ann = nil
			}
			changed.SetAnnotations(ann)
			if d := cmp.Diff(orig.Object, changed.Object); d != "" {
				t.Errorf("%s changed more than the annotation (-before +after):\n%s", name, d)
			}
			// And it is still a ProdSet.
			var back droverv1.ProdSet
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(out.Object, &back); err != nil {
				t.Errorf("%s: the result is no ProdSet: %v", name, err)
			}
		}
	}
	// The real clock: a value drover reads as the word, "@" and a suffix.
	now = time.Now
	out, err := RunAction(unstructuredOf(t, base), "promote")
	if err != nil {
		t.Fatal(err)
	}
	v := out.GetAnnotations()[droverv1.RolloutCommandAnnotation]
	if !regexp.MustCompile(`^promote@\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(v) {
		t.Errorf("promote set %q", v)
	}
	if _, err := RunAction(unstructuredOf(t, base), "restart"); err == nil {
		t.Error("an action that does not exist ran")
	}
}

// TestArgoLibraries: the scripts run with what Argo CD gives customizations from
// argocd-cm and nothing more: base, table, package, and os (time and date) by require.
func TestArgoLibraries(t *testing.T) {
	strictGlobals = false
	defer func() { strictGlobals = true }()
	probe := `local os = require("os")
local os_keys = {}
for k in pairs(os) do table.insert(os_keys, k) end
table.sort(os_keys)
return {string = type(string), math = type(math), io = type(io), os = type(_G.os), debug = type(debug),
  coroutine = type(coroutine), channel = type(channel), table = type(table), ipairs = type(ipairs),
  tonumber = type(tonumber), require = type(require), os_keys = table.concat(os_keys, ","),
  kind = obj.kind, n = obj.metadata.generation}`
	set := unstructuredOf(t, prodSet(nil))
	got, err := run(set, probe)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"string": "nil", "math": "nil", "io": "nil", "os": "nil", "debug": "nil", "coroutine": "nil", "channel": "nil",
		"table": "table", "ipairs": "function", "tonumber": "function", "require": "function", "os_keys": "date,time",
		"kind": "ProdSet", "n": int64(3)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("the Lua state (-want +got):\n%s", d)
	}
	if _, err := run(set, `return ("x"):upper()`); err == nil {
		t.Error("strings have methods: the string library is open")
	}
}

// TestEveryScriptRuns: each script runs on an object with nothing but its kind, and on
// one full of status, with undefined globals an error.
func TestEveryScriptRuns(t *testing.T) {
	err := fs.WalkDir(scripts, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if path.Ext(p) != ".lua" {
			t.Errorf("%s: only Lua files belong under drover.dev", p)
			return nil
		}
		src, _ := scripts.ReadFile(p)
		if bytes.Contains(src, []byte("os.")) && !bytes.Contains(src, []byte(`local os = require("os")`)) {
			t.Errorf("%s uses os without require(\"os\"): Argo CD has no global os", p)
		}
		kind := strings.Split(p, "/")[1]
		objs := []*unstructured.Unstructured{{Object: map[string]any{"apiVersion": "drover.dev/v1alpha1", "kind": kind, "metadata": map[string]any{"name": "x"}}}}
		if kind == "ProdSet" {
			objs = append(objs, unstructuredOf(t, prodSet(rollout(droverv1.RolloutPaused, "paused by request"))))
		}
		for _, o := range objs {
			if _, err := run(o, string(src)); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConvert(t *testing.T) {
	in := map[string]any{"a": int64(3), "b": 1.5, "c": "s", "d": true, "e": nil, "f": []any{int64(1), "two", map[string]any{"x": map[string]any{}}},
		"g": map[string]any{}, "h": []any{}, "i": map[string]any{"j": map[string]any{}}}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "drover.dev/v1alpha1", "kind": "ProdSet", "spec": in}}
	got, err := run(obj, "return obj")
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	restoreMaps(m, obj.Object)
	want := map[string]any{"a": int64(3), "b": 1.5, "c": "s", "d": true, "f": []any{int64(1), "two", map[string]any{"x": map[string]any{}}},
		"g": map[string]any{}, "h": []any{}, "i": map[string]any{"j": map[string]any{}}}
	if d := cmp.Diff(want, m["spec"]); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	for _, src := range []string{"return {1, 2, x = 3}", "local t = {} t.t = t return t", "return {[1] = 1, [3] = 3}", "return 0/0"} {
		if _, err := run(obj, src); err == nil {
			t.Errorf("%s converted", src)
		}
	}
}

// TestConfigMap: argocd-cm.yaml is what the Lua files make, and Argo CD reads the
// scripts back from it as they are.
func TestConfigMap(t *testing.T) {
	want, err := configMap()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(ConfigMapFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(ConfigMapFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the Lua files make; run: go test ./config/argocd/ -run TestConfigMap -update\n%s", ConfigMapFile, cmp.Diff(string(want), string(got)))
	}

	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(got, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" {
		t.Errorf("%s is a %s %s", ConfigMapFile, cm.Kind, cm.Name)
	}
	read := func(p string) string {
		b, err := scripts.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	wantKeys := []string{"resource.customizations.actions.drover.dev_ClusterMaintenance", "resource.customizations.actions.drover.dev_ProdSet"}
	for _, kind := range []string{"ClusterMaintenance", "Notifier", "Prod", "ProdSet", "RolloutPolicy"} {
		key := "resource.customizations.health.drover.dev_" + kind
		wantKeys = append(wantKeys, key)
		if cm.Data[key] != read("drover.dev/health.lua") {
			t.Errorf("%s is not health.lua", key)
		}
	}
	var keys []string
	for k := range cm.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("data keys %v, want %v", keys, wantKeys)
	}
	// As Argo CD's ResourceActions reads the actions key.
	var actions struct {
		Discovery   string `json:"discovery.lua"`
		Definitions []struct {
			Name   string `json:"name"`
			Action string `json:"action.lua"`
		} `json:"definitions"`
	}
	if err := yaml.UnmarshalStrict([]byte(cm.Data["resource.customizations.actions.drover.dev_ProdSet"]), &actions); err != nil {
		t.Fatal(err)
	}
	if actions.Discovery != read("drover.dev/ProdSet/actions/discovery.lua") {
		t.Error("discovery.lua does not read back as it is")
	}
	var names []string
	for _, d := range actions.Definitions {
		names = append(names, d.Name)
		if d.Action != read("drover.dev/ProdSet/actions/"+d.Name+"/action.lua") {
			t.Errorf("action %s does not read back as it is", d.Name)
		}
	}
	if !slices.Equal(names, actionNames(t)) {
		t.Errorf("definitions %v, want %v", names, actionNames(t))
	}
}

// The ClusterMaintenance's actions: restore while it is in effect, drain once restored,
// neither while a command waits to be read or while it is being deleted; each sets
// drover.dev/maintenance-command and nothing else.
func TestMaintenanceActions(t *testing.T) {
	at := time.Date(2026, 5, 4, 10, 2, 3, 0, time.UTC)
	now = func() time.Time { return at }
	defer func() { now = time.Now }()
	maint := func(mutate func(*droverv1.ClusterMaintenance)) *droverv1.ClusterMaintenance {
		m := &droverv1.ClusterMaintenance{TypeMeta: metav1.TypeMeta{APIVersion: droverv1.GroupVersion.String(), Kind: "ClusterMaintenance"},
			ObjectMeta: metav1.ObjectMeta{Name: "eu-1-upgrade", Namespace: "fleet", Annotations: map[string]string{"note": "x"}},
			Spec:       droverv1.ClusterMaintenanceSpec{ClusterName: "eu-1"}}
		m.Status.Phase = droverv1.MaintenanceDrained
		m.Status.AdmittedTime = &metav1.Time{Time: at}
		if mutate != nil {
			mutate(m)
		}
		return m
	}
	restored := func(m *droverv1.ClusterMaintenance) {
		m.Status.Phase, m.Status.RestoreTime, m.Status.AdmittedTime = droverv1.MaintenanceRestored, &metav1.Time{Time: at}, nil
		m.Annotations[droverv1.MaintenanceCommandAnnotation] = "restore@1"
		m.Status.ObservedCommand = "restore@1"
	}
	for _, tc := range []struct {
		name    string
		m       *droverv1.ClusterMaintenance
		enabled []string
	}{
		{"drained", maint(nil), []string{"restore"}},
		{"refused", maint(func(m *droverv1.ClusterMaintenance) {
			m.Status.Phase, m.Status.AdmittedTime = droverv1.MaintenanceRefused, nil
		}), []string{"restore"}},
		{"no status yet", maint(func(m *droverv1.ClusterMaintenance) { m.Status = droverv1.ClusterMaintenanceStatus{} }), []string{"restore"}},
		{"restored", maint(restored), []string{"drain"}},
		{"restore not read yet", maint(func(m *droverv1.ClusterMaintenance) {
			m.Annotations[droverv1.MaintenanceCommandAnnotation] = "restore@2"
		}), nil},
		{"being deleted", maint(func(m *droverv1.ClusterMaintenance) { m.DeletionTimestamp = &metav1.Time{Time: at} }), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			actions, err := Actions(unstructuredOf(t, tc.m))
			if err != nil {
				t.Fatal(err)
			}
			var enabled []string
			for name, disabled := range actions {
				if !disabled {
					enabled = append(enabled, name)
				}
			}
			slices.Sort(enabled)
			if len(actions) != 2 || !slices.Equal(enabled, tc.enabled) {
				t.Errorf("actions %v: enabled %v, want %v", actions, enabled, tc.enabled)
			}
		})
	}
	for _, name := range []string{"restore", "drain"} {
		in := unstructuredOf(t, maint(nil))
		out, err := RunAction(in, name)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := out.GetAnnotations()[droverv1.MaintenanceCommandAnnotation], name+"@2026-05-04T10:02:03Z"; got != want {
			t.Errorf("%s set %q, want %q", name, got, want)
		}
		changed := out.DeepCopy()
		ann := changed.GetAnnotations()
		delete(ann, droverv1.MaintenanceCommandAnnotation)
		changed.SetAnnotations(ann)
		if d := cmp.Diff(in.Object, changed.Object); d != "" {
			t.Errorf("%s changed more than the annotation (-before +after):\n%s", name, d)
		}
	}
}
