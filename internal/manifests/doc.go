// Package manifests turns a Prod's spec.manifests into the objects drover applies to a
// workload cluster, and judges what came back. Everything here is pure: no client, no
// clock, so each decision is table-tested.
package manifests
