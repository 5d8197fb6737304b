package v1alpha1_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// TestValidation installs the generated CRDs into a real kube-apiserver and checks what
// it accepts and what it refuses, and with which message: the samples in config/samples
// and variants of them. The refusal messages are logged, so `go test -v` shows what a
// user applying the object would read.
func TestValidation(t *testing.T) {
	c := startAPIServer(t)
	samples := loadSamples(t)

	t.Run("samples are accepted", func(t *testing.T) {
		for _, kind := range []string{"Tenant", "RolloutPolicy", "ProdSet", "Prod", "ClusterAnalysisTemplate", "Freeze", "Notifier"} {
			obj := samples[kind].DeepCopy()
			if err := c.Create(t.Context(), obj, client.FieldValidation("Strict")); err != nil {
				t.Errorf("%s %s refused: %v", kind, obj.GetName(), err)
				continue
			}
			t.Logf("%s %s/%s accepted", kind, obj.GetNamespace(), obj.GetName())
		}
	})

	t.Run("manifests are stored as written", func(t *testing.T) {
		// The embedded-object schema (hack/crdmeta) must not prune what a manifest says.
		prod := samples["Prod"].DeepCopy()
		prod.SetName("round-trip")
		manifest := map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{
				"name": "settings", "labels": map[string]any{"tier": "web"},
				"annotations": map[string]any{"note": "kept"},
			},
			"data": map[string]any{"color": "blue"},
		}
		if err := unstructured.SetNestedSlice(prod.Object, []any{manifest}, "spec", "manifests"); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(t.Context(), prod); err != nil {
			t.Fatalf("create: %v", err)
		}
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(prod.GroupVersionKind())
		if err := c.Get(t.Context(), client.ObjectKeyFromObject(prod), got); err != nil {
			t.Fatal(err)
		}
		stored, _, _ := unstructured.NestedSlice(got.Object, "spec", "manifests")
		if len(stored) != 1 {
			t.Fatalf("stored %d manifests, want 1", len(stored))
		}
		m := stored[0].(map[string]any)
		for _, path := range [][]string{{"metadata", "labels", "tier"}, {"metadata", "annotations", "note"}, {"data", "color"}} {
			if v, found, _ := unstructured.NestedString(m, path...); !found || v == "" {
				t.Errorf("manifest field %s was pruned; stored %v", strings.Join(path, "."), m)
			}
		}
	})

	for i, tc := range refusedCases() {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			obj := variant(t, samples, tc.kind, i, tc.mutate)
			err := c.Create(t.Context(), obj, client.DryRunAll, client.FieldValidation("Strict"))
			if err == nil {
				t.Fatalf("accepted; want a refusal containing %q", tc.want)
			}
			switch {
			case tc.badRequest && !apierrors.IsBadRequest(err):
				t.Errorf("refused with %v (reason %s); want a 400 BadRequest", err, apierrors.ReasonForError(err))
			case !tc.badRequest && !apierrors.IsInvalid(err):
				t.Errorf("refused with %v (reason %s); want a 422 Invalid", err, apierrors.ReasonForError(err))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("refused with\n  %v\nwant a message containing %q", err, tc.want)
			}
			t.Logf("refused: %v", err)
		})
	}

	for i, tc := range acceptedCases() {
		t.Run("accepted/"+tc.name, func(t *testing.T) {
			obj := variant(t, samples, tc.kind, 1000+i, tc.mutate)
			if err := c.Create(t.Context(), obj, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}

	t.Run("update/clusterRef is immutable", func(t *testing.T) {
		var prod droverv1.Prod
		key := client.ObjectKey{Namespace: samples["Prod"].GetNamespace(), Name: samples["Prod"].GetName()}
		if err := c.Get(t.Context(), key, &prod); err != nil {
			t.Fatalf("getting the sample Prod: %v", err)
		}
		moved := prod.DeepCopy()
		moved.Spec.ClusterRef.Name = "workload-2"
		err := c.Update(t.Context(), moved, client.DryRunAll)
		switch {
		case err == nil:
			t.Fatal("moving a Prod to another cluster was accepted")
		case !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "clusterRef is immutable"):
			t.Fatalf("refused with %v; want an Invalid error saying clusterRef is immutable", err)
		}
		t.Logf("refused: %v", err)

		bumped := prod.DeepCopy()
		bumped.Spec.Version = "v2"
		if err := c.Update(t.Context(), bumped, client.DryRunAll); err != nil {
			t.Fatalf("a version bump on the same cluster was refused: %v", err)
		}
	})
}

type validationCase struct {
	name   string
	kind   string // the sample the case starts from
	mutate func(obj map[string]any)
	want   string // a phrase the refusal must contain
	// badRequest: refused as undecodable (400) rather than invalid (422).
	badRequest bool
}

func refusedCases() []validationCase {
	twoSteps := func(o map[string]any) {
		steps := get(o, "spec", "steps").([]any)
		set(o, []any{steps[0], steps[0]}, "spec", "steps")
	}
	return []validationCase{
		{
			name: "ClusterMaintenance without a cluster", kind: "ClusterMaintenance",
			mutate: func(o map[string]any) { del(o, "spec", "clusterName") },
			want:   "spec.clusterName: Required value",
		},
		{
			name: "ClusterMaintenance naming an invalid cluster", kind: "ClusterMaintenance",
			mutate: func(o map[string]any) { set(o, "Workload_2", "spec", "clusterName") },
			want:   "spec.clusterName: Invalid value",
		},
		{
			name: "ProdSet of more than 5000 workload objects", kind: "ProdSet",
			mutate: func(o map[string]any) {
				set(o, int64(1000), "spec", "replicas")
				set(o, int64(1), "spec", "placement", "maxPerCluster")
				manifests := get(o, "spec", "template", "spec", "manifests").([]any)
				for len(manifests) <= 5 {
					manifests = append(manifests, manifests[0])
				}
				set(o, manifests, "spec", "template", "spec", "manifests")
			},
			want: "replicas times the template's manifests is at most 5000 workload objects per set",
		},
		{
			name: "ProdSet maxPerCluster above 10", kind: "ProdSet",
			mutate: func(o map[string]any) { set(o, int64(11), "spec", "placement", "maxPerCluster") },
			want:   "should be less than or equal to 10",
		},
		{
			name: "mirror pollInterval under 1s", kind: "Prod",
			mutate: func(o map[string]any) { set(o, "100ms", "spec", "traffic", "mirror", "pollInterval") },
			want:   "pollInterval must be between 1s and 1h",
		},
		{
			name: "Prod weight above 255", kind: "Prod",
			mutate: func(o map[string]any) { set(o, int64(256), "spec", "traffic", "weight") },
			want:   "should be less than or equal to 255",
		},
		{
			name: "Prod weight below 0", kind: "Prod",
			mutate: func(o map[string]any) { set(o, int64(-1), "spec", "traffic", "weight") },
			want:   "should be greater than or equal to 0",
		},
		{
			name: "Prod without manifests", kind: "Prod",
			mutate: func(o map[string]any) { set(o, []any{}, "spec", "manifests") },
			want:   "should have at least 1 items",
		},
		{
			name: "manifest without kind", kind: "Prod",
			mutate: func(o map[string]any) { del(o, "spec", "manifests", 0, "kind") },
			want:   "spec.manifests[0].kind: Required value",
		},
		{
			name: "manifest without metadata.name", kind: "Prod",
			mutate: func(o map[string]any) { del(o, "spec", "manifests", 1, "metadata", "name") },
			want:   "every manifest needs metadata.name",
		},
		{
			name: "manifest in another namespace", kind: "Prod",
			mutate: func(o map[string]any) { set(o, "kube-system", "spec", "manifests", 0, "metadata", "namespace") },
			want:   "a manifest may not name a namespace other than spec.targetNamespace",
		},
		{
			name: "ProdSet template manifest in another namespace", kind: "ProdSet",
			mutate: func(o map[string]any) {
				set(o, "kube-system", "spec", "template", "spec", "manifests", 0, "metadata", "namespace")
			},
			want: "a manifest may not name a namespace other than spec.targetNamespace",
		},
		{
			name: "both serviceRef and loadBalancerID", kind: "Prod",
			mutate: func(o map[string]any) {
				set(o, "0b3c5a0e-7f4e-4b7a-9d59-1f0b2d6a1c11", "spec", "traffic", "loadBalancerID")
			},
			want: "set at most one of serviceRef and loadBalancerID",
		},
		{
			name: "loadBalancerID with a path", kind: "Prod",
			mutate: func(o map[string]any) {
				del(o, "spec", "traffic", "serviceRef")
				set(o, "../../v2/lbaas/loadbalancers", "spec", "traffic", "loadBalancerID")
			},
			want: "spec.traffic.loadBalancerID",
		},
		{
			name: "loadBalancerID with a query", kind: "Prod",
			mutate: func(o map[string]any) {
				del(o, "spec", "traffic", "serviceRef")
				set(o, "0b3c5a0e-7f4e-4b7a-9d59-1f0b2d6a1c11?x=1", "spec", "traffic", "loadBalancerID")
			},
			want: "spec.traffic.loadBalancerID",
		},
		{
			name: "loadBalancerID with a slash", kind: "Prod",
			mutate: func(o map[string]any) {
				del(o, "spec", "traffic", "serviceRef")
				set(o, "0b3c5a0e/7f4e-4b7a-9d59-1f0b2d6a1c11xx", "spec", "traffic", "loadBalancerID")
			},
			want: "spec.traffic.loadBalancerID",
		},
		{
			name: "loadBalancerID with uppercase hex", kind: "Prod",
			mutate: func(o map[string]any) {
				del(o, "spec", "traffic", "serviceRef")
				set(o, "0B3C5A0E-7F4E-4B7A-9D59-1F0B2D6A1C11", "spec", "traffic", "loadBalancerID")
			},
			want: "spec.traffic.loadBalancerID",
		},
		{
			name: "loadBalancerID with no dashes", kind: "Prod",
			mutate: func(o map[string]any) {
				del(o, "spec", "traffic", "serviceRef")
				set(o, "0b3c5a0e7f4e4b7a9d591f0b2d6a1c110000", "spec", "traffic", "loadBalancerID")
			},
			want: "spec.traffic.loadBalancerID",
		},
		{
			name: "a mirror without a load balancer", kind: "Prod",
			mutate: func(o map[string]any) {
				del(o, "spec", "traffic", "serviceRef")
			},
			want: "a mirror copies the Prod's Octavia load balancer: set serviceRef or loadBalancerID too",
		},
		{
			name: "RolloutPolicy without steps", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, []any{}, "spec", "steps") },
			want:   "should have at least 1 items",
		},
		{
			name: "duplicate step names", kind: "RolloutPolicy",
			mutate: twoSteps,
			want:   `spec.steps[1]: Duplicate value: {"name":"canary"}`,
		},
		{
			name: "selector operator Foo", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, selector("topology.drover.dev/region", "Foo", "eu"), "spec", "steps", 0, "selector")
			},
			want: `Unsupported value: "Foo"`,
		},
		{
			name: "selector In without values", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, selector("topology.drover.dev/region", "In"), "spec", "steps", 0, "selector")
			},
			want: "operators In and NotIn need values",
		},
		{
			name: "selector Exists with values", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, selector("topology.drover.dev/region", "Exists", "eu"), "spec", "steps", 0, "selector")
			},
			want: "Exists and DoesNotExist take none",
		},
		{
			name: "selector expression with an invalid label key", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, selector("region is eu", "Exists"), "spec", "steps", 0, "selector")
			},
			want: "spec.steps[0].selector.matchExpressions[0].key: Invalid value",
		},
		{
			name: "selector matchLabels with an invalid label key", kind: "ProdSet",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"-pool": "shop"}, "spec", "placement", "clusterSelector", "matchLabels")
			},
			want: "matchLabels keys must be valid label keys",
		},
		{
			name: "selector expression key with a DNS prefix over 253 characters", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, selector(strings.Repeat("a", 254)+"/zone", "Exists"), "spec", "steps", 0, "selector")
			},
			want: "a label key's DNS prefix (before the '/') is at most 253 characters",
		},
		{
			name: "selector matchLabels key with a DNS prefix over 253 characters", kind: "ProdSet",
			mutate: func(o map[string]any) {
				set(o, map[string]any{strings.Repeat("a", 254) + "/pool": "shop"}, "spec", "placement", "clusterSelector", "matchLabels")
			},
			want: "a matchLabels key's DNS prefix (before the '/') is at most 253 characters",
		},
		{
			name: "gate with two kinds", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"message": "ok?"}, "spec", "steps", 0, "gates", 0, "approval")
			},
			want: "a gate sets exactly one of pause, approval, httpCheck, prometheus, baseline and template",
		},
		{
			name: "gate with no kind", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, map[string]any{}, "spec", "steps", 0, "gates", 0) },
			want:   "a gate sets exactly one of pause, approval, httpCheck, prometheus, baseline and template",
		},
		{
			name: "baseline gate beside a prometheus gate", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, baselineGate(nil), "spec", "steps", 0, "gates", 1, "baseline")
			},
			want: "a gate sets exactly one of pause, approval, httpCheck, prometheus, baseline and template",
		},
		{
			name: "baseline gate without metrics", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"baseline": map[string]any{"metrics": []any{}}}, "spec", "steps", 0, "gates", 1)
			},
			want: "spec.steps[0].gates[1].baseline.metrics: Invalid value: 0: spec.steps[0].gates[1].baseline.metrics in body should have at least 1 items",
		},
		{
			name: "baseline retries without onInconclusive Retry", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"baseline": baselineGate(map[string]any{"retries": int64(2), "onInconclusive": "Pause"})}, "spec", "steps", 0, "gates", 1)
			},
			want: "retries applies only to onInconclusive Retry",
		},
		{
			name: "baseline confidence of 1", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"baseline": baselineGate(map[string]any{"confidence": "1.0"})}, "spec", "steps", 0, "gates", 1)
			},
			want: "spec.steps[0].gates[1].baseline.confidence in body should match",
		},
		{
			name: "baseline confidence under 0.5", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"baseline": baselineGate(map[string]any{"confidence": "0.4"})}, "spec", "steps", 0, "gates", 1)
			},
			want: "spec.steps[0].gates[1].baseline.confidence in body should match",
		},
		{
			name: "baseline minSamples under 5", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"baseline": baselineGate(map[string]any{"minSamples": int64(2)})}, "spec", "steps", 0, "gates", 1)
			},
			want: "spec.steps[0].gates[1].baseline.minSamples: Invalid value: 2: spec.steps[0].gates[1].baseline.minSamples in body should be greater than or equal to 5",
		},
		{
			name: "baseline maxRatio under 1", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				g := baselineGate(nil)
				g["metrics"].([]any)[0].(map[string]any)["maxRatio"] = "0.5"
				set(o, map[string]any{"baseline": g}, "spec", "steps", 0, "gates", 1)
			},
			want: "maxRatio must be at least 1",
		},
		{
			name: "baseline metric with an unknown direction", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				g := baselineGate(nil)
				g["metrics"].([]any)[0].(map[string]any)["worseWhen"] = "Sideways"
				set(o, map[string]any{"baseline": g}, "spec", "steps", 0, "gates", 1)
			},
			want: `worseWhen: Unsupported value: "Sideways"`,
		},
		{
			name: "baseline gate querying too much per round", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				g := baselineGate(map[string]any{"maxProds": int64(20)})
				m := g["metrics"].([]any)[0].(map[string]any)
				g["metrics"] = []any{m, map[string]any{"name": "latency", "query": m["query"]}, map[string]any{"name": "saturation", "query": m["query"]}}
				set(o, map[string]any{"baseline": g}, "spec", "steps", 0, "gates", 1)
			},
			want: "metrics times maxProds (default 10) is at most 40",
		},
		{
			name: "minHealthyTime over 24h", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "25h", "spec", "steps", 0, "minHealthyTime") },
			want:   "minHealthyTime must be from 1s to 24h",
		},
		{
			name: "an analysis template whose gate is an approval", kind: "ClusterAnalysisTemplate",
			mutate: func(o map[string]any) { set(o, map[string]any{"approval": map[string]any{}}, "spec", "gate") },
			want:   "a template's gate is an httpCheck, prometheus or baseline gate",
		},
		{
			name: "an analysis template whose gate is another template", kind: "ClusterAnalysisTemplate",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"template": map[string]any{"name": "other"}}, "spec", "gate")
			},
			want: "a template's gate is an httpCheck, prometheus or baseline gate",
		},
		{
			name: "a threshold that is neither a number nor an argument", kind: "ClusterAnalysisTemplate",
			mutate: func(o map[string]any) { set(o, "{{ .Prod }}", "spec", "gate", "prometheus", "threshold") },
			want:   "spec.gate.prometheus.threshold in body should match",
		},
		{
			name: "a template argument with a bad name", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"template": map[string]any{"name": "error-ratio", "cluster": true,
					"args": []any{map[string]any{"name": "bad-name", "value": "x"}}}}, "spec", "steps", 0, "gates", 1)
			},
			want: "spec.steps[0].gates[1].template.args[0].name in body should match",
		},
		{
			name: "a notifier of an unknown type", kind: "Notifier",
			mutate: func(o map[string]any) { set(o, "Teams", "spec", "type") },
			want:   `spec.type: Unsupported value: "Teams"`,
		},
		{
			name: "a notifier's Secret in another namespace", kind: "Notifier",
			mutate: func(o map[string]any) { set(o, "drover-system/hook", "spec", "secretRef", "name") },
			want:   "spec.secretRef.name in body should match",
		},
		{
			name: "a notifier reason that is no reason", kind: "Notifier",
			mutate: func(o map[string]any) { set(o, []any{"Rolled Back"}, "spec", "reasons") },
			want:   "spec.reasons[0] in body should match",
		},
		{
			name: "a notifier listing 65 reasons", kind: "Notifier",
			mutate: func(o map[string]any) {
				var reasons []any
				for i := range 65 {
					reasons = append(reasons, fmt.Sprintf("Reason%d", i))
				}
				set(o, reasons, "spec", "reasons")
			},
			want: "spec.reasons: Too many: 65: must have at most 64 items",
		},
		{
			name: "a notifier severity", kind: "Notifier",
			mutate: func(o map[string]any) { set(o, "Error", "spec", "severity") },
			want:   `spec.severity: Unsupported value: "Error"`,
		},
		{
			name: "a freeze that ends before it starts", kind: "Freeze",
			mutate: func(o map[string]any) {
				set(o, "2026-12-07T10:00:00Z", "spec", "start")
				set(o, "2026-12-07T09:00:00Z", "spec", "end")
			},
			want: "start must be before end",
		},
		{
			name: "a freeze window of 8 days", kind: "Freeze",
			mutate: func(o map[string]any) { set(o, "192h", "spec", "windows", 0, "duration") },
			want:   "duration must be from 1m to 168h",
		},
		{
			name: "a freeze without a reason", kind: "Freeze",
			mutate: func(o map[string]any) { set(o, "", "spec", "reason") },
			want:   "spec.reason in body should be at least 1 chars long",
		},
		{
			name: "maxFailures without a progressDeadline", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, int64(1), "spec", "steps", 0, "maxFailures") },
			want:   "maxFailures needs a progressDeadline",
		},
		{
			name: "progressDeadline under 10s", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "5s", "spec", "steps", 0, "progressDeadline") },
			want:   "progressDeadline must be from 10s to 24h",
		},
		{
			name: "baseline window under 10s", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"baseline": baselineGate(map[string]any{"window": "5s"})}, "spec", "steps", 0, "gates", 1)
			},
			want: "window must be from 10s to 1h",
		},
		{
			name: "rollbackWindow with strategy InPlace", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "1h", "spec", "rollbackWindow") },
			want:   "rollbackWindow applies only to the Replace strategy",
		},
		{
			name: `maxParallel "0"`, kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "0", "spec", "steps", 0, "maxParallel") },
			want:   "must be at least 1, or a percentage from 1% to 100%",
		},
		{
			name: "maxParallel 0", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, int64(0), "spec", "steps", 0, "maxParallel") },
			want:   "must be at least 1, or a percentage from 1% to 100%",
		},
		{
			name: `maxParallel "150%"`, kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "150%", "spec", "steps", 1, "maxParallel") },
			want:   "must be at least 1, or a percentage from 1% to 100%",
		},
		{
			name: "order LabelValue without orderLabel", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "LabelValue", "spec", "steps", 1, "order") },
			want:   "order LabelValue needs orderLabel",
		},
		{
			name: "orderValues without order LabelValue", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, []any{"eu", "us"}, "spec", "steps", 1, "orderValues") },
			want:   "orderLabel and orderValues apply only to order LabelValue",
		},
		{
			name: "prometheus gate with an unknown comparison", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, []any{map[string]any{"prometheus": map[string]any{"query": "up", "comparison": "==", "threshold": "1"}}}, "spec", "steps", 1, "gates")
			},
			want: `spec.steps[1].gates[0].prometheus.comparison: Unsupported value: "=="`,
		},
		{
			name: "httpCheck with a URL that is not http", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, []any{map[string]any{"httpCheck": map[string]any{"url": "ftp://{{ .Host }}/"}}}, "spec", "steps", 1, "gates")
			},
			want: "spec.steps[1].gates[0].httpCheck.url: Invalid value",
		},
		{
			name: "step weight above 255", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, int64(300), "spec", "steps", 0, "weight") },
			want:   "spec.steps[0].weight: Invalid value",
		},
		{
			name: "httpCheck interval under 100ms", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "50ms", "spec", "steps", 0, "gates", 0, "httpCheck", "interval") },
			want:   "interval must be from 100ms to 10m",
		},
		{
			name: "httpCheck interval over 10m", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "1h", "spec", "steps", 0, "gates", 0, "httpCheck", "interval") },
			want:   "interval must be from 100ms to 10m",
		},
		{
			name: "httpCheck timeout 0s", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "0s", "spec", "steps", 0, "gates", 0, "httpCheck", "timeout") },
			want:   "timeout must be from 1s to 60s",
		},
		{
			name: "httpCheck timeout over 60s", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "61s", "spec", "steps", 0, "gates", 0, "httpCheck", "timeout") },
			want:   "timeout must be from 1s to 60s",
		},
		{
			name: "httpCheck timeout that is not a duration", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "soon", "spec", "steps", 0, "gates", 0, "httpCheck", "timeout") },
			want:   "spec.steps[0].gates[0].httpCheck.timeout",
		},
		{
			name: "negative prometheus window", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "-1m", "spec", "steps", 0, "gates", 1, "prometheus", "window") },
			want:   "window must be from 1s to 1h",
		},
		{
			name: "prometheus window over 1h", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "2h", "spec", "steps", 0, "gates", 1, "prometheus", "window") },
			want:   "window must be from 1s to 1h (a longer bake is a pause gate)",
		},
		{
			name: "prometheus interval under 500ms", kind: "RolloutPolicy",
			mutate: func(o map[string]any) { set(o, "100ms", "spec", "steps", 0, "gates", 1, "prometheus", "interval") },
			want:   "interval must be from 500ms to 10m",
		},
		{
			name: "Tenant gateNetworks entry that is not a CIDR", kind: "Tenant",
			mutate: func(o map[string]any) { set(o, []any{"10.0.0.0/8", "10.0.0.1"}, "spec", "gateNetworks") },
			want:   "each gateNetworks entry must be a CIDR",
		},
		{
			name: "Tenant gateNetworks entry with host bits", kind: "Tenant",
			mutate: func(o map[string]any) { set(o, []any{"10.1.2.3/8"}, "spec", "gateNetworks") },
			want:   "no bits set past its prefix length",
		},
		{
			name: "Tenant gateURLPrefixes entry without a path", kind: "Tenant",
			mutate: func(o map[string]any) { set(o, []any{"https://checks.shop.example.com"}, "spec", "gateURLPrefixes") },
			want:   "spec.gateURLPrefixes[0]",
		},
		{
			name: "ProdSet with minAvailable and maxUnavailable", kind: "ProdSet",
			mutate: func(o map[string]any) { set(o, "25%", "spec", "placement", "maxUnavailable") },
			want:   "set at most one of minAvailable and maxUnavailable",
		},
		{
			name: "ProdSet safety without a rule", kind: "ProdSet",
			mutate: func(o map[string]any) { set(o, map[string]any{}, "spec", "safety") },
			want:   "set at least one rule",
		},
		{
			name: "ProdSet safety maxSharePercent 0", kind: "ProdSet",
			mutate: func(o map[string]any) { set(o, int64(0), "spec", "safety", "maxSharePercent") },
			want:   "spec.safety.maxSharePercent",
		},
		{
			name: "ProdSet safety maxSharePercent 101", kind: "ProdSet",
			mutate: func(o map[string]any) { set(o, int64(101), "spec", "safety", "maxSharePercent") },
			want:   "should be less than or equal to 100",
		},
		{
			name: "ProdSet safety maxOut below 0", kind: "ProdSet",
			mutate: func(o map[string]any) { set(o, int64(-1), "spec", "safety", "maxOut") },
			want:   "spec.safety.maxOut",
		},
		{
			name: "ProdSet safety topology minimum 0", kind: "ProdSet",
			mutate: func(o map[string]any) {
				set(o, []any{map[string]any{"topologyKey": "topology.kubernetes.io/region", "minServing": int64(0)}}, "spec", "safety", "minServingPerTopology")
			},
			want: "minServing",
		},
		{
			name: "ProdSet safety topology key that is no label key", kind: "ProdSet",
			mutate: func(o map[string]any) {
				set(o, []any{map[string]any{"topologyKey": "a b", "minServing": int64(1)}}, "spec", "safety", "minServingPerTopology")
			},
			want: "topologyKey",
		},
		{
			name: "ProdSet safety the same topology key twice", kind: "ProdSet",
			mutate: func(o map[string]any) {
				set(o, []any{
					map[string]any{"topologyKey": "region", "minServing": int64(1)},
					map[string]any{"topologyKey": "region", "minServing": int64(2)},
				}, "spec", "safety", "minServingPerTopology")
			},
			want: "Duplicate value",
		},
		{
			name: "ProdSet ttl 61", kind: "ProdSet",
			mutate: func(o map[string]any) { set(o, int64(61), "spec", "traffic", "ttl") },
			want:   "should be less than or equal to 60",
		},
		{
			name: "unknown field (strict field validation)", kind: "Prod",
			mutate:     func(o map[string]any) { set(o, "3", "spec", "replicas") },
			want:       `unknown field "spec.replicas"`,
			badRequest: true,
		},
	}
}

