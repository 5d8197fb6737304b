package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// RolloutStrategy is how a Prod moves to a new version.
// +kubebuilder:validation:Enum=InPlace;Replace
type RolloutStrategy string

const (
	// InPlaceStrategy drains a Prod's traffic, updates it, verifies it and re-admits it.
	InPlaceStrategy RolloutStrategy = "InPlace"
	// ReplaceStrategy creates new-version Prods beside the old ones, shifts weight to
	// them and keeps the old ones warm for the rollback window before retiring them.
	ReplaceStrategy RolloutStrategy = "Replace"
)

// FailurePolicy is what a rollout does when a gate fails.
// +kubebuilder:validation:Enum=Rollback;Pause
type FailurePolicy string

const (
	// RollbackFailurePolicy returns traffic to the previous version's Prods at once.
	RollbackFailurePolicy FailurePolicy = "Rollback"
	// PauseFailurePolicy holds the rollout where it is until a person decides.
	PauseFailurePolicy FailurePolicy = "Pause"
)

// ProdOrder orders the Prods a step may pick.
// +kubebuilder:validation:Enum=LeastTrafficFirst;MostTrafficFirst;Name;LabelValue
type ProdOrder string

const (
	LeastTrafficFirstOrder ProdOrder = "LeastTrafficFirst"
	MostTrafficFirstOrder  ProdOrder = "MostTrafficFirst"
	NameOrder              ProdOrder = "Name"
	LabelValueOrder        ProdOrder = "LabelValue"
)

// RolloutPolicySpec is an ordered list of steps a new version of a ProdSet goes through.
// +kubebuilder:validation:XValidation:rule="!has(self.rollbackWindow) || self.strategy == 'Replace'",message="rollbackWindow applies only to the Replace strategy"
type RolloutPolicySpec struct {
	// strategy: InPlace (default) or Replace.
	// +optional
	// +kubebuilder:default=InPlace
	Strategy RolloutStrategy `json:"strategy,omitempty"`

	// rollbackWindow is how long old-version Prods stay warm after a Replace rollout.
	// +optional
	RollbackWindow *metav1.Duration `json:"rollbackWindow,omitempty"`

	// failurePolicy: Rollback (default) or Pause.
	// +optional
	// +kubebuilder:default=Rollback
	FailurePolicy FailurePolicy `json:"failurePolicy,omitempty"`

	// steps, in order. Step names must be unique.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	Steps []RolloutStep `json:"steps"`
}

