package v1alpha1

import (
	"testing"

	"k8s.io/utils/ptr"
)

func TestDNSWeight(t *testing.T) {
	for _, tt := range []struct {
		sum  *ProdSummary
		want int32
	}{
		{nil, 0},
		{&ProdSummary{}, 0},
		{&ProdSummary{PublishedWeight: ptr.To[int32](100)}, 100},
		{&ProdSummary{PublishedWeight: ptr.To[int32](100), PendingWeight: ptr.To[int32](0)}, 0},
		{&ProdSummary{PendingWeight: ptr.To[int32](10)}, 10},
	} {
		if got := tt.sum.DNSWeight(); got != tt.want {
			t.Errorf("DNSWeight(%+v) = %d, want %d", tt.sum, got, tt.want)
		}
	}
}
