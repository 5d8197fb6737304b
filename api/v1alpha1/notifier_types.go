package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// NotifierType is the body a Notifier posts.
// +kubebuilder:validation:Enum=Generic;Slack
type NotifierType string

const (
	// NotifierGeneric posts drover's own JSON body (docs/operations.md, Notifications).
	NotifierGeneric NotifierType = "Generic"
	// NotifierSlack posts a Slack incoming-webhook body ({"text", "attachments"}), which
	// Mattermost, Rocket.Chat and most chat tools' incoming webhooks accept too.
	NotifierSlack NotifierType = "Slack"
)

// NotifierSeverity is the least severe event a Notifier sends.
// +kubebuilder:validation:Enum=Normal;Warning
type NotifierSeverity string

const (
	// NotifierSeverityNormal sends Normal and Warning events.
	NotifierSeverityNormal NotifierSeverity = "Normal"
	// NotifierSeverityWarning sends Warning events only.
	NotifierSeverityWarning NotifierSeverity = "Warning"
)

// NotifierAddressKey is the key of a Notifier's Secret that holds the webhook's URL.
const NotifierAddressKey = "address"

// NotifierSecretReference names a Secret of the Notifier's own namespace.
type NotifierSecretReference struct {
	// name of the Secret, in the Notifier's namespace. Its key "address" holds the
	// webhook's URL (https://, or http:// where the namespace's network rules allow it).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
}

// NotifierSpec says where a namespace's drover events are posted, and which.
type NotifierSpec struct {
	// type of body posted: Generic (drover's JSON) or Slack (an incoming webhook's).
	// +required
	Type NotifierType `json:"type"`
	// secretRef names the Secret, in the Notifier's namespace, whose key "address" is the
	// webhook's URL. A URL is a credential (Slack's carries its token), so it is never
	// written in the Notifier itself.
	// +required
	SecretRef NotifierSecretReference `json:"secretRef"`
	// reasons sent, by the events' reasons (docs/observability.md lists them, such as
	// RolloutStarted, RolledBack, RollbackRequested, Refused, Drained). Empty: every
	// event drover records.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z][A-Za-z0-9]*$`
	Reasons []string `json:"reasons,omitempty"`
	// severity is the least severe event sent: Normal (every event, the default) or
	// Warning (warnings only).
	// +optional
	Severity NotifierSeverity `json:"severity,omitempty"`
	// suspend stops sending: events that happen meanwhile are not sent later.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// NotifierFailure is the last delivery given up on.
type NotifierFailure struct {
	// time the delivery was given up.
	// +required
	Time metav1.Time `json:"time"`
	// reason, a fixed sentence ("HTTP 500", "timeout", "refused: ..."), never what the
	// receiver answered.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`
}

// NotifierStatus is what the manager last made of a Notifier. It is written when the
// Notifier, its Secret or its receiver's health changes, never per event sent: counts
// are the drover_notifier_* metrics.
type NotifierStatus struct {
	// conditions of the Notifier: Ready (reasons Delivering, Suspended, SecretNotFound,
	// InvalidAddress, NotPermitted, TooManyNotifiers, DeliveryFailing), with Reconciling
	// and Stalled as kstatus reads them.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// lastFailure is the last delivery given up on, kept after the receiver recovers.
	// +optional
	LastFailure *NotifierFailure `json:"lastFailure,omitempty"`
}

// Notifier posts the drover events of its namespace to a webhook: rollouts started,
// steps passed, gates failed, rollbacks, drains, and every manual command. A Notifier in
// the installation's namespace (the manager's --notifier-namespace) receives the events
// of every namespace and of cluster-scoped objects (Tenants, ClusterFreezes).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=drover
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Notifier struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the Notifier.
	// +required
	Spec NotifierSpec `json:"spec"`

	// status of the Notifier.
	// +optional
	Status NotifierStatus `json:"status,omitempty,omitzero"`
}

// NotifierList is a list of Notifiers.
// +kubebuilder:object:root=true
type NotifierList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Notifier `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Notifier{}, &NotifierList{})
}

// GetConditions returns the Notifier's conditions.
func (n *Notifier) GetConditions() []metav1.Condition { return n.Status.Conditions }

// SetConditions sets the Notifier's conditions.
func (n *Notifier) SetConditions(c []metav1.Condition) { n.Status.Conditions = c }

// Reasons of a Notifier's Ready condition.
const (
	// NotifierDeliveringReason (True): events are sent as they happen.
	NotifierDeliveringReason = "Delivering"
	// NotifierSuspendedReason (True): spec.suspend; nothing is sent.
	NotifierSuspendedReason = "Suspended"
	// NotifierSecretNotFoundReason (False, Stalled): the Secret, or its key "address", is missing.
	NotifierSecretNotFoundReason = "SecretNotFound"
	// NotifierInvalidAddressReason (False, Stalled): the address is not an http(s) URL.
	NotifierInvalidAddressReason = "InvalidAddress"
	// NotifierNotPermittedReason (False, Stalled): the namespace's Tenant (or the
	// defaults) does not allow the address (spec.gateURLPrefixes, spec.gateNetworks).
	NotifierNotPermittedReason = "NotPermitted"
	// NotifierTooManyReason (False, Stalled): the namespace has more Notifiers than the
	// manager serves for one namespace; this one sends nothing.
	NotifierTooManyReason = "TooManyNotifiers"
	// NotifierDeliveryFailingReason (False, Reconciling): the last event was given up
	// on after its retries; the next ones are still tried.
	NotifierDeliveryFailingReason = "DeliveryFailing"
)
