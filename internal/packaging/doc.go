// Package packaging holds the tests of drover's packaging: the Dockerfile and the
// static manager binary it builds, the Helm chart in charts/drover (rendered with
// Helm's own Go library) and the kustomize bases in config/ (rendered with kustomize's
// Go library). Both installs are checked against the same rules: the manager parses
// every flag they pass, the RBAC is config/rbac's, the CRDs are config/crd/bases', the
// security context, probes, ports and Services agree. Run it with make test-packaging.
//
// RenderChart, the one function outside the tests, renders the chart for them, and
// for the e2e suite and the sandbox, which install the chart's RBAC and run the
// manager as its ServiceAccount.
package packaging
