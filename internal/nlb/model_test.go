package nlb

import (
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func TestModelDigestIdentifiesTheModel(t *testing.T) {
	a := Model{OctaviaLoadBalancerID: "lb-1"}
	b := Model{OctaviaLoadBalancerID: "lb-2"}
	if a.Digest() != (Model{OctaviaLoadBalancerID: "lb-1"}).Digest() {
		t.Error("the same model gave two digests")
	}
	if a.Digest() == b.Digest() {
		t.Errorf("two models gave the same digest %s", a.Digest())
	}
	if d := a.Digest(); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(d) {
		t.Errorf("digest %q, want 16 hex digits", d)
	}
}

func TestKeepScheme(t *testing.T) {
	internal, public := types.LoadBalancerSchemeEnumInternal, types.LoadBalancerSchemeEnumInternetFacing
	observed := func(schemes ...types.LoadBalancerSchemeEnum) *Observed {
		o := &Observed{}
		for _, s := range schemes {
			o.LoadBalancers = append(o.LoadBalancers, ObservedLoadBalancer{Scheme: s})
		}
		return o
	}
	for _, tc := range []struct {
		name     string
		set      types.LoadBalancerSchemeEnum
		observed *Observed
		want     types.LoadBalancerSchemeEnum
	}{
		{name: "unset, nothing observed: the default", observed: observed(), want: ""},
		{name: "unset, nil observed", observed: nil, want: ""},
		{name: "unset, an internet-facing NLB exists: kept", observed: observed(public), want: public},
		{name: "unset, an internal NLB exists: kept", observed: observed(internal), want: internal},
		{name: "unset, an NLB of an unknown scheme first", observed: observed("bogus", public), want: public},
		{name: "set internal, an internet-facing NLB exists: replaced", set: internal, observed: observed(public), want: internal},
		{name: "set internet-facing, an internal NLB exists: replaced", set: public, observed: observed(internal), want: public},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := Network{VPCID: "vpc-1", Subnets: []string{"subnet-1"}, Scheme: tc.set}
			got := KeepScheme(n, tc.observed)
			if got.Scheme != tc.want || got.VPCID != "vpc-1" || len(got.Subnets) != 1 {
				t.Errorf("KeepScheme = %+v, want scheme %q and the rest unchanged", got, tc.want)
			}
			if (Options{Network: got}).scheme() == "" {
				t.Error("the scheme of the options is empty")
			}
		})
	}
	if s := (Options{}).scheme(); s != internal {
		t.Errorf("the default scheme is %q, want internal", s)
	}
}
