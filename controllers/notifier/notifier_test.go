package notifier_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func maintenance(t *testing.T, namespace, name string) {
	t.Helper()
	m := &droverv1.ClusterMaintenance{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: droverv1.ClusterMaintenanceSpec{ClusterName: "no-such-cluster"}}
	if err := cp.Create(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// A real drover event (a ClusterMaintenance naming no Cluster: ClusterNotFound) reaches
// the Notifier of its namespace and the installation's, and never another namespace's.
func TestEventsReachTheirNamespaceOnly(t *testing.T) {
	namespace(t, "team-a", true)
	namespace(t, "team-b", true)
	a, b, platform := newReceiver(t), newReceiver(t), newReceiver(t)
	notifier(t, "team-a", "chat", a.URL)
	notifier(t, "team-b", "chat", b.URL)
	notifier(t, installationNamespace, "ops", platform.URL)
	readyReason(t, "team-a", "chat", droverv1.NotifierDeliveringReason)
	readyReason(t, "team-b", "chat", droverv1.NotifierDeliveringReason)
	readyReason(t, installationNamespace, "ops", droverv1.NotifierDeliveringReason)

	maintenance(t, "team-a", "upgrade")
	eventually(t, "team-a's Notifier to receive ClusterNotFound", func() bool { return len(a.about("team-a", "upgrade")) > 0 })
	got := a.about("team-a", "upgrade")[0]
	if got.Kind != "ClusterMaintenance" || got.Reason != "ClusterNotFound" || got.Type != "Warning" ||
		got.Controller != "drover-clustermaintenance" || got.APIVersion != "drover.dev/v1alpha1" || !strings.Contains(got.Message, "no-such-cluster") {
		t.Errorf("body %+v", got)
	}
	eventually(t, "the installation's Notifier to receive it too", func() bool { return len(platform.about("team-a", "upgrade")) > 0 })
	time.Sleep(500 * time.Millisecond) // long enough for a misrouted event to arrive
	if n := b.count(); n != 0 {
		t.Errorf("team-b's Notifier received %d events of team-a", n)
	}
}

// What the status says: a missing Secret, a bad address, an address the namespace's
// Tenant does not allow, a suspended Notifier, and a receiver that fails, then recovers.
func TestNotifierStatus(t *testing.T) {
	ctx := context.Background()
	namespace(t, "team-c", false) // no Tenant: public addresses only
	namespace(t, "team-d", true)

	notifier(t, "team-c", "loopback", "http://127.0.0.1:9/hook")
	n := readyReason(t, "team-c", "loopback", droverv1.NotifierNotPermittedReason)
	if c := meta.FindStatusCondition(n.Status.Conditions, droverv1.StalledCondition); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("NotPermitted is not Stalled: %+v", n.Status.Conditions)
	}
	if c := meta.FindStatusCondition(n.Status.Conditions, droverv1.ReadyCondition); strings.Contains(c.Message, "127.0.0.1") {
		t.Errorf("the message holds the address: %q", c.Message)
	}

	notifier(t, "team-d", "no-secret", "")
	readyReason(t, "team-d", "no-secret", droverv1.NotifierSecretNotFoundReason)
	notifier(t, "team-d", "ftp", "ftp://files.example/x")
	readyReason(t, "team-d", "ftp", droverv1.NotifierInvalidAddressReason)
	notifier(t, "team-d", "quiet", "https://example.invalid/", func(n *droverv1.Notifier) { n.Spec.Suspend = true })
	n = readyReason(t, "team-d", "quiet", droverv1.NotifierSuspendedReason)
	if c := meta.FindStatusCondition(n.Status.Conditions, droverv1.ReadyCondition); c.Status != metav1.ConditionTrue {
		t.Errorf("suspended: Ready %s", c.Status)
	}

	// A receiver that refuses (404, not retried) turns the Notifier DeliveryFailing, and
	// Ready again once an event is delivered.
	var fail atomic.Bool
	fail.Store(true)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("the receiver's own words"))
		}
	}))
	t.Cleanup(recv.Close)
	notifier(t, "team-d", "flaky", recv.URL)
	readyReason(t, "team-d", "flaky", droverv1.NotifierDeliveringReason)
	maintenance(t, "team-d", "first")
	n = readyReason(t, "team-d", "flaky", droverv1.NotifierDeliveryFailingReason)
	if n.Status.LastFailure == nil || n.Status.LastFailure.Reason != "HTTP 404 (after 1 attempts)" {
		t.Errorf("lastFailure %+v", n.Status.LastFailure)
	}
	if c := meta.FindStatusCondition(n.Status.Conditions, droverv1.ReconcilingCondition); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("DeliveryFailing is not Reconciling: %+v", n.Status.Conditions)
	}
	for _, c := range n.Status.Conditions {
		if strings.Contains(c.Message, "receiver's own words") {
			t.Errorf("condition %s holds the response body", c.Type)
		}
	}
	fail.Store(false)
	maintenance(t, "team-d", "second")
	n = readyReason(t, "team-d", "flaky", droverv1.NotifierDeliveringReason)
	if n.Status.LastFailure == nil {
		t.Error("lastFailure forgotten after the recovery")
	}

	// Deleting the Notifier stops it.
	if err := cp.Delete(ctx, n); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Notifier gone", func() bool {
		return cp.Get(ctx, client.ObjectKeyFromObject(n), &droverv1.Notifier{}) != nil
	})
}