// acceptedCases are the edges of the rules above: they must not refuse what is valid.
func acceptedCases() []validationCase {
	return []validationCase{
		{
			name: "gate durations at their bounds", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, "100ms", "spec", "steps", 0, "gates", 0, "httpCheck", "interval")
				set(o, "1m0s", "spec", "steps", 0, "gates", 0, "httpCheck", "timeout")
				set(o, "1h", "spec", "steps", 0, "gates", 1, "prometheus", "window")
				set(o, "500ms", "spec", "steps", 0, "gates", 1, "prometheus", "interval")
			},
		},
		{
			name: "gate durations at their other bounds", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, "10m", "spec", "steps", 0, "gates", 0, "httpCheck", "interval")
				set(o, "1s", "spec", "steps", 0, "gates", 0, "httpCheck", "timeout")
				set(o, "1s", "spec", "steps", 0, "gates", 1, "prometheus", "window")
				set(o, "10m0s", "spec", "steps", 0, "gates", 1, "prometheus", "interval")
			},
		},
		{
			name: "baseline gate at its bounds", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				g := baselineGate(map[string]any{"confidence": "0.999", "minSamples": int64(5), "window": "10s", "interval": "500ms",
					"onInconclusive": "Retry", "retries": int64(10), "maxProds": int64(40)})
				m := g["metrics"].([]any)[0].(map[string]any)
				m["maxRatio"], m["maxDifference"], m["worseWhen"] = "1", "0", "Lower"
				set(o, map[string]any{"baseline": g}, "spec", "steps", 0, "gates", 1)
			},
		},
		{
			name: "a notifier of warnings only, suspended", kind: "Notifier",
			mutate: func(o map[string]any) {
				set(o, "Warning", "spec", "severity")
				set(o, true, "spec", "suspend")
				set(o, "Generic", "spec", "type")
			},
		},
		{
			name: "a one-off freeze of some sets", kind: "Freeze",
			mutate: func(o map[string]any) {
				set(o, "2026-12-07T09:00:00Z", "spec", "start")
				set(o, "2026-12-07T10:00:00Z", "spec", "end")
				set(o, []any{"shop", "cart"}, "spec", "prodSets")
				set(o, []any{}, "spec", "windows")
			},
		},
		{
			name: "a step using a cluster template", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"template": map[string]any{"name": "error-ratio", "cluster": true,
					"args": []any{map[string]any{"name": "service", "value": "checkout"}}}}, "spec", "steps", 0, "gates", 1)
			},
		},
		{
			name: "bake and deadline at their bounds", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, "1s", "spec", "steps", 0, "minHealthyTime")
				set(o, "10s", "spec", "steps", 0, "progressDeadline")
				set(o, "24h", "spec", "steps", 1, "minHealthyTime")
				set(o, "24h", "spec", "steps", 1, "progressDeadline")
				set(o, int64(1000), "spec", "steps", 1, "maxFailures")
			},
		},
		{
			name: "baseline gate at its other bounds", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"baseline": baselineGate(map[string]any{"confidence": "0.5", "minSamples": int64(10000), "window": "1h",
					"interval": "5m", "onInconclusive": "Pause", "maxProds": int64(1)})}, "spec", "steps", 0, "gates", 1)
			},
		},
		{
			name: "Tenant gate networks and prefixes", kind: "Tenant",
			mutate: func(o map[string]any) {
				set(o, []any{"10.20.0.0/16", "127.0.0.0/8", "169.254.169.254/32", "fd00:1::/64", "::1/128", "0.0.0.0/0"}, "spec", "gateNetworks")
				set(o, []any{"https://checks.shop.example.com/", "http://prometheus.monitoring:9090/"}, "spec", "gateURLPrefixes")
			},
		},
		{
			name: "selector keys with a DNS prefix of 253 characters", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				sel := selector(strings.Repeat("a", 253)+"/zone", "Exists")
				sel["matchLabels"] = map[string]any{strings.Repeat("b", 253) + "/pool": "shop"}
				set(o, sel, "spec", "steps", 0, "selector")
			},
		},
		{
			name: "Prod weight 0", kind: "Prod",
			mutate: func(o map[string]any) { set(o, int64(0), "spec", "traffic", "weight") },
		},
		{
			name: "Prod weight 255", kind: "Prod",
			mutate: func(o map[string]any) { set(o, int64(255), "spec", "traffic", "weight") },
		},
		{
			name: "manifest naming the target namespace", kind: "Prod",
			mutate: func(o map[string]any) { set(o, "shop", "spec", "manifests", 0, "metadata", "namespace") },
		},
		{
			name: "manifest with an empty metadata.namespace", kind: "Prod",
			mutate: func(o map[string]any) { set(o, "", "spec", "manifests", 0, "metadata", "namespace") },
		},
		{
			name: "ProdSet template manifest naming the target namespace", kind: "ProdSet",
			mutate: func(o map[string]any) {
				set(o, "shop", "spec", "template", "spec", "manifests", 2, "metadata", "namespace")
			},
		},
		{
			name: "loadBalancerID without serviceRef", kind: "Prod",
			mutate: func(o map[string]any) {
				del(o, "spec", "traffic", "serviceRef")
				set(o, "0b3c5a0e-7f4e-4b7a-9d59-1f0b2d6a1c11", "spec", "traffic", "loadBalancerID")
			},
		},
		{
			name: "Replace with a rollbackWindow", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, "Replace", "spec", "strategy")
				set(o, "1h", "spec", "rollbackWindow")
			},
		},
		{
			name: `maxParallel "100%", 1 and 3`, kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				steps := get(o, "spec", "steps").([]any)
				third := map[string]any{"name": "last", "maxParallel": int64(3)}
				set(o, append(steps, third), "spec", "steps")
				set(o, "100%", "spec", "steps", 1, "maxParallel")
				set(o, int64(1), "spec", "steps", 0, "maxParallel")
			},
		},
		{
			name: "selectors with In, NotIn, Exists and DoesNotExist", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				sel := map[string]any{
					"matchLabels": map[string]any{"drover.dev/canary": "true", "tier": ""},
					"matchExpressions": []any{
						map[string]any{"key": "topology.drover.dev/region", "operator": "In", "values": []any{"eu", "us"}},
						map[string]any{"key": "provider", "operator": "NotIn", "values": []any{"aws"}},
						map[string]any{"key": "drover.dev/canary", "operator": "Exists"},
						map[string]any{"key": "frozen", "operator": "DoesNotExist"},
					},
				}
				set(o, sel, "spec", "steps", 0, "selector")
			},
		},
		{
			name: "pause and approval gates", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, []any{
					map[string]any{"pause": map[string]any{"duration": "5m"}},
					map[string]any{"pause": map[string]any{"untilApproved": true}},
					map[string]any{"approval": map[string]any{"message": "check the dashboards"}},
				}, "spec", "steps", 1, "gates")
			},
		},
		{
			name: "order LabelValue with orderLabel", kind: "RolloutPolicy",
			mutate: func(o map[string]any) {
				set(o, "LabelValue", "spec", "steps", 1, "order")
				set(o, "topology.drover.dev/region", "spec", "steps", 1, "orderLabel")
				set(o, []any{"eu", "us"}, "spec", "steps", 1, "orderValues")
			},
		},
		{
			name: "ProdSet with maxUnavailable only", kind: "ProdSet",
			mutate: func(o map[string]any) {
				del(o, "spec", "placement", "minAvailable")
				set(o, "25%", "spec", "placement", "maxUnavailable")
			},
		},
		{
			name: "ProdSet with every safety rule", kind: "ProdSet",
			mutate: func(o map[string]any) {
				set(o, map[string]any{"maxSharePercent": int64(40), "maxOut": int64(0), "minServingPerTopology": []any{
					map[string]any{"topologyKey": "topology.kubernetes.io/region", "minServing": int64(1)},
					map[string]any{"topologyKey": "zone", "minServing": int64(2)},
				}}, "spec", "safety")
			},
		},
		{
			name: "ProdSet ttl 60", kind: "ProdSet",
			mutate: func(o map[string]any) { set(o, int64(60), "spec", "traffic", "ttl") },
		},
	}
}

