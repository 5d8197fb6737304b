package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// RolloutCommandAnnotation on a ProdSet asks its rollout to pause, resume, promote, abort
// or roll back. The value is the command, optionally followed by "@" and anything that
// makes it unique (kubectl drover adds a timestamp): drover acts on each distinct value
// once and records it in status.observedRolloutCommand, so the annotation may stay.
const RolloutCommandAnnotation = "drover.dev/rollout-command"

// RolloutPhase is where a rollout of a ProdSet is.
// +kubebuilder:validation:Enum=Progressing;Paused;Succeeded;RollingBack;RolledBack
type RolloutPhase string

const (
	// RolloutProgressing: Prods are moving to the new revision, or a gate is pending.
	RolloutProgressing RolloutPhase = "Progressing"
	// RolloutPaused: held by a person or by a failed gate under failurePolicy Pause.
	RolloutPaused RolloutPhase = "Paused"
	// RolloutSucceeded: every Prod runs the new revision.
	RolloutSucceeded RolloutPhase = "Succeeded"
	// RolloutRollingBack: traffic left the new revision; its Prods go back to the previous one.
	RolloutRollingBack RolloutPhase = "RollingBack"
	// RolloutRolledBack: every Prod is back on the previous revision.
	RolloutRolledBack RolloutPhase = "RolledBack"
)

// RolloutProdPhase is where one Prod is in a rollout.
// +kubebuilder:validation:Enum=Draining;Updating;Creating;Done;Reverting;Reverted
type RolloutProdPhase string

// RolloutStatus is the state of the current (or last) rollout of a ProdSet. It is the
// rollout engine's whole memory: a restarted manager resumes from it.
type RolloutStatus struct {
	// revision rolled out.
	Revision string `json:"revision"`
	// previousRevision is the revision it replaces; a rollback returns there.
	// +optional
	PreviousRevision string `json:"previousRevision,omitempty"`
	// policy is the RolloutPolicy the rollout follows.
	// +optional
	Policy string `json:"policy,omitempty"`
	// phase of the rollout.
	Phase RolloutPhase `json:"phase"`
	// step is the index of the current step; the number of steps once all passed.
	Step int32 `json:"step"`
	// stepName is the current step's name.
	// +optional
	StepName string `json:"stepName,omitempty"`
	// message says what the rollout waits for, or why it paused or rolled back.
	// +optional
	Message string `json:"message,omitempty"`
	// startedTime is when the rollout began.
	// +optional
	StartedTime *metav1.Time `json:"startedTime,omitempty"`
	// gatesStartedTime is when the current step's Prods were all back and its gates began.
	// +optional
	GatesStartedTime *metav1.Time `json:"gatesStartedTime,omitempty"`
	// stepStartedTime is when the current step began, or was last resumed: its
	// progressDeadline counts from then.
	// +optional
	StepStartedTime *metav1.Time `json:"stepStartedTime,omitempty"`
	// healthySinceTime is since when the current step's Prods have all been available,
	// once its gates began: its minHealthyTime counts from then.
	// +optional
	HealthySinceTime *metav1.Time `json:"healthySinceTime,omitempty"`
	// promoted is true once the current step was promoted: its gates pass when reached.
	// +optional
	Promoted bool `json:"promoted,omitempty"`
	// failedTime is when a gate failed or an abort or rollback was asked for. A Paused
	// rollout with a failedTime was paused by its failure (failurePolicy Pause, an
	// inconclusive verdict); resuming clears it.
	// +optional
	FailedTime *metav1.MicroTime `json:"failedTime,omitempty"`
	// rollbackSubmittedTime is when the traffic change of the rollback was submitted.
	// +optional
	RollbackSubmittedTime *metav1.MicroTime `json:"rollbackSubmittedTime,omitempty"`
	// rollbackLatency is the time from failedTime to rollbackSubmittedTime.
	// +optional
	RollbackLatency *metav1.Duration `json:"rollbackLatency,omitempty"`
	// finishedTime is when the rollout succeeded or finished rolling back.
	// +optional
	FinishedTime *metav1.Time `json:"finishedTime,omitempty"`
	// prods the rollout picked so far, with their step and phase, one entry per Prod
	// name; atomic, like the set's status.prods.
	// +optional
	// +listType=atomic
	Prods []RolloutProdStatus `json:"prods,omitempty"`
	// gates that passed or failed, in order.
	// +optional
	// +listType=atomic
	Gates []GateOutcome `json:"gates,omitempty"`
}

