// Package deploy is the NLB mirror's side that calls AWS, kept apart from the pure model
// and diff of internal/nlb as aws-load-balancer-controller keeps pkg/deploy apart from
// pkg/model: Observe reads what ELBv2 has under one owner's tags into an nlb.Observed, and
// Apply carries out an nlb.Plan, the only step that writes to AWS. Both speak to ELBv2
// through the narrow internal/cloud/elbv2 interface; the translation to and from the SDK's
// types is here too.
package deploy
