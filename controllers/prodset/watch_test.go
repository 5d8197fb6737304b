package prodset

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/event"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestProdChangedDropsOnlyTheEchoOfTheSetsStatus(t *testing.T) {
	base := &droverv1.Prod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", ResourceVersion: "1", Generation: 1},
		Status: droverv1.ProdStatus{
			PublishedWeight: ptr.To[int32](100),
			Conditions: []metav1.Condition{
				{Type: droverv1.ProdAvailableCondition, Status: metav1.ConditionTrue, Reason: "Available"},
				{Type: droverv1.ProdTrafficReadyCondition, Status: metav1.ConditionTrue, Reason: droverv1.ProdTrafficReadyReason},
			},
		},
	}
	base.Spec.Version = "v1"
	tests := []struct {
		name   string
		change func(p *droverv1.Prod)
		want   bool
	}{
		{"a write that changed nothing else", func(p *droverv1.Prod) { p.ResourceVersion = "2" }, false},
		{"published weight", func(p *droverv1.Prod) { p.Status.PublishedWeight = ptr.To[int32](0) }, false},
		{"TrafficReady", func(p *droverv1.Prod) {
			p.Status.Conditions[1].Status, p.Status.Conditions[1].Reason = metav1.ConditionFalse, droverv1.ProdTrafficPendingReason
		}, false},
		{"Available", func(p *droverv1.Prod) { p.Status.Conditions[0].Status = metav1.ConditionFalse }, true},
		{"spec", func(p *droverv1.Prod) { p.Spec.Version, p.Generation = "v2", 2 }, true},
		{"labels", func(p *droverv1.Prod) { p.Labels = map[string]string{droverv1.RevisionLabel: "r2"} }, true},
		{"deletion", func(p *droverv1.Prod) { p.DeletionTimestamp = &metav1.Time{} }, true},
		{"endpoint", func(p *droverv1.Prod) { p.Status.Endpoint = &droverv1.ProdEndpoint{} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := base.DeepCopy()
			tt.change(changed)
			seen := changed.DeepCopy()
			if got := prodChanged().Update(event.UpdateEvent{ObjectOld: base, ObjectNew: changed}); got != tt.want {
				t.Errorf("the set woken = %t, want %t", got, tt.want)
			}
			if !equality.Semantic.DeepEqual(changed, seen) {
				t.Errorf("the predicate changed the cached Prod: %+v, was %+v", changed, seen)
			}
		})
	}
}

func TestMaintenanceChangedDropsItsProgressReport(t *testing.T) {
	base := &droverv1.ClusterMaintenance{
		ObjectMeta: metav1.ObjectMeta{Name: "m", Namespace: "ns", ResourceVersion: "1", Generation: 1},
		Spec:       droverv1.ClusterMaintenanceSpec{ClusterName: "eu-1"},
	}
	tests := []struct {
		name   string
		change func(m *droverv1.ClusterMaintenance)
		want   bool
	}{
		{"its progress", func(m *droverv1.ClusterMaintenance) {
			m.ResourceVersion = "2"
			m.Status.Prods = []droverv1.MaintenanceProd{{Name: "p", ProdSet: "s", PublishedWeight: ptr.To[int32](0)}}
			m.Status.Phase = droverv1.MaintenancePhase("Draining")
		}, false},
		{"admitted", func(m *droverv1.ClusterMaintenance) { m.Status.AdmittedTime = &metav1.Time{} }, true},
		{"surge asked for", func(m *droverv1.ClusterMaintenance) { m.Spec.Surge, m.Generation = true, 2 }, true},
		{"deleted", func(m *droverv1.ClusterMaintenance) { m.DeletionTimestamp = &metav1.Time{} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := base.DeepCopy()
			tt.change(changed)
			if got := maintenanceChanged().Update(event.UpdateEvent{ObjectOld: base, ObjectNew: changed}); got != tt.want {
				t.Errorf("the sets woken = %t, want %t", got, tt.want)
			}
		})
	}
}
