package manifests

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

const (
	availableDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 2}
spec: {replicas: 2}
status:
  observedGeneration: 2
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 2
  availableReplicas: 2
  conditions:
  - {type: Available, status: "True"}
  - {type: Progressing, status: "True", reason: NewReplicaSetAvailable}
`
	rollingDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 3}
spec: {replicas: 2}
status:
  observedGeneration: 3
  replicas: 2
  updatedReplicas: 1
  readyReplicas: 1
  availableReplicas: 1
`
	staleDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, generation: 5}
spec: {replicas: 1}
status: {observedGeneration: 4, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
`
	failedJob = `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec: {completions: 1}
status:
  failed: 1
  conditions:
  - {type: Failed, status: "True", reason: BackoffLimitExceeded}
`
	plainConfigMap = `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
`
)

// A rollout's steps change nothing in the verdict's message, so that each poll of it is
// no write of the Prod's status.
func TestProgressMessageIsStable(t *testing.T) {
	step := func(updated, ready int) *unstructured.Unstructured {
		return obj(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 2}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 3, updatedReplicas: %d, readyReplicas: %d, availableReplicas: %d}
`, updated, ready, ready))
	}
	first, later := Assess([]*unstructured.Unstructured{step(1, 0)}), Assess([]*unstructured.Unstructured{step(2, 1)})
	if !first.Pending || !later.Pending {
		t.Fatalf("a rollout in progress must be pending: %+v, %+v", first, later)
	}
	if first.Message != later.Message {
		t.Errorf("the message follows the rollout's steps: %q, then %q", first.Message, later.Message)
	}
}

func TestAssess(t *testing.T) {
	tests := []struct {
		name        string
		objs        []string
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantPending bool
		wantInMsg   []string
	}{
		{name: "everything available", objs: []string{availableDeployment, plainConfigMap},
			wantStatus: metav1.ConditionTrue, wantReason: droverv1.ProdAvailableReason, wantInMsg: []string{"all 2 objects"}},
		{name: "a deployment still rolling out", objs: []string{availableDeployment, rollingDeployment},
			wantStatus: metav1.ConditionFalse, wantReason: droverv1.ProdProgressingReason, wantPending: true, wantInMsg: []string{"Deployment web"}},
		{name: "status of an older generation is not trusted", objs: []string{staleDeployment},
			wantStatus: metav1.ConditionFalse, wantReason: droverv1.ProdProgressingReason, wantPending: true, wantInMsg: []string{"Deployment worker"}},
		{name: "a failure wins over progress", objs: []string{rollingDeployment, failedJob},
			wantStatus: metav1.ConditionFalse, wantReason: droverv1.ProdUnavailableReason, wantInMsg: []string{"Job migrate"}},
		{name: "no objects", wantStatus: metav1.ConditionTrue, wantReason: droverv1.ProdAvailableReason},
		{name: "long lists are cut", objs: []string{rollingDeployment, rollingDeployment, rollingDeployment, rollingDeployment, rollingDeployment},
			wantStatus: metav1.ConditionFalse, wantReason: droverv1.ProdProgressingReason, wantPending: true, wantInMsg: []string{"5 not ready yet", "and 2 more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []*unstructured.Unstructured
			for _, y := range tt.objs {
				objs = append(objs, obj(t, y))
			}
			got := Assess(objs)
			if got.Status != tt.wantStatus || got.Reason != tt.wantReason || got.Pending != tt.wantPending {
				t.Fatalf("Assess() = %+v, want status %s reason %s pending %t", got, tt.wantStatus, tt.wantReason, tt.wantPending)
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(got.Message, s) {
					t.Errorf("message %q does not mention %q", got.Message, s)
				}
			}
		})
	}
}
