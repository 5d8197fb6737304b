package setup

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/notify"
	"github.com/drover-dev/drover/internal/tenancy"
)

func TestCutNote(t *testing.T) {
	cases := []struct {
		name string
		in   string
		cut  bool
	}{
		{name: "short", in: "gate failed"},
		{name: "exactly the limit", in: strings.Repeat("a", maxEventNote)},
		{name: "one over", in: strings.Repeat("a", maxEventNote+1), cut: true},
		{name: "a multi-byte rune across the limit", in: strings.Repeat("a", maxEventNote-4) + strings.Repeat("é", 10), cut: true},
		{name: "hundreds of Prods", in: "gate failed on " + strings.Repeat("shop500-r-1-23: 500 Internal Server Error; ", 100), cut: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := cutNote(c.in)
			if len(got) > maxEventNote || !utf8.ValidString(got) {
				t.Fatalf("%d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
			if c.cut != (got != c.in) || (c.cut && !strings.HasSuffix(got, "…")) {
				t.Fatalf("cut %v: %q", c.cut, got)
			}
			if c.cut && !strings.HasPrefix(c.in, strings.TrimSuffix(got, "…")) {
				t.Fatal("the note's start is not kept")
			}
		})
	}
}

// Every event a controller records is offered to the Notifiers too, with the regarding
// object's kind (from the scheme: typed objects carry no TypeMeta), namespace and name,
// the recording controller, and the note as cut for the API server.
func TestRecorderOffersEventsToNotifiers(t *testing.T) {
	got := make(chan notify.GenericBody, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		var b notify.GenericBody
		if err := json.NewDecoder(req.Body).Decode(&b); err == nil {
			got <- b
		}
	}))
	defer srv.Close()
	d := notify.New("drover-system", "test")
	defer func() { _ = d.Start(canceled()) }()
	if err := d.Configure(notify.Config{Key: types.NamespacedName{Namespace: "drover-system", Name: "ops"}, Type: droverv1.NotifierGeneric, URL: srv.URL}, tenancy.Policy{}); err != nil {
		t.Fatal(err)
	}
	fake := events.NewFakeRecorder(4)
	r := recorder{EventRecorder: fake, name: "drover-prodset", scheme: Scheme(), tap: d}
	set := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
	r.Eventf(set, nil, corev1.EventTypeWarning, "RollbackRequested", "Rollback", "rollback requested: %s", strings.Repeat("x", 2*maxEventNote))
	select {
	case b := <-got:
		if b.Kind != "ProdSet" || b.Namespace != "shop" || b.Name != "web" || b.Reason != "RollbackRequested" || b.Type != "Warning" ||
			b.Action != "Rollback" || b.Controller != "drover-prodset" || len(b.Message) != maxEventNote || !strings.HasPrefix(b.Message, "rollback requested: x") {
			t.Errorf("body %+v (message %d bytes)", b, len(b.Message))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the event was not offered to the Notifier")
	}
	if e := <-fake.Events; !strings.Contains(e, "RollbackRequested") {
		t.Errorf("the recorder got %q", e)
	}
	// Without a dispatcher the recorder records as before.
	recorder{EventRecorder: fake, name: "drover-prodset", scheme: Scheme()}.Eventf(set, nil, corev1.EventTypeNormal, "RolledBack", "Rollback", "rolled back")
	if e := <-fake.Events; !strings.Contains(e, "RolledBack") {
		t.Errorf("the recorder got %q", e)
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
