package safety

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/audit"
)

// SetBy names the field manager that set obj's override annotation (audit.Who). It is
// read only when an override lets a move through, which is rare, so the uncached read
// costs nothing that matters.
func SetBy(ctx context.Context, reader client.Reader, obj client.Object) string {
	return audit.Who(ctx, reader, obj, "metadata", "annotations", droverv1.SafetyOverrideAnnotation)
}