// RolloutProdStatus is one Prod's place in a rollout.
type RolloutProdStatus struct {
	// name of the Prod.
	Name string `json:"name"`
	// step (index) that picked it.
	Step int32 `json:"step"`
	// phase: Draining, Updating, Creating, Done, Reverting or Reverted.
	Phase RolloutProdPhase `json:"phase"`
	// replacement is the Prod made to replace it (Replace strategy).
	// +optional
	Replacement string `json:"replacement,omitempty"`
	// failed: it missed its step's progressDeadline and the step's maxFailures let the
	// step go on without it; it is Done once it gets there.
	// +optional
	Failed bool `json:"failed,omitempty"`
}

// GateOutcome is the verdict of one gate of a step.
type GateOutcome struct {
	// step index of the gate's step.
	Step int32 `json:"step"`
	// stepName of the gate's step.
	// +optional
	StepName string `json:"stepName,omitempty"`
	// gate index in the step.
	Gate int32 `json:"gate"`
	// type of the gate: pause, approval, httpCheck, prometheus or baseline.
	Type string `json:"type"`
	// passed or failed.
	Passed bool `json:"passed"`
	// inconclusive: the gate could not judge (a baseline gate's too few samples) and
	// its onInconclusive made that a failure or a pause.
	// +optional
	Inconclusive bool `json:"inconclusive,omitempty"`
	// message explains the verdict.
	// +optional
	Message string `json:"message,omitempty"`
	// time of the verdict.
	Time metav1.Time `json:"time"`
	// baseline is a baseline gate's judgement: the Prods compared and each metric's
	// numbers.
	// +optional
	Baseline *BaselineJudgement `json:"baseline,omitempty"`
}

// BaselineJudgement is what a baseline gate compared and found.
type BaselineJudgement struct {
	// canary Prods compared (the step's).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=40
	Canary []string `json:"canary,omitempty"`
	// baseline Prods compared (on the previous revision).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=40
	Baseline []string `json:"baseline,omitempty"`
	// attempts made; more than one under onInconclusive Retry.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// metrics judged, in the gate's order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	Metrics []MetricJudgement `json:"metrics,omitempty"`
}

// MetricJudgement is one metric's verdict in a baseline gate, with the numbers behind it.
// Numbers are decimal strings.
type MetricJudgement struct {
	// name of the metric.
	Name string `json:"name"`
	// verdict: Pass, Fail or Inconclusive.
	Verdict string `json:"verdict"`
	// canaryMean of the canary's usable samples.
	// +optional
	CanaryMean string `json:"canaryMean,omitempty"`
	// baselineMean of the baseline's usable samples.
	// +optional
	BaselineMean string `json:"baselineMean,omitempty"`
	// canarySamples usable.
	CanarySamples int32 `json:"canarySamples"`
	// baselineSamples usable.
	BaselineSamples int32 `json:"baselineSamples"`
	// unusable samples left out (NaN, infinite).
	// +optional
	Unusable int32 `json:"unusable,omitempty"`
	// pValue of the one-sided Mann-Whitney U test that the canary is no worse.
	// +optional
	PValue string `json:"pValue,omitempty"`
	// reason for the verdict.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// RolloutRecord is a finished rollout, kept in the ProdSet's history.
type RolloutRecord struct {
	// revision rolled out.
	Revision string `json:"revision"`
	// previousRevision it replaced.
	// +optional
	PreviousRevision string `json:"previousRevision,omitempty"`
	// phase it ended in: Succeeded, RolledBack, or Progressing/Paused when superseded.
	Phase RolloutPhase `json:"phase"`
	// superseded is true when a newer revision replaced it before it finished.
	// +optional
	Superseded bool `json:"superseded,omitempty"`
	// message of its last state.
	// +optional
	Message string `json:"message,omitempty"`
	// startedTime of the rollout.
	// +optional
	StartedTime *metav1.Time `json:"startedTime,omitempty"`
	// finishedTime of the rollout.
	// +optional
	FinishedTime *metav1.Time `json:"finishedTime,omitempty"`
	// rollbackLatency, for a rollout that rolled back.
	// +optional
	RollbackLatency *metav1.Duration `json:"rollbackLatency,omitempty"`
}
