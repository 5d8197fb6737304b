package prodset

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/plan"
)

// With a publisher that writes each Prod's paths (Route53's), a Prod without a routable
// endpoint is held at 0 by plan.Merge, for its own reason, until it has one; with one
// that writes none (Memory), the endpoint does not matter.
func TestWeightsHoldAProdWithoutAnEndpoint(t *testing.T) {
	set := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "ns"}}
	prod := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Name: "shop-a"}}
	conditions.Set(prod, metav1.Condition{Type: droverv1.ProdAvailableCondition, Status: metav1.ConditionTrue, Reason: "Available"})
	vip := &droverv1.ProdEndpoint{VIP: "10.0.0.1", OctaviaStatus: "ONLINE"}
	cases := []struct {
		name       string
		needsPaths bool
		endpoint   *droverv1.ProdEndpoint
		want       plan.Weight
	}{
		{"paths published, no endpoint", true, nil, plan.Weight{Spec: 100, Why: plan.WhyNoEndpoint}},
		{"paths published, an Octavia VIP", true, vip, plan.Weight{Spec: 100, Publish: 100, Why: plan.WhyPlanned}},
		{"no paths published, no endpoint", false, nil, plan.Weight{Spec: 100, Publish: 100, Why: plan.WhyPlanned}},
	}
	for _, tc := range cases {
		p := prod.DeepCopy()
		p.Status.Endpoint = tc.endpoint
		s := &scope{set: set, prods: []*droverv1.Prod{p}, summaries: map[string]*droverv1.ProdSummary{}, planned: true,
			needsPaths: tc.needsPaths, plan: plan.Result{Weights: map[string]int32{"shop-a": 100}, Evicted: map[string]string{}}}
		if got := s.weights().Prods["shop-a"]; got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
