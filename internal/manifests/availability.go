package manifests

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

var metav1Zero = metav1.Time{}

// Availability is the verdict on a set of applied objects.
type Availability struct {
	// Status is True when every object is current (Deployments rolled out and available,
	// Jobs complete, ...), False otherwise.
	Status metav1.ConditionStatus
	// Reason is one of the Prod Available reasons.
	Reason string
	// Message names the objects that are not there yet, most important first. While they
	// progress it stays the same until one of them is done: it does not follow their
	// steps.
	Message string
	// Pending is true while some object is still progressing and may become available.
	Pending bool
}

// maxListed bounds how many objects a condition message names.
const maxListed = 3

// Assess judges objects as returned by the workload API server, using kstatus, the
// readiness rules Flux and kpt use for Kubernetes' built-in kinds and for custom
// resources that follow the conditions convention.
func Assess(objs []*unstructured.Unstructured) Availability {
	var failed, progressing []string
	for _, o := range objs {
		res, err := status.Compute(o)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s %s: %v", o.GetKind(), o.GetName(), err))
			continue
		}
		switch res.Status {
		case status.CurrentStatus:
		case status.FailedStatus:
			failed = append(failed, fmt.Sprintf("%s %s: %s", o.GetKind(), o.GetName(), res.Message))
		default: // InProgress, Terminating, NotFound, Unknown
			// Named without kstatus' message: its step counts ("Replicas: 1/3") change on
			// every poll of a rollout, and each change would be a write of the Prod's
			// status. The objects' own status says how far they are.
			progressing = append(progressing, fmt.Sprintf("%s %s", o.GetKind(), o.GetName()))
		}
	}
	switch {
	case len(failed) > 0:
		return Availability{Status: metav1.ConditionFalse, Reason: droverv1.ProdUnavailableReason, Message: list("failed", failed)}
	case len(progressing) > 0:
		return Availability{Status: metav1.ConditionFalse, Reason: droverv1.ProdProgressingReason, Message: list("not ready yet", progressing), Pending: true}
	default:
		return Availability{Status: metav1.ConditionTrue, Reason: droverv1.ProdAvailableReason, Message: fmt.Sprintf("all %d objects are available", len(objs))}
	}
}

func list(what string, items []string) string {
	shown := items
	if len(shown) > maxListed {
		shown = shown[:maxListed]
	}
	msg := fmt.Sprintf("%d %s: %s", len(items), what, strings.Join(shown, "; "))
	if len(items) > maxListed {
		msg += fmt.Sprintf("; and %d more", len(items)-maxListed)
	}
	return msg
}