// RolloutStep selects some Prods, moves them to the new version, and waits on its gates.
// +kubebuilder:validation:XValidation:rule="!has(self.order) || self.order != 'LabelValue' || has(self.orderLabel)",message="order LabelValue needs orderLabel"
// +kubebuilder:validation:XValidation:rule="!has(self.orderLabel) && !has(self.orderValues) || has(self.order) && self.order == 'LabelValue'",message="orderLabel and orderValues apply only to order LabelValue"
// +kubebuilder:validation:XValidation:rule="!has(self.maxFailures) || has(self.progressDeadline)",message="maxFailures needs a progressDeadline"
type RolloutStep struct {
	// name of the step, unique in the policy.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// selector picks the Prods of this step among those not yet on the new version.
	// Empty picks all of them.
	// +optional
	Selector *LabelSelector `json:"selector,omitempty"`

	// order in which the selected Prods go. Defaults to Name.
	// +optional
	Order ProdOrder `json:"order,omitempty"`

	// orderLabel is the Prod label whose value orders the Prods for order LabelValue.
	// +optional
	// +kubebuilder:validation:MaxLength=317
	OrderLabel string `json:"orderLabel,omitempty"`

	// orderValues lists values of orderLabel in the order they go; values not listed go last.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	OrderValues []string `json:"orderValues,omitempty"`

	// count is how many of the selected Prods this step moves, in its order (a number, or
	// a percentage of the set's Prods, rounded up): 1 with order LeastTrafficFirst is a
	// canary on the least used Prod. Defaults to all of them.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 1 : self.matches('^([1-9][0-9]?|100)%$')",message="must be at least 1, or a percentage from 1% to 100%"
	Count *intstr.IntOrString `json:"count,omitempty"`

	// maxParallel is how many Prods (a number, or a percentage of the step's Prods) move
	// at once. Defaults to 1.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 1 : self.matches('^([1-9][0-9]?|100)%$')",message="must be at least 1, or a percentage from 1% to 100%"
	MaxParallel *intstr.IntOrString `json:"maxParallel,omitempty"`

	// weight is the DNS weight the step's new-version Prods get, 0–255. Unset keeps each
	// Prod's own weight.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	Weight *int32 `json:"weight,omitempty"`

	// gates must all pass before the next step starts.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	Gates []Gate `json:"gates,omitempty"`

	// minHealthyTime is how long the step's Prods must all have been available on the
	// new revision, without a break since its gates began, before the next step starts:
	// a bake. A Prod seen unavailable starts the count again. From 1s to 24h.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="minHealthyTime must be from 1s to 24h"
	MinHealthyTime *metav1.Duration `json:"minHealthyTime,omitempty"`

	// progressDeadline is how long the step may take, from its start or its last
	// resume, to pass: its Prods on the new revision and available, its gates passed,
	// its minHealthyTime over. Past it the step fails as a gate does (failurePolicy). A
	// promoted step has none. From 10s to 24h.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('24h')",message="progressDeadline must be from 10s to 24h"
	ProgressDeadline *metav1.Duration `json:"progressDeadline,omitempty"`

	// maxFailures is how many of the step's Prods may miss its progressDeadline before
	// the step fails: those not back by the deadline are marked failed (left out of
	// traffic, on their way; they come back once available) and the step goes on without
	// them, with its deadline counted again. 0 (the default) tolerates none.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	MaxFailures *int32 `json:"maxFailures,omitempty"`
}

// Gate is one condition that must hold before a rollout moves on. Exactly one kind is set.
// +kubebuilder:validation:XValidation:rule="[has(self.pause), has(self.approval), has(self.httpCheck), has(self.prometheus), has(self.baseline), has(self.template)].filter(x, x).size() == 1",message="a gate sets exactly one of pause, approval, httpCheck, prometheus, baseline and template"
type Gate struct {
	// pause waits for a duration, or until approved.
	// +optional
	Pause *PauseGate `json:"pause,omitempty"`
	// approval waits for a person to promote the rollout.
	// +optional
	Approval *ApprovalGate `json:"approval,omitempty"`
	// httpCheck requests a URL on each of the step's Prods.
	// +optional
	HTTPCheck *HTTPCheckGate `json:"httpCheck,omitempty"`
	// prometheus evaluates a query against a threshold.
	// +optional
	Prometheus *PrometheusGate `json:"prometheus,omitempty"`
	// baseline compares the step's Prods with Prods of the set still on the previous
	// revision.
	// +optional
	Baseline *BaselineGate `json:"baseline,omitempty"`
	// template runs the gate of an AnalysisTemplate of the policy's namespace, or of a
	// ClusterAnalysisTemplate, with arguments.
	// +optional
	Template *TemplateGate `json:"template,omitempty"`
}

// TemplateGate names an analysis template and gives its arguments.
type TemplateGate struct {
	// name of the AnalysisTemplate in the policy's namespace (or of the
	// ClusterAnalysisTemplate, with cluster).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// cluster: the ClusterAnalysisTemplate named name, not the namespace's
	// AnalysisTemplate.
	// +optional
	Cluster bool `json:"cluster,omitempty"`
	// args given to the template; each must be one it declares, and each it declares
	// without a default must be given.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	Args []TemplateArg `json:"args,omitempty"`
}

// TemplateArg is one argument given to an analysis template.
type TemplateArg struct {
	// name of the argument.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name"`
	// value of the argument.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	Value string `json:"value"`
}

// InconclusivePolicy is what a baseline gate does when it cannot judge: a side has too
// few samples (no data, NaN), or Prometheus did not answer.
// +kubebuilder:validation:Enum=Fail;Pause;Retry
type InconclusivePolicy string

