package v1alpha1

// Labels and annotations drover puts on the objects it manages.
const (
	// ProdNameLabel marks every workload object applied for a Prod with the Prod's name.
	ProdNameLabel = "drover.dev/prod"
	// ProdNamespaceLabel marks every workload object applied for a Prod with the Prod's namespace.
	ProdNamespaceLabel = "drover.dev/prod-namespace"
	// ManagedByLabel is set to FieldManager on every workload object drover applies.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// FieldManager is the server-side apply field manager drover uses on workload clusters.
	FieldManager = "drover"
	// ProdUIDLabel marks every workload object applied for a Prod with the Prod's UID: the
	// ownership record (a name label can be truncated; a UID is complete and unique).
	ProdUIDLabel = "drover.dev/prod-uid"
	// ProdRefAnnotation holds "<namespace>/<name>" of the Prod a workload object belongs
	// to, in full (the name label is cut at 63 characters).
	ProdRefAnnotation = "drover.dev/prod-ref"
	// OwnerNamespaceAnnotation on a workload Namespace names the control-plane namespace
	// whose Prods may apply into it: drover sets it on the namespaces it creates, and a
	// platform team sets it by hand to hand an existing namespace over.
	OwnerNamespaceAnnotation = "drover.dev/owner-namespace"
	// AdoptAnnotation on an existing workload object that drover did not create names the
	// Prod ("<namespace>/<name>") that may take it over. Without it drover never adopts,
	// relabels, prunes or deletes an object it did not create.
	AdoptAnnotation = "drover.dev/adopt"
	// ProdFinalizer keeps a Prod until its traffic is drained and its workload objects are gone.
	ProdFinalizer = "drover.dev/prod"
)

// Prod condition types. Every one of them is set on every reconcile.
const (
	// ProdClusterReachableCondition is True while drover can talk to the Prod's workload cluster.
	ProdClusterReachableCondition = "ClusterReachable"
	// ProdAppliedCondition is True when spec.manifests of the observed generation are applied.
	ProdAppliedCondition = "Applied"
	// ProdAvailableCondition is True when every applied object reports itself available
	// (Deployments and StatefulSets with their replicas available, Jobs complete, ...).
	ProdAvailableCondition = "Available"
	// ProdTrafficReadyCondition is True when the Prod's traffic is published as desired.
	ProdTrafficReadyCondition = "TrafficReady"
	// ProdMirrorSyncedCondition is True when the Prod's AWS NLB matches its Octavia load
	// balancer as last read. Set only on Prods with spec.traffic.mirror.
	ProdMirrorSyncedCondition = "MirrorSynced"
)

// Reasons for ProdMirrorSyncedCondition (also MirrorStatus.outcome).
const (
	ProdMirrorInSyncReason               = "InSync"
	ProdMirrorChangedReason              = "Changed"
	ProdMirrorBlockedReason              = "Blocked"
	ProdMirrorOctaviaUnavailableReason   = "OctaviaUnavailable"
	ProdMirrorLoadBalancerNotFoundReason = "LoadBalancerNotFound"
	ProdMirrorFailedReason               = "Failed"
	ProdMirrorDisabledReason             = "Disabled"
	ProdMirrorDeletingReason             = "Deleting"
	ProdMirrorNotConfiguredReason        = "NotConfigured"
	// ProdMirrorNotPermittedReason: the load balancer is of an OpenStack project the
	// namespace's Tenant does not list in spec.octaviaProjects; nothing is mirrored.
	ProdMirrorNotPermittedReason = "NotPermitted"
)

// MirrorFinalizer keeps a Prod with an NLB mirror until the NLB, its listeners and target
// groups are deleted (after the Prod's traffic is drained).
const MirrorFinalizer = "drover.dev/nlb-mirror"

// AllowTargetRemovalAnnotation on a Prod lets the next NLB sync remove more targets than
// spec.traffic.mirror.maxTargetRemovalPercent allows. drover removes the annotation once a
// sync has used it.
const AllowTargetRemovalAnnotation = "drover.dev/allow-target-removal"

// ReleaseFinalizersAnnotation ("true") on a Prod or ProdSet being deleted lets drover give
// up on cloud resources (or workload objects) it can no longer reach: it tries once more
// and, if that fails, removes its finalizer, records what it left behind in a Warning
// event and in a leftovers ConfigMap in the manager's namespace (kubectl drover
// leftovers), and lets the object go. Only the platform team may set it (the admission
// policy drover-release-finalizers); docs/operations.md, "A deletion that hangs".
const ReleaseFinalizersAnnotation = "drover.dev/release-finalizers"

// LeftoversLabel marks the ConfigMaps in the manager's namespace that record what a
// released Prod or ProdSet left behind.
const LeftoversLabel = "drover.dev/leftovers"

