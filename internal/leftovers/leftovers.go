// Package leftovers records what drover left behind when it let a Prod or ProdSet go
// without cleaning up (the drover.dev/release-finalizers annotation, for cloud resources
// or workload objects it could no longer reach), and lists those records for
// `kubectl drover leftovers`.
//
// A record is a ConfigMap labelled drover.dev/leftovers=true in the manager's namespace,
// one per released object and finalizer: app teams cannot write in that namespace, so a
// tenant cannot erase the record of what it had left behind, and it outlives the Warning
// event (events expire after an hour). The platform team deletes a record once it has
// cleaned up (docs/operations.md, "A deletion that hangs").
package leftovers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// The keys of a record's data.
const (
	keyKind      = "kind"
	keyNamespace = "namespace"
	keyName      = "name"
	keyUID       = "uid"
	keyFinalizer = "finalizer"
	keyReleased  = "releasedAt"
	keyReason    = "reason"
	keyLeft      = "left"
)

// Record is what one released object left behind.
type Record struct {
	// Kind, Namespace, Name and UID are the released object's ("Prod", "ProdSet").
	Kind, Namespace, Name, UID string
	// Finalizer is the finalizer drover removed without finishing its work.
	Finalizer string
	// Released is when.
	Released time.Time
	// Reason is why the work could not be finished (the last error).
	Reason string
	// Left is what may still exist, one item each ("NLB arn:aws:...", "target group
	// arn:aws:...", "Route53 record set ...").
	Left []string
}

// name is the ConfigMap of the record: one per object and finalizer.
func (r Record) name() string {
	fin := r.Finalizer
	if i := strings.LastIndex(fin, "/"); i >= 0 {
		fin = fin[i+1:]
	}
	return "leftover-" + strings.ToLower(r.Kind) + "-" + r.UID + "-" + fin
}

// Write stores r in namespace; writing the same object's and finalizer's record again
// replaces it.
func Write(ctx context.Context, c client.Client, namespace string, r Record) error {
	if namespace == "" {
		return fmt.Errorf("no namespace to record the leftovers of %s %s/%s in (the manager's --manager-namespace)", r.Kind, r.Namespace, r.Name)
	}
	cm := corev1ac.ConfigMap(r.name(), namespace).
		WithLabels(map[string]string{droverv1.LeftoversLabel: "true"}).
		WithData(map[string]string{
			keyKind: r.Kind, keyNamespace: r.Namespace, keyName: r.Name, keyUID: r.UID, keyFinalizer: r.Finalizer,
			keyReleased: r.Released.UTC().Format(time.RFC3339), keyReason: r.Reason, keyLeft: strings.Join(r.Left, "\n"),
		})
	// Server-side apply: no read first, so the manager needs no cache of ConfigMaps.
	if err := c.Apply(ctx, cm, client.FieldOwner(droverv1.FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("recording the leftovers of %s %s/%s: %w", r.Kind, r.Namespace, r.Name, err)
	}
	return nil
}

// List reads the records of namespace, oldest first.
func List(ctx context.Context, c client.Reader, namespace string) ([]Record, error) {
	list := &corev1.ConfigMapList{}
	if err := c.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{droverv1.LeftoversLabel: "true"}); err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(list.Items))
	for _, cm := range list.Items {
		d := cm.Data
		r := Record{Kind: d[keyKind], Namespace: d[keyNamespace], Name: d[keyName], UID: d[keyUID],
			Finalizer: d[keyFinalizer], Reason: d[keyReason]}
		r.Released, _ = time.Parse(time.RFC3339, d[keyReleased])
		if d[keyLeft] != "" {
			r.Left = strings.Split(d[keyLeft], "\n")
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Record) int {
		return cmp.Or(a.Released.Compare(b.Released), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Finalizer, b.Finalizer))
	})
	return out, nil
}

// maxNote is the longest message the events API accepts.
const maxNote = 1024

// EventMessage is the Warning event of a release that left r behind, without ... : what
// is left first, then why (cut), then where the record is; at most what the events API
// accepts (the record has it all).
func EventMessage(r Record, without, namespace string) string {
	head := fmt.Sprintf("%s: released without %s; left: %s", droverv1.ReleaseFinalizersAnnotation, without, strings.Join(r.Left, "; "))
	tail := fmt.Sprintf("; recorded in ConfigMap %s/%s (kubectl drover leftovers)", namespace, r.name())
	why := "; why: " + r.Reason
	if room := maxNote - len(head) - len(tail); len(why) > room {
		why = why[:max(room-3, 0)] + "..."
	}
	msg := head + why + tail
	if len(msg) > maxNote {
		msg = msg[:maxNote-3] + "..."
	}
	return msg
}