const (
	// InconclusiveFail fails the gate: the rollout's failurePolicy applies.
	InconclusiveFail InconclusivePolicy = "Fail"
	// InconclusivePause pauses the rollout, whatever its failurePolicy, until a person
	// resumes it (which judges again) or promotes it.
	InconclusivePause InconclusivePolicy = "Pause"
	// InconclusiveRetry judges again over a new window, up to retries times, then fails.
	InconclusiveRetry InconclusivePolicy = "Retry"
)

// BaselineGate judges the step's Prods (the canary) against as many Prods of the same set
// still on the previous revision (the baseline), sampled over the same window: each metric
// is queried per Prod every interval, and the canary fails a metric when it is worse than
// the baseline significantly (a one-sided Mann-Whitney U test at the confidence) and by
// more than the metric tolerates. No data, NaN, or fewer samples than minSamples on
// either side is inconclusive, never a pass.
// +kubebuilder:validation:XValidation:rule="!has(self.retries) || has(self.onInconclusive) && self.onInconclusive == 'Retry'",message="retries applies only to onInconclusive Retry"
// +kubebuilder:validation:XValidation:rule="size(self.metrics) * (has(self.maxProds) ? self.maxProds : 10) <= 40",message="metrics times maxProds (default 10) is at most 40: each round queries every metric for every Prod of both sides"
type BaselineGate struct {
	// address of the Prometheus server. Defaults to the manager's --prometheus-address.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	Address string `json:"address,omitempty"`
	// metrics compared; each must pass.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=name
	Metrics []BaselineMetric `json:"metrics"`
	// maxProds is how many Prods of each side are compared, at most: the canary's first
	// by name, and as many baseline Prods. Defaults to 10; with the metrics, at most 40
	// queries a side per round.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=40
	MaxProds *int32 `json:"maxProds,omitempty"`
	// window over which both sides are sampled, from 10s to 1h. Defaults to 5m.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('1h')",message="window must be from 10s to 1h"
	Window *metav1.Duration `json:"window,omitempty"`
	// interval between samples, from 500ms to 5m. Defaults to 15s.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('500ms') && duration(self) <= duration('5m')",message="interval must be from 500ms to 5m"
	Interval *metav1.Duration `json:"interval,omitempty"`
	// minSamples each side needs per metric (the Prods compared times the samples each);
	// fewer is inconclusive. From 5 to 10000; defaults to 10.
	// +optional
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=10000
	MinSamples *int32 `json:"minSamples,omitempty"`
	// confidence that the canary is worse before a metric fails, a decimal from 0.5 to
	// 0.999. Defaults to "0.95".
	// +optional
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:Pattern=`^0\.(5[0-9]*|[6-8][0-9]*|9[0-9]?[0-9]?)$`
	Confidence string `json:"confidence,omitempty"`
	// onInconclusive: Fail (default), Pause or Retry.
	// +optional
	OnInconclusive InconclusivePolicy `json:"onInconclusive,omitempty"`
	// retries of an inconclusive judgement under onInconclusive Retry, 1 to 10. Defaults
	// to 2.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	Retries *int32 `json:"retries,omitempty"`
}

// BaselineMetric is one metric a baseline gate compares.
// +kubebuilder:validation:XValidation:rule="!has(self.maxRatio) || double(self.maxRatio) >= 1.0",message="maxRatio must be at least 1"
type BaselineMetric struct {
	// name of the metric, unique in the gate.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
	// query in PromQL returning one scalar or one-element vector for one Prod;
	// {{ .Prod }} and {{ .Version }} are that Prod's.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Query string `json:"query"`
	// worseWhen: Higher (errors, latency; the default) or Lower (success ratio).
	// +optional
	// +kubebuilder:validation:Enum=Higher;Lower
	WorseWhen string `json:"worseWhen,omitempty"`
	// maxRatio tolerates a canary mean up to this many times the baseline's (worseWhen
	// Higher), or down to the baseline's divided by it (Lower), such as "1.2".
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?$`
	MaxRatio string `json:"maxRatio,omitempty"`
	// maxDifference tolerates a canary mean worse than the baseline's by up to this much,
	// such as "0.005". A difference within either tolerance passes; with neither, any
	// significant difference fails.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?$`
	MaxDifference string `json:"maxDifference,omitempty"`
}

