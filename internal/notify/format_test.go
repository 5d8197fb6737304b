package notify

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestWants(t *testing.T) {
	shop := types.NamespacedName{Namespace: "shop", Name: "chat"}
	platform := types.NamespacedName{Namespace: "drover-system", Name: "ops"}
	rolledBack := Event{Kind: "ProdSet", Namespace: "shop", Name: "web", Type: "Warning", Reason: "RolledBack"}
	started := Event{Kind: "ProdSet", Namespace: "shop", Name: "web", Type: "Normal", Reason: "RolloutStarted"}
	otherTeam := Event{Kind: "ProdSet", Namespace: "bank", Name: "web", Type: "Warning", Reason: "RolledBack"}
	drained := Event{Kind: "ClusterMaintenance", Name: "eu-1", Type: "Normal", Reason: "Drained"}
	cases := []struct {
		name string
		cfg  Config
		e    Event
		want bool
	}{
		{"a tenant's own namespace", Config{Key: shop}, rolledBack, true},
		{"another tenant's namespace", Config{Key: shop}, otherTeam, false},
		{"a cluster-scoped object, to a tenant", Config{Key: shop}, drained, false},
		{"another namespace, to the installation", Config{Key: platform, Installation: true}, otherTeam, true},
		{"a cluster-scoped object, to the installation", Config{Key: platform, Installation: true}, drained, true},
		{"warnings only: a warning", Config{Key: shop, WarningsOnly: true}, rolledBack, true},
		{"warnings only: a normal event", Config{Key: shop, WarningsOnly: true}, started, false},
		{"a listed reason", Config{Key: shop, Reasons: []string{"RolloutStarted", "RolledBack"}}, started, true},
		{"an unlisted reason", Config{Key: shop, Reasons: []string{"RolledBack"}}, started, false},
		{"a listed reason of another namespace", Config{Key: shop, Reasons: []string{"RolledBack"}}, otherTeam, false},
		{"a namespace named like the installation's, not it", Config{Key: types.NamespacedName{Namespace: "bank", Name: "x"}}, otherTeam, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.cfg.Wants(c.e); got != c.want {
				t.Errorf("Wants = %t, want %t", got, c.want)
			}
		})
	}
}

func TestGenericBody(t *testing.T) {
	at := time.Date(2026, 12, 7, 15, 0, 0, 0, time.FixedZone("x", 3600))
	b, err := Body(droverv1.NotifierGeneric, "prod-eu", Event{Kind: "ProdSet", Namespace: "shop", Name: "web", Type: "Warning",
		Reason: "RollbackRequested", Action: "Rollback", Note: "rollback requested by alice", Controller: "drover-prodset", Time: at}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"installation": "prod-eu", "apiVersion": "drover.dev/v1alpha1", "kind": "ProdSet", "namespace": "shop", "name": "web",
		"type": "Warning", "reason": "RollbackRequested", "action": "Rollback", "message": "rollback requested by alice",
		"time": "2026-12-07T14:00:00Z", "controller": "drover-prodset", "dropped": float64(2),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want exactly %v", got, want)
	}
	// A cluster-scoped object has no namespace, and nothing dropped says nothing.
	b, _ = Body(droverv1.NotifierGeneric, "x", Event{Kind: "ClusterMaintenance", Name: "eu-1"}, 0)
	if s := string(b); strings.Contains(s, `"namespace"`) || strings.Contains(s, `"dropped"`) {
		t.Errorf("body %s has a namespace or dropped", s)
	}
}

func TestSlackBody(t *testing.T) {
	hostile := Event{Kind: "ProdSet", Namespace: "shop", Name: "web", Type: "Warning", Reason: "RollbackRequested",
		Note: "<!channel> <https://evil.example|click> & " + strings.Repeat("é", 4000), Time: time.Unix(1700000000, 0)}
	b, err := Body(droverv1.NotifierSlack, "prod-eu", hostile, 3)
	if err != nil {
		t.Fatal(err)
	}
	var msg slackMessage
	if err := json.Unmarshal(b, &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg.Attachments) != 1 {
		t.Fatalf("%d attachments", len(msg.Attachments))
	}
	a := msg.Attachments[0]
	for _, s := range []string{msg.Text, a.Text, a.Title, a.Fallback} {
		if strings.ContainsAny(s, "<>") || strings.Contains(s, "& ") {
			t.Errorf("markup not escaped: %.80q", s)
		}
		if len(s) > maxSlackText {
			t.Errorf("%d bytes, more than %d", len(s), maxSlackText)
		}
	}
	if !strings.HasPrefix(msg.Text, "RollbackRequested: ProdSet shop/web: &lt;!channel&gt;") {
		t.Errorf("text %.80q", msg.Text)
	}
	if a.Color != slackWarning || a.TS != 1700000000 {
		t.Errorf("color %q ts %d", a.Color, a.TS)
	}
	b, _ = Body(droverv1.NotifierSlack, "x", Event{Kind: "ClusterMaintenance", Name: "eu-1", Type: "Normal", Reason: "Drained", Note: "drained"}, 3)
	_ = json.Unmarshal(b, &msg)
	if msg.Attachments[0].Color != slackNormal || !strings.Contains(msg.Text, "3 earlier events were not sent") ||
		!strings.HasPrefix(msg.Text, "Drained: ClusterMaintenance eu-1: drained") {
		t.Errorf("normal event: %+v", msg)
	}
}

func TestRetryAfter(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "3": 3 * time.Second, "-1": 0, "soon": 0, "0": 0} {
		if got := retryAfter(v); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
	if got := retryAfter(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)); got < 59*time.Minute {
		t.Errorf("a date an hour ahead: %v", got)
	}
}
