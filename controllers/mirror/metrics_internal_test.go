package mirror

import (
	"maps"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// TestSyncLag: the lag is the longest time since a mirror's last successful sync,
// counted from its first failing one; it goes back to 0 when every mirror is in sync, and
// a forgotten mirror (deleted Prod, mirror disabled) no longer counts.
func TestSyncLag(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tr := &tracker{now: func() time.Time { return now }}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(tr)
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}

	if fams, err := reg.Gather(); err != nil || len(fams) != 0 {
		t.Fatalf("no mirror synced yet: %d families (%v), want none", len(fams), err)
	}
	tr.record(a, droverv1.ProdMirrorInSyncReason)
	tr.record(b, droverv1.ProdMirrorOctaviaUnavailableReason)
	now = now.Add(30 * time.Second)
	tr.record(b, droverv1.ProdMirrorFailedReason) // still failing: counted from the first failure
	now = now.Add(15 * time.Second)
	expect(t, reg, 45, map[string]int{droverv1.ProdMirrorInSyncReason: 1, droverv1.ProdMirrorFailedReason: 1})

	tr.record(b, droverv1.ProdMirrorChangedReason)
	expect(t, reg, 0, map[string]int{droverv1.ProdMirrorInSyncReason: 1, droverv1.ProdMirrorChangedReason: 1})

	tr.record(a, droverv1.ProdMirrorBlockedReason)
	now = now.Add(time.Minute)
	expect(t, reg, 60, map[string]int{droverv1.ProdMirrorBlockedReason: 1, droverv1.ProdMirrorChangedReason: 1})
	tr.forget(a)
	expect(t, reg, 0, map[string]int{droverv1.ProdMirrorChangedReason: 1})
}

func expect(t *testing.T, reg *prometheus.Registry, lag float64, mirrors map[string]int) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	gotLag, gotMirrors := -1.0, map[string]int{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "drover_nlb_mirror_sync_lag_seconds":
				gotLag = m.GetGauge().GetValue()
			case "drover_nlb_mirrors":
				gotMirrors[m.GetLabel()[0].GetValue()] = int(m.GetGauge().GetValue())
			}
		}
	}
	if gotLag != lag || !maps.Equal(gotMirrors, mirrors) {
		t.Errorf("lag %v, mirrors %v; want %v, %v", gotLag, gotMirrors, lag, mirrors)
	}
}
