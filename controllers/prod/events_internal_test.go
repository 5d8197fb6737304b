package prod

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

type recorded struct {
	regarding string
	eventType string
	reason    string
	note      string
}

type recorder struct{ events []recorded }

func (r *recorder) Eventf(regarding, _ runtime.Object, eventType, reason, _, note string, args ...any) {
	o := regarding.(client.Object)
	r.events = append(r.events, recorded{
		regarding: o.GetObjectKind().GroupVersionKind().Kind + " " + o.GetName(),
		eventType: eventType, reason: reason, note: fmt.Sprintf(note, args...),
	})
}

// A condition that exists and turns fires its event: the conditions before are copies,
// not pointers into the slice conditions.Set changes.
func TestTransitionsOfExistingConditionsFireTheirEvents(t *testing.T) {
	prod := &droverv1.Prod{TypeMeta: metav1.TypeMeta{Kind: "Prod"}, ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web", Generation: 1}}
	conditions.Set(prod, metav1.Condition{Type: droverv1.ProdClusterReachableCondition, Status: metav1.ConditionTrue, Reason: droverv1.ProdClusterReachableReason})
	conditions.Set(prod, metav1.Condition{Type: droverv1.ProdAvailableCondition, Status: metav1.ConditionFalse, Reason: "Progressing"})
	rec := &recorder{}
	r := &Reconciler{Recorder: rec}
	s := &scope{clusterKey: client.ObjectKey{Namespace: "fleet", Name: "eu-1"}}

	prev := before(prod)
	conditions.Set(prod, metav1.Condition{Type: droverv1.ProdAvailableCondition, Status: metav1.ConditionTrue, Reason: "Available", Message: "all available"})
	r.transitionEvents(prod, prev, s)
	prev = before(prod)
	conditions.Set(prod, metav1.Condition{Type: droverv1.ProdClusterReachableCondition, Status: metav1.ConditionFalse, Reason: droverv1.ProdClusterProbeFailingReason})
	r.transitionEvents(prod, prev, s)
	prev = before(prod)
	conditions.Set(prod, metav1.Condition{Type: droverv1.ProdClusterReachableCondition, Status: metav1.ConditionTrue, Reason: droverv1.ProdClusterReachableReason})
	conditions.Set(prod, metav1.Condition{Type: droverv1.ProdAvailableCondition, Status: metav1.ConditionFalse, Reason: droverv1.ProdUnavailableReason, Message: "down"})
	r.transitionEvents(prod, prev, s)
	prev = before(prod)
	r.transitionEvents(prod, prev, s) // nothing turned: nothing

	var reasons []string
	for _, e := range rec.events {
		reasons = append(reasons, e.reason)
	}
	want := []string{ReasonAvailable, ReasonClusterUnreachable, ReasonClusterReachable, ReasonUnavailable}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", reasons, want)
	}
}

// The routine events of the Prods of a ProdSet are recorded on the set, the same for
// each of its Prods (the recorder folds them into one series); a Prod of no set, and
// every warning, stay on the Prod.
func TestRoutineEventsOfASetsProdsAreTheSets(t *testing.T) {
	set := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web", UID: "uid-set"}}
	prodOf := func(name string, owned bool) *droverv1.Prod {
		p := &droverv1.Prod{TypeMeta: metav1.TypeMeta{Kind: "Prod"}, ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, Generation: 1}}
		if owned {
			p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(set, droverv1.GroupVersion.WithKind("ProdSet"))}
		}
		conditions.Set(p, metav1.Condition{Type: droverv1.ProdAvailableCondition, Status: metav1.ConditionFalse, Reason: "Progressing"})
		return p
	}
	rec := &recorder{}
	r := &Reconciler{Recorder: rec}
	s := &scope{clusterKey: client.ObjectKey{Namespace: "fleet", Name: "eu-1"}}
	for _, p := range []*droverv1.Prod{prodOf("web-eu-1", true), prodOf("web-eu-2", true), prodOf("alone", false), prodOf("web-eu-3", true)} {
		prev := before(p)
		status, reason := metav1.ConditionTrue, "Available"
		if p.Name == "web-eu-3" {
			status, reason = metav1.ConditionFalse, droverv1.ProdUnavailableReason
		}
		conditions.Set(p, metav1.Condition{Type: droverv1.ProdAvailableCondition, Status: status, Reason: reason, Message: p.Name + " changed"})
		r.transitionEvents(p, prev, s)
	}
	want := []recorded{
		{"ProdSet web", "Normal", ReasonAvailable, rec.events[0].note},
		{"ProdSet web", "Normal", ReasonAvailable, rec.events[0].note},
		{"Prod alone", "Normal", ReasonAvailable, "alone changed"},
		{"Prod web-eu-3", "Warning", ReasonUnavailable, "web-eu-3 changed"},
	}
	if fmt.Sprint(rec.events) != fmt.Sprint(want) {
		t.Errorf("events\n%v\nwant\n%v", rec.events, want)
	}
}
