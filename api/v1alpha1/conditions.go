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
)

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
	ProdAppliedReason         = "Applied"
	ProdInvalidManifestReason = "InvalidManifest"
	ProdApplyFailedReason     = "ApplyFailed"
	ProdPruneFailedReason     = "PruneFailed"
	ProdApplyPendingReason    = "ClusterUnreachable"
	ProdDeletingReason        = "Deleting"
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
