package safety

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SetBy names the field manager that set obj's override annotation, read from the API
// server (the manager's cache strips managed fields); "unknown" when the read fails or
// no manager owns the annotation. It is read only when an override lets a move
// through, which is rare, so the uncached read costs nothing that matters.
func SetBy(ctx context.Context, reader client.Reader, obj client.Object) string {
	if reader == nil {
		return "unknown"
	}
	fresh, ok := obj.DeepCopyObject().(client.Object)
	if !ok || reader.Get(ctx, client.ObjectKeyFromObject(obj), fresh) != nil {
		return "unknown"
	}
	if by := OverrideSetBy(fresh.GetManagedFields()); by != "" {
		return by
	}
	return "unknown"
}
