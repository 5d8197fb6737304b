package maintenance

// Reasons of the events the maintenance controller records on ClusterMaintenances. Each
// fires on a transition, never on every reconcile; docs/observability.md lists them.
const (
	// ReasonAdmitted (Normal): the drain may start; the cluster's Prods leave traffic.
	ReasonAdmitted = "Admitted"
	// ReasonRefused (Warning): draining now would take a ProdSet below its minimum.
	ReasonRefused = "Refused"
	// ReasonSurging (Normal): waiting for stand-in Prods elsewhere before the drain.
	ReasonSurging = "Surging"
	// ReasonClusterNotFound (Warning): the named Cluster does not exist.
	ReasonClusterNotFound = "ClusterNotFound"
	// ReasonDrained (Normal): no traffic reaches the cluster's Prods any more.
	ReasonDrained = "Drained"
	// ReasonReleased (Normal): the maintenance was deleted, or restored by command, and
	// the Prods are back in traffic.
	ReasonReleased = "Released"
	// ReasonRestoreRequested (Normal): a restore command ends the maintenance; who set it.
	ReasonRestoreRequested = "RestoreRequested"
	// ReasonDrainRequested (Normal): a drain command starts a restored maintenance over.
	ReasonDrainRequested = "DrainRequested"
	// ReasonCommandIgnored (Warning): a command that does not apply now.
	ReasonCommandIgnored = "CommandIgnored"
	// ReasonUnknownCommand (Warning): the annotation's word is not a command.
	ReasonUnknownCommand = "UnknownCommand"
	// ReasonSafetyOverride (Warning): the drain was admitted under the
	// drover.dev/safety-override annotation, past serving minimums or safety rules that
	// would have refused it; the event says who set it (as the managed fields say) and why.
	ReasonSafetyOverride = "SafetyOverride"
)
