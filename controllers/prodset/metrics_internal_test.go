package prodset

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// The rollout timestamps Grafana's annotations read: a started series for each set's
// current rollout, a finished one once it ended, labelled with the template's version
// only while it is the revision rolled out.
func TestRolloutTimestampMetrics(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := droverv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	started, finished := metav1.NewTime(time.Unix(1_800_000_000, 0)), metav1.NewTime(time.Unix(1_800_000_600, 0))
	set := func(name, rev, current string, ro *droverv1.RolloutStatus) *droverv1.ProdSet {
		s := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}}
		s.Spec.Template.Spec.Version = "v2"
		s.Status.CurrentRevision, s.Status.Rollout = current, ro
		return s
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		set("done", "r2", "r2", &droverv1.RolloutStatus{Revision: "r2", Phase: droverv1.RolloutRolledBack, StartedTime: &started, FinishedTime: &finished}),
		set("running", "r3", "r4", &droverv1.RolloutStatus{Revision: "r3", Phase: droverv1.RolloutProgressing, StartedTime: &started}),
		set("never", "", "r1", nil),
	).Build()
	ch := make(chan prometheus.Metric, 100)
	if err := collectSetMetrics(context.Background(), c, ch); err != nil {
		t.Fatal(err)
	}
	close(ch)
	var got []string
	for m := range ch {
		if !strings.Contains(m.Desc().String(), "timestamp_seconds") {
			continue
		}
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		line := strings.Split(m.Desc().String(), `"`)[1]
		for _, l := range pb.GetLabel() {
			line += " " + l.GetName() + "=" + l.GetValue()
		}
		got = append(got, line+" "+time.Unix(int64(pb.GetGauge().GetValue()), 0).UTC().Format(time.RFC3339))
	}
	want := []string{
		"drover_rollout_started_timestamp_seconds namespace=shop prodset=done revision=r2 version=v2 2027-01-15T08:00:00Z",
		"drover_rollout_finished_timestamp_seconds namespace=shop phase=RolledBack prodset=done revision=r2 version=v2 2027-01-15T08:10:00Z",
		"drover_rollout_started_timestamp_seconds namespace=shop prodset=running revision=r3 version= 2027-01-15T08:00:00Z",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
