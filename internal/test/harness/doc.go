// Package harness holds what drives drover from the outside, shared by the local
// sandbox (cmd/sandbox) and the end-to-end suite (e2e): the manager binary as a child
// process, and YAML files read into objects and server-side applied as a user would
// with kubectl apply --server-side.
//
// Manager builds (BuildManager) and runs (StartManager) the real cmd/manager binary
// against a cluster given by a kubeconfig, with its output in a log file. Stop ends it
// the way Kubernetes ends a Pod (SIGTERM, then SIGKILL after a grace period); Kill ends
// it at once, as a crash would. On Linux the manager also dies with the process that
// started it, so a test or sandbox that is killed leaves no manager behind.
//
// DecodeYAML, ReadYAMLFile and ReadYAMLDir turn YAML into unstructured objects; Apply
// server-side applies them with a field manager of the caller's choice.
package harness