// startAPIServer starts kube-apiserver and etcd with drover's CRDs installed and returns
// a client of it.
func startAPIServer(t *testing.T) client.Client {
	t.Helper()
	binDir, err := testbed.ResolveBinaryDir(t.Context(), "", os.Stderr)
	if err != nil {
		t.Fatalf("finding kube-apiserver: %v", err)
	}
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: binDir,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start leaves etcd and kube-apiserver running when installing the CRDs fails.
		_ = env.Stop()
		t.Fatalf("starting kube-apiserver from %s with the CRDs of config/crd/bases: %v", binDir, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping kube-apiserver: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// loadSamples reads config/samples, one object a file, keyed by kind, and checks that
// its kustomization lists every one of them.
func loadSamples(t *testing.T) map[string]*unstructured.Unstructured {
	t.Helper()
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "config", "samples")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kustomization struct {
		Resources []string `json:"resources"`
	}
	samples := map[string]*unstructured.Unstructured{}
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(f) == "kustomization.yaml" {
			if err := yaml.Unmarshal(data, &kustomization); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			continue
		}
		names = append(names, filepath.Base(f))
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, dup := samples[obj.GetKind()]; dup {
			t.Fatalf("%s: a second %s sample; the test expects one of each kind", f, obj.GetKind())
		}
		samples[obj.GetKind()] = obj
	}
	slices.Sort(names)
	slices.Sort(kustomization.Resources)
	if !slices.Equal(names, kustomization.Resources) {
		t.Errorf("config/samples/kustomization.yaml lists %v; the directory holds %v", kustomization.Resources, names)
	}
	for _, kind := range []string{"ClusterAnalysisTemplate", "ClusterMaintenance", "Freeze", "Prod", "ProdSet", "RolloutPolicy", "Tenant"} {
		if samples[kind] == nil {
			t.Fatalf("config/samples has no %s", kind)
		}
	}
	return samples
}

