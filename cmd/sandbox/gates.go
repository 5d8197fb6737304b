package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/drover-dev/drover/internal/test/checkserver"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// What the sample RolloutPolicy's gates need, in the sandbox. The sample checks each
// Prod at http://{{ .Host }}/healthz, its Octavia VIP, which nothing answers here (the
// no-op Octavia driver makes no load balancer), and asks a Prometheus the sandbox does
// not run. The sandbox's variant of the policy checks each Prod at an endpoint the
// sandbox serves on loopback instead (200, but 500 for badVersion), and asks a person in
// place of the error-rate query: an approval, which the walk gives with `kubectl drover
// rollout promote` once the step's checks passed (stories.go).

// badVersion is the version whose HTTP check the sandbox's endpoint fails.
const badVersion = "v3"

// sandboxCheck is how the sandbox's HTTP check gates try: quicker than the sample's
// 10 tries 3 s apart, so a walk through the stories takes minutes.
const (
	sandboxCheckTries    = 3
	sandboxCheckInterval = time.Second
)

// sandboxGateNetwork is the network of the sandbox's check endpoint (loopback), which
// the sandbox's variant of the sample Tenant lets its gates reach.
const sandboxGateNetwork = "127.0.0.0/8"

// sandboxTTL is the record TTL the sandbox gives the ProdSets: a Prod leaving traffic
// waits one TTL, and a walk moves Prods out of traffic a dozen times.
const sandboxTTL = 5

// startCheckServer starts the sandbox's HTTP check endpoint: GET
// /healthz?prod=P&version=V answers 200, or 500 for badVersion.
func startCheckServer() (*checkserver.Server, error) {
	s, err := checkserver.Start()
	if err != nil {
		return nil, err
	}
	s.Fail(badVersion)
	return s, nil
}

// sandboxVariants adapts the samples among objs to the sandbox, in place: each
// RolloutPolicy's HTTP checks go to checkURL (sandboxCheckTries tries, sandboxCheckInterval
// apart), each Prometheus gate becomes an approval, each ProdSet's records get the TTL
// sandboxTTL, and each Tenant's gateNetworks name loopback (sandboxGateNetwork). It returns a line per change, for the user.
func sandboxVariants(objs []*unstructured.Unstructured, checkURL, promURL string) ([]string, error) {
	var changes []string
	for _, o := range objs {
		key := client.ObjectKeyFromObject(o)
		switch o.GroupVersionKind() {
		case droverv1.GroupVersion.WithKind("ProdSet"):
			if recordNameOf(o) == "" {
				continue
			}
			ttl, found, _ := unstructured.NestedInt64(o.Object, "spec", "traffic", "ttl")
			if err := unstructured.SetNestedField(o.Object, int64(sandboxTTL), "spec", "traffic", "ttl"); err != nil {
				return nil, fmt.Errorf("ProdSet %s: %w", key, err)
			}
			from := "the default 30"
			if found {
				from = fmt.Sprint(ttl)
			}
			changes = append(changes, fmt.Sprintf("ProdSet %s: record TTL %ds (the sample says %s), so that Prods leave traffic quickly", key, sandboxTTL, from))
		case droverv1.GroupVersion.WithKind("Tenant"):
			// The check endpoint listens on loopback, which a Tenant's gates reach only
			// when its gateNetworks name it (docs/security.md, "Gates").
			nets, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "gateNetworks")
			if !slices.Contains(nets, sandboxGateNetwork) {
				if err := unstructured.SetNestedStringSlice(o.Object, append(nets, sandboxGateNetwork), "spec", "gateNetworks"); err != nil {
					return nil, fmt.Errorf("the Tenant %s: %w", o.GetName(), err)
				}
				changes = append(changes, fmt.Sprintf("Tenant %s: gateNetworks gains %s, where the sandbox's check endpoint listens", o.GetName(), sandboxGateNetwork))
			}
		case droverv1.GroupVersion.WithKind("RolloutPolicy"):
			policy := &droverv1.RolloutPolicy{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, policy); err != nil {
				return nil, fmt.Errorf("RolloutPolicy %s: %w", key, err)
			}
			for si := range policy.Spec.Steps {
				step := &policy.Spec.Steps[si]
				for gi := range step.Gates {
					g := &step.Gates[gi]
					where := fmt.Sprintf("RolloutPolicy %s: step %s, gate %d", key, step.Name, gi+1)
					switch {
					case g.HTTPCheck != nil:
						changes = append(changes, fmt.Sprintf("%s (httpCheck): %s (the sample says %s), %d tries %s apart", where, checkURL, g.HTTPCheck.URL, sandboxCheckTries, sandboxCheckInterval))
						g.HTTPCheck.URL = checkURL
						g.HTTPCheck.Tries = sandboxCheckTries
						g.HTTPCheck.Interval = &metav1.Duration{Duration: sandboxCheckInterval}
					case g.Prometheus != nil:
						changes = append(changes, fmt.Sprintf("%s: an approval in place of the Prometheus query at %s, which the sandbox does not run", where, g.Prometheus.Address))
						*g = droverv1.Gate{Approval: &droverv1.ApprovalGate{Message: "the error rate, which needs Prometheus"}}
					case g.Baseline != nil:
						changes = append(changes, fmt.Sprintf("%s (baseline): the sandbox's Prometheus at %s (the sample says %s), each metric's query %s{prod=\"{{ .Prod }}\"} (%s is three times worse), sampled every %s for %s",
							where, promURL, g.Baseline.Address, errorRatioMetric, worseVersion, sandboxBaselineInterval, sandboxBaselineWindow))
						g.Baseline.Address = promURL
						g.Baseline.Window = &metav1.Duration{Duration: sandboxBaselineWindow}
						g.Baseline.Interval = &metav1.Duration{Duration: sandboxBaselineInterval}
						for mi := range g.Baseline.Metrics {
							g.Baseline.Metrics[mi].Query = errorRatioMetric + `{prod="{{ .Prod }}"}`
						}
					}
				}
			}
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(policy)
			if err != nil {
				return nil, fmt.Errorf("RolloutPolicy %s: %w", key, err)
			}
			delete(u, "status")
			if md, ok := u["metadata"].(map[string]any); ok {
				delete(md, "creationTimestamp")
			}
			o.Object = u
		}
	}
	return changes, nil
}
