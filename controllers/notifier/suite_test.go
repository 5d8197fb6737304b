package notifier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/notify"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/suite"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// The suite runs the manager's real wiring against a control plane only (no workload
// cluster): drover's own events, such as a ClusterMaintenance's ClusterNotFound, reach
// the Notifiers through the manager's event recorder, as in production.
var cp client.Client

const installationNamespace = "drover-system"

func TestMain(m *testing.M) {
	d := notify.New(installationNamespace, "test")
	d.MinBackoff, d.MaxBackoff = 50*time.Millisecond, 200*time.Millisecond
	os.Exit(suite.Run(m, testbed.Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
	}, setup.Options{ManagerNamespace: installationNamespace, Notifications: d, NotifierResyncInterval: 2 * time.Second},
		func(b *testbed.Testbed) {
			cp = b.ControlPlane.Client
			if err := cp.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: installationNamespace}}); err != nil {
				panic(fmt.Sprintf("creating the manager's namespace: %v", err))
			}
		}))
}

// receiver is a webhook on loopback recording the Generic bodies it is sent.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []notify.GenericBody
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var b notify.GenericBody
		if err := json.NewDecoder(req.Body).Decode(&b); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, b)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

// about returns the bodies about the object namespace/name.
func (r *receiver) about(namespace, name string) []notify.GenericBody {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []notify.GenericBody
	for _, b := range r.got {
		if b.Namespace == namespace && b.Name == name {
			out = append(out, b)
		}
	}
	return out
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// namespace creates a namespace; with loopback, under a Tenant whose gates (and so
// Notifiers) may reach loopback, where the test's receivers listen.
func namespace(t *testing.T, name string, loopback bool) {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if loopback {
		tenant := &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}}
		tenant.Spec.GateNetworks = []string{"127.0.0.0/8"}
		if err := cp.Create(ctx, tenant); err != nil {
			t.Fatal(err)
		}
		ns.Labels = map[string]string{droverv1.TenantLabel: name}
	}
	if err := cp.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
}

// notifier creates a Notifier of namespace/name posting to address (no Secret if "").
func notifier(t *testing.T, namespace, name, address string, mutate ...func(*droverv1.Notifier)) {
	t.Helper()
	ctx := context.Background()
	if address != "" {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, StringData: map[string]string{droverv1.NotifierAddressKey: address}}
		if err := cp.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	n := &droverv1.Notifier{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: droverv1.NotifierSpec{Type: droverv1.NotifierGeneric, SecretRef: droverv1.NotifierSecretReference{Name: name}}}
	for _, m := range mutate {
		m(n)
	}
	if err := cp.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// readyReason waits for the Notifier's Ready condition of its generation to have reason.
func readyReason(t *testing.T, namespace, name, reason string) *droverv1.Notifier {
	t.Helper()
	n := &droverv1.Notifier{}
	eventually(t, fmt.Sprintf("Notifier %s/%s Ready %s", namespace, name, reason), func() bool {
		if err := cp.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, n); err != nil {
			return false
		}
		c := meta.FindStatusCondition(n.Status.Conditions, droverv1.ReadyCondition)
		return c != nil && c.Reason == reason && n.Status.ObservedGeneration == n.Generation
	})
	return n
}