// variant returns a copy of the sample of kind, renamed so it cannot collide with the
// sample or another case, and changed by mutate.
func variant(t *testing.T, samples map[string]*unstructured.Unstructured, kind string, i int, mutate func(map[string]any)) *unstructured.Unstructured {
	t.Helper()
	base, ok := samples[kind]
	if !ok {
		t.Fatalf("no %s sample", kind)
	}
	obj := base.DeepCopy()
	obj.SetName(fmt.Sprintf("case-%d", i))
	mutate(obj.Object)
	return obj
}

func selector(key, operator string, values ...string) map[string]any {
	req := map[string]any{"key": key, "operator": operator}
	if len(values) > 0 {
		vs := make([]any, len(values))
		for i, v := range values {
			vs[i] = v
		}
		req["values"] = vs
	}
	return map[string]any{"matchExpressions": []any{req}}
}

// get returns the value at path (map keys and list indexes) in obj; it panics on a
// path the sample does not have, which is a mistake in the test.
func get(obj any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			obj = obj.(map[string]any)[k]
		case int:
			obj = obj.([]any)[k]
		}
	}
	return obj
}

// set sets the value at path, creating missing maps on the way.
func set(obj map[string]any, value any, path ...any) {
	parent := any(obj)
	for _, p := range path[:len(path)-1] {
		next := get(parent, p)
		if next == nil {
			next = map[string]any{}
			setChild(parent, p, next)
		}
		parent = next
	}
	setChild(parent, path[len(path)-1], value)
}

