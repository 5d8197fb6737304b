// Package notify sends drover's events to webhooks (the Notifier kind): which Notifier
// receives which event (Config.Wants), the bodies posted (Generic, Slack), and a
// Dispatcher that keeps one bounded queue and one sending worker per Notifier.
//
// Every field of an event may be written by a tenant (an object's name, a command's
// reason in a note), and every receiver but an installation Notifier's is a tenant's:
// bodies escape what a chat tool would read as markup, what a receiver answers is never
// read past a few bytes nor repeated anywhere, and a webhook's URL (a credential) is
// never logged or written to a status.
package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/textcut"
)

// Event is one event drover recorded, as the manager's event recorder saw it.
type Event struct {
	// Kind, Namespace and Name are the object the event is about; Namespace is empty for
	// a cluster-scoped object.
	Kind, Namespace, Name string
	// Type is Normal or Warning.
	Type string
	// Reason, Action and Note are the event's.
	Reason, Action, Note string
	// Controller is the reporting controller, such as drover-prodset.
	Controller string
	// Time the event was recorded.
	Time time.Time
}

// Config is one Notifier as the Dispatcher serves it.
type Config struct {
	// Key is the Notifier's namespace and name.
	Key types.NamespacedName
	// Type of body posted.
	Type droverv1.NotifierType
	// URL of the webhook, from the Notifier's Secret.
	URL string
	// Reasons sent; empty: every reason.
	Reasons []string
	// WarningsOnly sends Warning events only.
	WarningsOnly bool
	// Installation: the Notifier is in the installation namespace, so it receives the
	// events of every namespace and of cluster-scoped objects, and its receiver is
	// trusted (not judged by a tenancy policy). The Dispatcher sets it.
	Installation bool
}

// Wants says whether the Notifier receives e: a tenant's Notifier only the events of
// objects in its own namespace, an installation Notifier every event; then by severity
// and reason.
func (c Config) Wants(e Event) bool {
	if !c.Installation && (e.Namespace == "" || e.Namespace != c.Key.Namespace) {
		return false
	}
	if c.WarningsOnly && e.Type != corev1.EventTypeWarning {
		return false
	}
	return len(c.Reasons) == 0 || slices.Contains(c.Reasons, e.Reason)
}

// GenericBody is the JSON a Generic Notifier posts, one event per request.
type GenericBody struct {
	// Installation names the drover installation (the manager's --owner), to tell
	// several apart at one receiver.
	Installation string `json:"installation"`
	// APIVersion, Kind, Namespace and Name are the object the event is about; Namespace
	// is empty for a cluster-scoped object.
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Type is Normal or Warning; Reason, Action and Message the event's.
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Action  string `json:"action,omitempty"`
	Message string `json:"message"`
	// Time the event was recorded, RFC 3339.
	Time time.Time `json:"time"`
	// Controller is the drover controller that recorded it.
	Controller string `json:"controller"`
	// Dropped is how many events before this one were dropped from the Notifier's full
	// queue (or given up on) since the last one delivered; absent when none.
	Dropped int `json:"dropped,omitempty"`
}

// maxSlackText bounds a Slack message's text (Slack cuts a section at 3000 characters).
const maxSlackText = 3000

// Body is what a Notifier of type t posts for e; dropped is how many events before it
// were lost.
func Body(t droverv1.NotifierType, installation string, e Event, dropped int) ([]byte, error) {
	if t == droverv1.NotifierSlack {
		return slackBody(installation, e, dropped)
	}
	return json.Marshal(GenericBody{
		Installation: installation, APIVersion: droverv1.GroupVersion.String(),
		Kind: e.Kind, Namespace: e.Namespace, Name: e.Name,
		Type: e.Type, Reason: e.Reason, Action: e.Action, Message: e.Note,
		Time: e.Time.UTC(), Controller: e.Controller, Dropped: dropped,
	})
}

type slackMessage struct {
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Color    string       `json:"color"`
	Fallback string       `json:"fallback"`
	Title    string       `json:"title"`
	Text     string       `json:"text"`
	Fields   []slackField `json:"fields"`
	Footer   string       `json:"footer"`
	TS       int64        `json:"ts"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// Colours of a Slack attachment.
const (
	slackWarning = "danger"
	slackNormal  = "good"
)

func slackBody(installation string, e Event, dropped int) ([]byte, error) {
	object := e.Kind + " " + e.Name
	if e.Namespace != "" {
		object = e.Kind + " " + e.Namespace + "/" + e.Name
	}
	color := slackNormal
	if e.Type == corev1.EventTypeWarning {
		color = slackWarning
	}
	note := e.Note
	if dropped > 0 {
		note += fmt.Sprintf("\n(%d earlier events were not sent: the notifier's queue was full or the receiver failed)", dropped)
	}
	summary := fmt.Sprintf("%s: %s", e.Reason, object)
	msg := slackMessage{
		Text: textcut.Mark(escapeSlack(summary+": "+note), maxSlackText),
		Attachments: []slackAttachment{{
			Color:    color,
			Fallback: textcut.Mark(escapeSlack(summary), maxSlackText),
			Title:    textcut.Mark(escapeSlack(summary), 256),
			Text:     textcut.Mark(escapeSlack(note), maxSlackText),
			Fields: []slackField{
				{Title: "Type", Value: escapeSlack(e.Type), Short: true},
				{Title: "Controller", Value: escapeSlack(e.Controller), Short: true},
			},
			Footer: textcut.Mark(escapeSlack("drover "+installation), 256),
			TS:     e.Time.Unix(),
		}},
	}
	return json.Marshal(msg)
}

// escapeSlack escapes the three characters Slack reads as markup, so that no text of
// an event (a tenant's object name, a command's reason) mentions a channel
// ("<!channel>") or hides a link.
func escapeSlack(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
