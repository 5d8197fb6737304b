// Package audit says who changed a field of an object, as far as the API server's
// managed fields tell: the field manager, which is the name the client gave itself
// (kubectl, kubectl-drover, argocd-controller, ...). It is a hint for events and
// records, not proof: the API server's audit log says which user sent the request.
package audit

import (
	"context"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Unknown is who set a field when the managed fields do not say.
const Unknown = "unknown"

// SetBy names the field manager that last set the field at path (JSON field names, such
// as "metadata", "annotations", "drover.dev/safety-override") of an object's main
// resource, from its managed fields; "" when none owns it. Of several owners, the one
// with the latest time wins, and of those the last listed.
func SetBy(fields []metav1.ManagedFieldsEntry, path ...string) string {
	by, latest := "", metav1.Time{}
	for _, f := range fields {
		if f.Subresource != "" || f.FieldsV1 == nil || !owns(f.FieldsV1.GetRawBytes(), path) {
			continue
		}
		t := metav1.Time{}
		if f.Time != nil {
			t = *f.Time
		}
		if by == "" || !t.Before(&latest) {
			by, latest = f.Manager, t
		}
	}
	return by
}

// owns reports whether a FieldsV1 set holds path or something below it.
func owns(raw []byte, path []string) bool {
	var node map[string]json.RawMessage
	if json.Unmarshal(raw, &node) != nil {
		return false
	}
	for i, name := range path {
		next, ok := node["f:"+name]
		if !ok {
			return false
		}
		if i == len(path)-1 {
			return true
		}
		node = nil
		if json.Unmarshal(next, &node) != nil {
			return false
		}
	}
	return len(path) == 0
}

// Who reads obj from the API server (the manager's cache strips managed fields) and
// names the field manager that last set the field at path; Unknown when the read fails
// or no manager owns the field. It costs one uncached read: call it for a rare event (a
// command, a rollout's start, an override), never on every reconcile.
func Who(ctx context.Context, reader client.Reader, obj client.Object, path ...string) string {
	if reader == nil {
		return Unknown
	}
	fresh, ok := obj.DeepCopyObject().(client.Object)
	if !ok || reader.Get(ctx, client.ObjectKeyFromObject(obj), fresh) != nil {
		return Unknown
	}
	if by := SetBy(fresh.GetManagedFields(), path...); by != "" {
		return by
	}
	return Unknown
}
