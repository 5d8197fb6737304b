package maintenance

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// The controller is proven end to end by controllers/prodset's suite (it needs the
// ProdSet controller beside it); these are its small pure parts.

func TestBackInTraffic(t *testing.T) {
	w := func(v int32) *int32 { return ptr.To(v) }
	cases := []struct {
		name string
		p    droverv1.ProdSummary
		want bool
	}{
		{"still out for maintenance", droverv1.ProdSummary{Evicted: droverv1.EvictedClusterMaintenance, Weight: w(0)}, false},
		{"weight back, DNS not yet", droverv1.ProdSummary{Weight: w(100), PublishedWeight: w(0), Available: metav1.ConditionTrue}, false},
		{"weight back, change pending", droverv1.ProdSummary{Weight: w(100), PublishedWeight: w(0), PendingWeight: w(100), Available: metav1.ConditionTrue}, false},
		{"weight back in DNS", droverv1.ProdSummary{Weight: w(100), PublishedWeight: w(100), Available: metav1.ConditionTrue}, true},
		{"nothing published for the set", droverv1.ProdSummary{Weight: w(100), Available: metav1.ConditionTrue}, true},
		{"not available: DNS keeps 0 until it is", droverv1.ProdSummary{Weight: w(100), PublishedWeight: w(0), Available: metav1.ConditionFalse}, true},
		{"out for another reason", droverv1.ProdSummary{Evicted: droverv1.EvictedClusterUnreachable, Weight: w(0), PublishedWeight: w(0), Available: metav1.ConditionTrue}, true},
	}
	for _, tc := range cases {
		if got := backInTraffic(tc.p); got != tc.want {
			t.Errorf("%s: backInTraffic = %t, want %t", tc.name, got, tc.want)
		}
	}
}

func TestSetView(t *testing.T) {
	set := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop"}}
	set.Status.MinServing = 2
	set.Status.Conditions = []metav1.Condition{{Type: droverv1.ProdSetPlacedCondition, Status: metav1.ConditionFalse, Reason: droverv1.ProdSetUnplacedReason}}
	set.Status.Prods = []droverv1.ProdSummary{
		{Name: "a", Cluster: "eu-1", Weight: ptr.To[int32](100), Available: metav1.ConditionTrue},
		{Name: "b", Cluster: "eu-2", Weight: ptr.To[int32](0), Evicted: droverv1.EvictedClusterUnreachable, Available: metav1.ConditionTrue},
		{Name: "c", Cluster: "us-1", Weight: ptr.To[int32](100), Available: metav1.ConditionFalse, SurgeFor: "eu-1"},
	}
	v := setView(set, nil)
	if v.Name != "default/shop" || v.MinServing != 2 || v.Unplaced != 1 || len(v.Prods) != 3 {
		t.Fatalf("view = %+v", v)
	}
	if !v.Prods[0].Serving || v.Prods[1].Serving || v.Prods[2].Serving || v.Prods[2].SurgeFor != "eu-1" {
		t.Errorf("serving = %+v", v.Prods)
	}
}

func TestDrainState(t *testing.T) {
	w := func(v int32) *int32 { return ptr.To(v) }
	for _, tc := range []struct {
		p    droverv1.ProdSummary
		want string
	}{
		{droverv1.ProdSummary{Weight: w(100)}, "weight not 0 yet"},
		{droverv1.ProdSummary{Weight: w(0), PendingWeight: w(0)}, "weight 0 submitted, DNS not in sync"},
		{droverv1.ProdSummary{Weight: w(0), PublishedWeight: w(100)}, "weight 0 not published yet"},
		{droverv1.ProdSummary{Weight: w(0), PublishedWeight: w(0)}, "waiting one TTL"},
	} {
		if got := drainState(tc.p); got != tc.want {
			t.Errorf("drainState(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

// A command is acted on once per value, a value longer than status.observedCommand
// holds too: it is compared as it is kept, not read again at every reconcile.
func TestCommandActsOncePerValue(t *testing.T) {
	rec := events.NewFakeRecorder(10)
	r := &Reconciler{Recorder: rec, Now: time.Now}
	m := &droverv1.ClusterMaintenance{ObjectMeta: metav1.ObjectMeta{Name: "eu-1", Namespace: "fleet",
		Annotations: map[string]string{droverv1.MaintenanceCommandAnnotation: "restore@" + strings.Repeat("é", 200)}},
		Spec: droverv1.ClusterMaintenanceSpec{ClusterName: "eu-1"}}
	for range 3 {
		r.command(context.Background(), m)
	}
	if m.Status.RestoreTime == nil || len(m.Status.ObservedCommand) > 256 || !utf8.ValidString(m.Status.ObservedCommand) {
		t.Fatalf("restoreTime %v, observedCommand of %d bytes", m.Status.RestoreTime, len(m.Status.ObservedCommand))
	}
	if n := len(rec.Events); n != 1 {
		t.Errorf("%d events for one command, want 1 (RestoreRequested)", n)
	}
}