// Reasons for ProdClusterReachableCondition.
const (
	ProdClusterReachableReason        = "Reachable"
	ProdClusterNotFoundReason         = "ClusterNotFound"
	ProdClusterNotReadyReason         = "ClusterNotReady"
	ProdClusterDeletingReason         = "ClusterDeleting"
	ProdClusterNotConnectedReason     = "ClusterNotConnected"
	ProdClusterProbeFailingReason     = "HealthProbeFailing"
	ProdClusterRequestFailedReason    = "RequestFailed"
	ProdClusterReachableUnknownReason = "Unknown"
)

// Reasons for ProdAppliedCondition.
const (
	ProdAppliedReason           = "Applied"
	ProdInvalidManifestReason   = "InvalidManifest"
	ProdApplyFailedReason       = "ApplyFailed"
	ProdOwnershipConflictReason = "OwnershipConflict"
	// ProdNotPermittedReason: the Prod's tenancy (its namespace's Tenant, or the
	// defaults) does not allow its cluster, target namespace or one of its objects.
	ProdNotPermittedReason = "NotPermitted"
	// ProdNotOwnedReason: an object of the manifests, or the target namespace, exists on
	// the workload cluster and was not created by drover for this Prod (or its tenant).
	ProdNotOwnedReason     = "NotOwned"
	ProdPruneFailedReason  = "PruneFailed"
	ProdApplyPendingReason = "ClusterUnreachable"
	ProdDeletingReason     = "Deleting"
)

// Reasons for ProdAvailableCondition.
const (
	ProdAvailableReason           = "Available"
	ProdProgressingReason         = "Progressing"
	ProdUnavailableReason         = "Unavailable"
	ProdAvailabilityUnknownReason = "StatusUnknown"
)

// Reasons for ProdTrafficReadyCondition.
const (
	ProdTrafficReadyReason         = "Published"
	ProdTrafficNotConfiguredReason = "NotConfigured"
	ProdTrafficPendingReason       = "Pending"
	ProdTrafficDrainingReason      = "Draining"
)

// Labels and annotations on the Prods of a ProdSet.
const (
	// ProdSetNameLabel marks a Prod with the name of the ProdSet it belongs to.
	ProdSetNameLabel = "drover.dev/prodset"
	// ReplacesLabel marks a Prod made by a Replace rollout with the name of the Prod it
	// replaces; it goes once that Prod is retired.
	ReplacesLabel = "drover.dev/replaces"
	// ClusterNameLabel marks a Prod of a ProdSet with the name of its cluster. Rollout
	// step selectors also see it, with the labels of the Prod's Cluster.
	ClusterNameLabel = "drover.dev/cluster"
	// RevisionLabel marks a Prod with the revision (template hash) it was made from.
	RevisionLabel = "drover.dev/revision"
	// SurgeForLabel marks a Prod placed to stand in for the Prods of a cluster under
	// maintenance with surge; its value is that cluster's name.
	SurgeForLabel = "drover.dev/surge-for"
	// SupersededAnnotation marks a Prod replaced elsewhere because its cluster stayed
	// unreachable past the toleration; it is retired when the cluster comes back. The
	// value says when and why.
	SupersededAnnotation = "drover.dev/superseded"
	// ProdSetFinalizer keeps a ProdSet until its Prods are drained and deleted.
	ProdSetFinalizer = "drover.dev/prodset"
	// ClusterMaintenanceFinalizer keeps a ClusterMaintenance until its cluster's Prods are
	// back in traffic.
	ClusterMaintenanceFinalizer = "drover.dev/clustermaintenance"
)

// The conditions every drover kind with a status carries, for tools that know nothing
// of drover (kstatus, so Flux's health checks and kubectl wait; Argo CD's health checks):
// Ready True when the object is as it should be; Reconciling True while drover is on its
// way there; Stalled True when it cannot go on until something outside drover changes.
// Reconciling and Stalled are present only while True; Ready False has the reason and
// message of whichever is.
const (
	ReadyCondition       = "Ready"
	ReconcilingCondition = "Reconciling"
	StalledCondition     = "Stalled"
	// ReadyReason is Ready's reason when True.
	ReadyReason = "Ready"
)

// ProdSet condition types.
const (
	// ProdSetPlacedCondition is True when every replica has a cluster.
	ProdSetPlacedCondition = "Placed"
	// ProdSetAvailableCondition is True when every replica is available and in traffic,
	// False when fewer than the serving minimum are.
	ProdSetAvailableCondition = "Available"
	// ProdSetFrozenCondition is True while too many of the set's clusters are unreachable
	// at once for drover to act: it changes nothing until they come back.
	ProdSetFrozenCondition = "Frozen"
	// ProdSetTrafficReadyCondition is True when every Prod's desired weight is in sync in DNS.
	ProdSetTrafficReadyCondition = "TrafficReady"
	// ProdSetRolledOutCondition is True when every Prod runs the template's revision; False
	// while a rollout progresses, is paused or rolled back, or cannot start.
	ProdSetRolledOutCondition = "RolledOut"
	// ProdSetSafetyRulesKeptCondition is True when every weight move of the set keeps its
	// safety rules (spec.safety), False while a rule holds one (reason Held) or the
	// drover.dev/safety-override annotation lets one through (reason Overridden); absent
	// when the set has no rules.
	ProdSetSafetyRulesKeptCondition = "SafetyRulesKept"
)

