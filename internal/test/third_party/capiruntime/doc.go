// Package capiruntime holds, in its subpackages, copies of Cluster API's Runtime SDK
// client (client), its extension registry (registry) and their metrics (metrics), so
// that drover's tests can call the Runtime Extension with the very code Cluster API's
// controllers call it with. Cluster API keeps that code in internal/runtime of its
// module, which cannot be imported from outside it; only its interface
// (sigs.k8s.io/cluster-api/exp/runtime/client) is public.
//
// The copies are Cluster API's files (Apache License 2.0, headers kept) of the version
// in go.mod, with only the import paths of each other rewritten and a "generated"
// header added. TestCopyIsCurrent fails when they differ from that version; regenerate
// them after a Cluster API bump with
//
//	DROVER_UPDATE_CAPI_COPY=1 go test ./internal/test/third_party/capiruntime/
//
// They are for tests only: the manager never imports them.
package capiruntime
