package nlb

import (
	"regexp"
	"testing"
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
