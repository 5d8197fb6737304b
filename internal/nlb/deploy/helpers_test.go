package deploy

import (
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/octavia"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/test/nlbtest"
)

var testOwner = nlb.Owner{Manager: "mgr-eu1", Namespace: "shop", Name: "shop-a", UID: "0b6f3c1e-8d4a-4f8e-9c55-3a1d2e7f9b10"}

// testOptions are an internet-facing mirror's (the scheme named, as --nlb-scheme does:
// unset, a new NLB is internal).
func testOptions() nlb.Options {
	return nlb.Options{Owner: testOwner, Network: nlb.Network{VPCID: "vpc-1", Subnets: []string{"subnet-b", "subnet-a"},
		Scheme: types.LoadBalancerSchemeEnumInternetFacing}}
}

// What the tests share with internal/nlb's: the Octavia load balancer they mirror, and an
// assertion.
var (
	member       = nlbtest.Member
	testSnapshot = nlbtest.Snapshot
	pool         = nlbtest.Pool
	containsAll  = nlbtest.ContainsAll
)

func mustDesired(t *testing.T, s *octavia.Snapshot, opts nlb.Options) nlb.Model {
	t.Helper()
	m, _, err := nlb.Desired(s, opts)
	if err != nil {
		t.Fatalf("Desired: %v", err)
	}
	return m
}

// withTags returns a copy of base with extra added.
func withTags(base, extra map[string]string) map[string]string {
	out := maps.Clone(base)
	maps.Copy(out, extra)
	return out
}

// indexOf is the index of the first call of op, or -1.
func indexOf(calls []string, op string) int { return slices.Index(calls, op) }

// lastIndexOf is the index of the last call of op, or -1.
func lastIndexOf(calls []string, op string) int {
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i] == op {
			return i
		}
	}
	return -1
}

// assertBefore fails unless every call of a comes before every call of b (both called).
func assertBefore(t *testing.T, calls []string, a, b string) {
	t.Helper()
	la, fb := lastIndexOf(calls, a), indexOf(calls, b)
	if la < 0 || fb < 0 {
		t.Errorf("want both %s and %s called; calls: %v", a, b, calls)
		return
	}
	if la > fb {
		t.Errorf("want every %s before any %s; calls: %v", a, b, calls)
	}
}
