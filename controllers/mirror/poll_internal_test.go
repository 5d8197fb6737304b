package mirror

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// A Prod may ask to be read less often than the manager's interval, never more often.
func TestPollIntervalIsNeverShorterThanTheManagers(t *testing.T) {
	r := &Reconciler{PollInterval: 30 * time.Second}
	for _, tc := range []struct {
		name string
		asks *metav1.Duration
		want time.Duration
	}{
		{"unset", nil, 30 * time.Second},
		{"slower", &metav1.Duration{Duration: 2 * time.Minute}, 2 * time.Minute},
		{"faster", &metav1.Duration{Duration: time.Second}, 30 * time.Second},
		{"zero", &metav1.Duration{}, 30 * time.Second},
	} {
		p := &droverv1.Prod{Spec: droverv1.ProdSpec{ProdTemplateSpec: droverv1.ProdTemplateSpec{Traffic: droverv1.ProdTraffic{Mirror: &droverv1.NLBMirror{PollInterval: tc.asks}}}}}
		if got := r.pollInterval(p); got != tc.want {
			t.Errorf("%s: pollInterval = %s, want %s", tc.name, got, tc.want)
		}
	}
}
