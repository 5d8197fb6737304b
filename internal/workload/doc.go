// Package workload holds what the controllers that act on workload clusters share: the
// clients that act as a tenant's identity there (Impersonators), the REST mapper's
// answer to whether a kind is namespaced (ScopeOf), and how a failed request is told
// from an API server's answer (IsUnreachable, IsNoMatch).
package workload