// Reasons for the ProdSet conditions.
const (
	ProdSetPlacedReason         = "Placed"
	ProdSetUnplacedReason       = "NoRoom"
	ProdSetAvailableReason      = "Available"
	ProdSetDegradedReason       = "Degraded"
	ProdSetBelowMinimumReason   = "BelowServingMinimum"
	ProdSetFrozenReason         = "TooManyClustersUnreachable"
	ProdSetNotFrozenReason      = "NotFrozen"
	ProdSetTrafficSyncedReason  = "InSync"
	ProdSetTrafficPendingReason = "Pending"
	ProdSetTrafficNotConfigured = "NotConfigured"
	ProdSetTrafficFailedReason  = "PublishFailed"
	// ProdSetTrafficRefusedReason: DNS refused the set's records as they are (Route53's
	// reason in the message); the zone's other sets went on without them.
	ProdSetTrafficRefusedReason = "Refused"
	// ProdSetNameClaimedReason: another ProdSet holds the set's record name in its zone.
	ProdSetNameClaimedReason = "NameClaimed"
	// ProdSetTrafficNotPermittedReason: the namespace's Tenant does not allow the set's
	// hosted zone or record name.
	ProdSetTrafficNotPermittedReason = "NotPermitted"
	ProdSetDeletingReason            = "Deleting"

	ProdSetRolledOutReason         = "RolledOut"
	ProdSetRolloutProgressing      = "Progressing"
	ProdSetRolloutPausedReason     = "Paused"
	ProdSetRollingBackReason       = "RollingBack"
	ProdSetRolledBackReason        = "RolledBack"
	ProdSetPolicyNotFoundReason    = "PolicyNotFound"
	ProdSetPolicyUnsupportedReason = "PolicyUnsupported"
	ProdSetPolicyInvalidReason     = "PolicyInvalid"
	// ProdSetRolloutFrozenReason: a set without a RolloutPolicy whose new revision a
	// Freeze or ClusterFreeze holds.
	ProdSetRolloutFrozenReason = "Frozen"

	// SafetyRulesKept reasons: every move keeps the rules; a rule holds a move; an
	// override lets a move through; the override annotation cannot be read.
	ProdSetSafetyKeptReason        = "Kept"
	ProdSetSafetyHeldReason        = "Held"
	ProdSetSafetyOverriddenReason  = "Overridden"
	ProdSetSafetyBadOverrideReason = "InvalidOverride"
	// ProdSetSafetyBrokenReason: the weights DNS has break a rule (Prods not in traffic
	// yet, out of it for reasons no move undoes, an override), and no move breaks it further.
	ProdSetSafetyBrokenReason = "Broken"
)

// Why a Prod of a ProdSet is out of traffic (ProdSummary.Evicted).
const (
	EvictedClusterUnreachable = "ClusterUnreachable"
	EvictedClusterMaintenance = "ClusterMaintenance"
	EvictedSuperseded         = "Superseded"
	EvictedRetiring           = "Retiring"
	EvictedDeleting           = "Deleting"
	// EvictedRollout: the set's rollout took it out of traffic to update or revert it.
	EvictedRollout = "Rollout"
)

// RolloutPolicy condition types and reasons.
const (
	// RolloutPolicyAcceptedCondition is True when the policy can run: its gates' templates
	// parse, its thresholds are numbers and every Prometheus gate has a server to ask.
	RolloutPolicyAcceptedCondition = "Accepted"

	RolloutPolicyAcceptedReason = "Accepted"
	RolloutPolicyInvalidReason  = "Invalid"
)

// ClusterMaintenance condition types and reasons.
const (
	// MaintenanceAdmittedCondition is True once the drain was allowed to start.
	MaintenanceAdmittedCondition = "Admitted"
	// MaintenanceDrainedCondition is True once no traffic reaches the cluster's Prods.
	MaintenanceDrainedCondition = "Drained"

	MaintenanceAdmittedReason = "Admitted"
	MaintenanceRefusedReason  = "BelowServingMinimum"
	// MaintenanceSafetyRuleReason: the drain would break a ProdSet's safety rule.
	MaintenanceSafetyRuleReason      = "SafetyRule"
	MaintenanceSurgingReason         = "Surging"
	MaintenanceClusterNotFoundReason = "ClusterNotFound"
	MaintenanceDrainingReason        = "WaitingForTraffic"
	MaintenanceDrainedReason         = "Drained"
	MaintenanceNotAdmittedReason     = "NotAdmitted"
	// MaintenanceReleasedReason: the ClusterMaintenance is deleted and lets the cluster go.
	MaintenanceReleasedReason = "Released"
	// MaintenanceUnknownReason: what the condition depends on could not be read.
	MaintenanceUnknownReason = "Unknown"
)
