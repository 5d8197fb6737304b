// Package tenancy decides what the Prods of one control-plane namespace may reach: which
// Clusters they may run on, which target namespaces they may apply into on a workload
// cluster, which kinds their manifests may hold, and as which identity they are applied.
//
// Everything here is pure: no client, no clock. The controllers read the Namespace and
// the Tenant, call Resolve, and ask the Policy before they act; a *Refusal is the answer
// they put in a Prod's Applied condition (reason NotPermitted).
//
// A control-plane Namespace joins a tenant by the label drover.dev/tenant=<tenant name>
// (droverv1.TenantLabel), which only the platform team can set. There are four kinds of
// Policy:
//
//   - a Tenant's: the namespace is labelled and the Tenant exists; its spec says what is
//     allowed.
//   - the defaults: the namespace is not labelled. Its Prods may run on the Clusters of
//     their own namespace only and apply namespaced kinds only, into any target namespace
//     but the workload cluster's system namespaces.
//   - a missing Tenant: the namespace is labelled (even with an empty value) and no such
//     Tenant exists. It fails closed: every check refuses, and there is no identity to
//     apply as, so nothing is applied or deleted as the manager either. A Tenant that is
//     deleted, or a label with a typo, never widens what a namespace may do.
//   - single-team (the manager's --single-team flag): the tenancy checks are off, every
//     check passes and objects are applied as the manager, as before drover was
//     multi-tenant.
//
// The gates of a rollout (httpCheck, prometheus) are judged here too: GateURL checks the
// URL a gate requests against the Tenant's spec.gateURLPrefixes, and GateAddress the
// address it connects to against spec.gateNetworks (the defaults: public addresses
// only), refusing loopback, link-local, unspecified and cloud metadata addresses unless
// a listed network lies within their range. internal/gates asks GateAddress at dial
// time, so DNS and redirects cannot get around it.
//
// Some boundaries are not here: whether a target namespace that exists on a workload
// cluster is the tenant's (its drover.dev/owner-namespace annotation, read by the caller,
// is judged by Policy.SharesTargetNamespaces), and what a tenant's ServiceAccount may do
// (the workload cluster's RBAC bounds it once drover impersonates it).
package tenancy
