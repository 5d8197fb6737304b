package maintenance

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/ready"
)

// updateStatus computes the two conditions the controller owns, Admitted and Drained,
// from what the reconcile learned. A condition whose inputs could not be read is Unknown.
func updateStatus(s *scope) {
	conditions.Set(s.m, admitted(s))
	conditions.Set(s.m, drained(s))
	msg := "drained: no traffic reaches the cluster's Prods"
	if s.m.Status.Phase == droverv1.MaintenanceRestored {
		msg = "restored: the cluster is back in traffic"
	}
	ready.Apply(&s.m.Status.Conditions, s.m.Generation, ready.ClusterMaintenance(s.m), msg)
}

func admitted(s *scope) metav1.Condition {
	m := s.m
	c := metav1.Condition{Type: droverv1.MaintenanceAdmittedCondition, Status: metav1.ConditionFalse}
	switch {
	case m.Admitted():
		c.Status, c.Reason = metav1.ConditionTrue, droverv1.MaintenanceAdmittedReason
		c.Message = fmt.Sprintf("drain started %s", m.Status.AdmittedTime.UTC().Format(time.RFC3339))
		if m.Status.Overridden != "" {
			c.Message += fmt.Sprintf(" under the %s annotation, past the serving minimums and safety rules: %s", droverv1.SafetyOverrideAnnotation, m.Status.Overridden)
		}
	case s.clusterMissing:
		c.Reason, c.Message = droverv1.MaintenanceClusterNotFoundReason, clusterNotFound(m)
	case s.admission != nil:
		c.Reason, c.Message = s.admission.Reason, s.admission.Message
	case s.unknown != nil:
		c.Status, c.Reason = metav1.ConditionUnknown, droverv1.MaintenanceUnknownReason
		c.Message = "cannot decide whether the drain may start: " + s.unknown.Error()
	case s.restoring:
		c.Reason, c.Message = droverv1.MaintenanceReleasedReason, "restored by command: the drain is over"
	default: // deleted before it was admitted
		c.Reason, c.Message = droverv1.MaintenanceNotAdmittedReason, "deleted before the drain was admitted"
	}
	return c
}

func drained(s *scope) metav1.Condition {
	m := s.m
	c := metav1.Condition{Type: droverv1.MaintenanceDrainedCondition, Status: metav1.ConditionFalse}
	switch {
	case s.unknown != nil:
		c.Status, c.Reason = metav1.ConditionUnknown, droverv1.MaintenanceUnknownReason
		c.Message = "cannot read how far the drain is: " + s.unknown.Error()
	case (s.deleting || s.restoring) && len(s.notBack) > 0:
		c.Reason, c.Message = droverv1.MaintenanceDrainingReason, "re-admitting the cluster's Prods: waiting for "+strings.Join(s.notBack, ", ")
	case s.keptOutBy != "":
		c.Reason = droverv1.MaintenanceReleasedReason
		c.Message = fmt.Sprintf("ended; ClusterMaintenance %s keeps cluster %s out of traffic", s.keptOutBy, m.Spec.ClusterName)
	case s.deleting:
		c.Reason, c.Message = droverv1.MaintenanceReleasedReason, fmt.Sprintf("deleted; cluster %s is back in traffic", m.Spec.ClusterName)
	case s.restoring:
		c.Reason, c.Message = droverv1.MaintenanceReleasedReason, fmt.Sprintf("restored; cluster %s is back in traffic", m.Spec.ClusterName)
	case s.clusterMissing:
		c.Reason, c.Message = droverv1.MaintenanceClusterNotFoundReason, clusterNotFound(m)
	case !m.Admitted():
		c.Reason, c.Message = droverv1.MaintenanceNotAdmittedReason, "the drain has not started: "+s.admission.Message
	case len(s.waiting) > 0:
		n := len(m.Status.Prods)
		c.Reason = droverv1.MaintenanceDrainingReason
		c.Message = fmt.Sprintf("%d of %d Prods drained; waiting for %s", n-len(s.waiting), n, strings.Join(s.waiting, ", "))
	default:
		c.Status, c.Reason = metav1.ConditionTrue, droverv1.MaintenanceDrainedReason
		c.Message = fmt.Sprintf("all %d Prods on cluster %s are out of traffic, DNS in sync for a TTL", len(m.Status.Prods), m.Spec.ClusterName)
	}
	return c
}
