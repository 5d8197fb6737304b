// Package rollouts holds the envtest suite of ProdSet rollouts through RolloutPolicies:
// four workload clusters in two regions whose Deployments really roll out
// (kube-controller-manager, kube-scheduler and kwok), an HTTP server and a real
// Prometheus for the gates, and a manager the tests stop and start again mid-rollout.
// It is a package of its own so it runs beside the ProdSet suite.
package rollouts
