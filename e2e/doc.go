// Package e2e is drover's end-to-end suite: user stories told against the real manager
// binary, started as a child process (internal/test/harness) against a test bed of real
// kube-apiservers (internal/test/testbed): a control plane with Cluster API's and drover's
// CRDs and four workload clusters in two regions registered as Cluster API Clusters.
// The manager runs with the permissions drover ships with, not as the test bed's
// admin: on the control plane as the Helm chart's ServiceAccount, bound to the chart's
// RBAC, and on the workload clusters as config/workload-rbac's ServiceAccount, whose
// kubeconfig is in each Cluster's <cluster>-kubeconfig Secret (identity_test.go). The
// control plane has the chart's ValidatingAdmissionPolicies and their bindings, so a
// team's Prod is refused when it is written, as in an installation of the chart
// (second_team_test.go).
//
// It runs with every other test (go test ./..., or make test) and on its own with
//
//	go test ./e2e/ -count=1 -v -ginkgo.v
//
// Every wait says what it waited for and, when it gives up, what it saw last. When a
// spec fails, the test bed's process logs (the manager's among them, manager.log) are
// kept and their directory is printed, with the end of the manager's log.
package e2e