// del removes the map key at path.
func del(obj map[string]any, path ...any) {
	parent := get(obj, path[:len(path)-1]...).(map[string]any)
	delete(parent, path[len(path)-1].(string))
}

func setChild(parent, key, value any) {
	switch k := key.(type) {
	case string:
		parent.(map[string]any)[k] = value
	case int:
		parent.([]any)[k] = value
	}
}

// TestTenantValidation checks the Tenant of config/examples/tenant is accepted as
// written, and what the Tenant's schema refuses.
func TestTenantValidation(t *testing.T) {
	c := startAPIServer(t)
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "examples", "tenant", "control_plane.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tenant *unstructured.Unstructured
	for _, doc := range strings.Split(string(data), "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(t.Context(), obj, client.FieldValidation("Strict")); err != nil {
			t.Fatalf("%s %s of the example refused: %v", obj.GetKind(), obj.GetName(), err)
		}
		if obj.GetKind() == "Tenant" {
			tenant = obj
		}
	}
	if tenant == nil {
		t.Fatal("the example holds no Tenant")
	}
	for _, tc := range []struct {
		name   string
		mutate func(o map[string]any)
		want   string
	}{
		{"Namespace among the cluster-scoped kinds", func(o map[string]any) {
			set(o, []any{map[string]any{"kind": "Namespace"}}, "spec", "kinds", "clusterScopedAllowed")
		}, "Namespace cannot be allowed"},
		{"every core kind among the cluster-scoped kinds", func(o map[string]any) {
			set(o, []any{map[string]any{"kind": "*"}}, "spec", "kinds", "clusterScopedAllowed")
		}, "Namespace cannot be allowed"},
		{"a pattern with a star inside", func(o map[string]any) {
			set(o, []any{"sh*p"}, "spec", "targetNamespaces")
		}, "spec.targetNamespaces[0]"},
		{"a name too long for the label", func(o map[string]any) {
			set(o, strings.Repeat("t", 64), "metadata", "name")
		}, "at most 63 characters"},
		{"a ServiceAccount without a name", func(o map[string]any) {
			del(o, "spec", "serviceAccount", "name")
		}, "spec.serviceAccount.name: Required value"},
		// A group that names no group matches no object: such a rule would silently
		// allow or deny nothing.
		{"the core group written core", func(o map[string]any) {
			set(o, []any{map[string]any{"group": "core", "kind": "Secret"}}, "spec", "kinds", "namespacedDenied")
		}, `spec.kinds.namespacedDenied[0].group: Invalid value: "core": the core group (apiVersion v1: ConfigMap, Service, Secret, ...) is the empty group: write group: "" or leave group out`},
		{"the core group written v1", func(o map[string]any) {
			set(o, []any{map[string]any{"group": "v1", "kind": "PersistentVolume"}}, "spec", "kinds", "clusterScopedAllowed")
		}, `spec.kinds.clusterScopedAllowed[0].group: Invalid value: "v1": the core group`},
		{"a version as the group", func(o map[string]any) {
			set(o, []any{map[string]any{"group": "v1beta1", "kind": "ConfigMap"}}, "spec", "kinds", "namespacedAllowed")
		}, "not core or a version such as v1"},
		{"a group with its version", func(o map[string]any) {
			set(o, []any{map[string]any{"group": "apps/v1", "kind": "Deployment"}}, "spec", "kinds", "namespacedAllowed")
		}, `spec.kinds.namespacedAllowed[0].group: Invalid value: "apps/v1": a group has no version and no "/": write the part of the apiVersion before the "/" (apps for apps/v1)`},
		{"a group with a slash", func(o map[string]any) {
			set(o, []any{map[string]any{"group": "/", "kind": "ConfigMap"}}, "spec", "kinds", "namespacedDenied")
		}, `a group has no version and no "/"`},
		{"a group in capitals", func(o map[string]any) {
			set(o, []any{map[string]any{"group": "Apps", "kind": "Deployment"}}, "spec", "kinds", "namespacedDenied")
		}, "a group is a lowercase DNS name such as apps or rbac.authorization.k8s.io, or empty for the core group"},
		{"every group", func(o map[string]any) {
			set(o, []any{map[string]any{"group": "*", "kind": "*"}}, "spec", "kinds", "namespacedDenied")
		}, "a group is a lowercase DNS name"},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			obj := tenant.DeepCopy()
			obj.SetResourceVersion("")
			obj.SetName("variant")
			tc.mutate(obj.Object)
			err := c.Create(t.Context(), obj, client.DryRunAll, client.FieldValidation("Strict"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal with %q", err, tc.want)
			}
			t.Logf("refused: %v", err)
		})
	}
	t.Run("accepted/groups", func(t *testing.T) {
		obj := tenant.DeepCopy()
		obj.SetResourceVersion("")
		obj.SetName("groups")
		kinds := func(groups ...string) []any {
			var out []any
			for _, g := range groups {
				out = append(out, map[string]any{"group": g, "kind": "*"})
			}
			return out
		}
		set(obj.Object, kinds("", "apps", "batch", "rbac.authorization.k8s.io", "example.com", "v1.example.com", "core.example.com", "v1-legacy"),
			"spec", "kinds", "namespacedAllowed")
		set(obj.Object, []any{map[string]any{"kind": "ConfigMap"}}, "spec", "kinds", "namespacedDenied")
		// The core group left out, as the group of a cluster-scoped kind too.
		set(obj.Object, append(kinds("storage.k8s.io", "example.com"), map[string]any{"kind": "PersistentVolume"}), "spec", "kinds", "clusterScopedAllowed")
		if err := c.Create(t.Context(), obj, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
			t.Fatalf("refused: %v", err)
		}
	})
}

// baselineGate is a valid baseline gate of one metric, with extra fields set.
func baselineGate(extra map[string]any) map[string]any {
	g := map[string]any{"metrics": []any{map[string]any{"name": "errors", "query": `sum(rate(errors{prod="{{ .Prod }}"}[1m]))`}}}
	for k, v := range extra {
		g[k] = v
	}
	return g
}