// PauseGate waits.
// +kubebuilder:validation:XValidation:rule="has(self.duration) != (has(self.untilApproved) && self.untilApproved)",message="set either duration or untilApproved: true"
type PauseGate struct {
	// duration to wait.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// untilApproved waits until the rollout is promoted; an A/B test holds here.
	// +optional
	UntilApproved *bool `json:"untilApproved,omitempty"`
}

// ApprovalGate waits for a manual approval.
type ApprovalGate struct {
	// message shown to whoever approves.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// HTTPCheckGate requests a URL on the step's Prods.
type HTTPCheckGate struct {
	// url template; {{ .Host }} is replaced by the Prod's endpoint and {{ .Prod }} by its name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	URL string `json:"url"`
	// expectedStatus of a successful try. Defaults to 200.
	// +optional
	// +kubebuilder:default=200
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=599
	ExpectedStatus int32 `json:"expectedStatus,omitempty"`
	// tries per Prod. Defaults to 5.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Tries int32 `json:"tries,omitempty"`
	// successPercent of tries that must succeed. Defaults to 100.
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	SuccessPercent int32 `json:"successPercent,omitempty"`
	// interval between tries, from 100ms to 10m. Defaults to 2s.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms') && duration(self) <= duration('10m')",message="interval must be from 100ms to 10m"
	Interval *metav1.Duration `json:"interval,omitempty"`
	// timeout of one try, from 1s to 60s. Defaults to 5s.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('60s')",message="timeout must be from 1s to 60s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// PrometheusGate compares the result of a PromQL query with a threshold.
type PrometheusGate struct {
	// address of the Prometheus server, such as http://prometheus.monitoring:9090.
	// Defaults to the manager's --prometheus-address.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	Address string `json:"address,omitempty"`
	// query in PromQL returning one scalar or a one-element vector; {{ .Prod }} and
	// {{ .Version }} are substituted.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Query string `json:"query"`
	// comparison of the result with threshold.
	// +required
	// +kubebuilder:validation:Enum="<";"<=";">";">="
	Comparison string `json:"comparison"`
	// threshold as a decimal number, such as "0.01"; in an analysis template also
	// {{ .Args.<name> }}.
	// +required
	// +kubebuilder:validation:Pattern=`^(-?[0-9]+(\.[0-9]+)?|\{\{ *\.Args\.[A-Za-z_][A-Za-z0-9_]* *\}\})$`
	Threshold string `json:"threshold"`
	// window over which the query must hold, from 1s to 1h. Defaults to 1m.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('1h')",message="window must be from 1s to 1h (a longer bake is a pause gate)"
	Window *metav1.Duration `json:"window,omitempty"`
	// interval between evaluations, from 500ms to 10m. Defaults to 15s.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('500ms') && duration(self) <= duration('10m')",message="interval must be from 500ms to 10m"
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// RolloutPolicyStatus is the observed state of a RolloutPolicy.
type RolloutPolicyStatus struct {
	// conditions of the policy: Accepted.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// RolloutPolicy says how a new version reaches the Prods of a ProdSet.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=drover
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=`.spec.strategy`
// +kubebuilder:printcolumn:name="OnFailure",type=string,JSONPath=`.spec.failurePolicy`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RolloutPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the policy.
	// +required
	Spec RolloutPolicySpec `json:"spec"`

	// status of the policy.
	// +optional
	Status RolloutPolicyStatus `json:"status,omitempty,omitzero"`
}

// RolloutPolicyList is a list of RolloutPolicies.
// +kubebuilder:object:root=true
type RolloutPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RolloutPolicy `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &RolloutPolicy{}, &RolloutPolicyList{})
}

// GetConditions returns the RolloutPolicy's conditions.
func (p *RolloutPolicy) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions sets the RolloutPolicy's conditions.
func (p *RolloutPolicy) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }
