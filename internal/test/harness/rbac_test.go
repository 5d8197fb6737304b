package harness_test

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/drover-dev/drover/internal/test/harness"
)

func TestChartRBAC(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := harness.ChartRBAC(root, "drover-system")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
	}
	sort.Strings(got)
	want := []string{
		"ClusterRole//drover-manager-role", "ClusterRole//drover-metrics-reader", "ClusterRole//drover-release-finalizers", "ClusterRole//drover-releasediffs",
		"ClusterRoleBinding//drover-manager-rolebinding",
		"Role/drover-system/drover-leader-election-role", "RoleBinding/drover-system/drover-leader-election-rolebinding",
		"ServiceAccount/drover-system/drover-manager",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("objects\n got %v\nwant %v", got, want)
	}
	sa, err := harness.ServiceAccountOf(objs)
	if err != nil || sa.String() != "drover-system/drover-manager" {
		t.Errorf("ServiceAccountOf = %v, %v; want drover-system/drover-manager", sa, err)
	}
}

func TestServiceAccountOfWorkloadRBAC(t *testing.T) {
	objs, err := harness.ReadYAMLDir(filepath.Join("..", "..", "..", "config", "workload-rbac"))
	if err != nil {
		t.Fatal(err)
	}
	sa, err := harness.ServiceAccountOf(objs)
	if err != nil || sa.String() != "drover-system/drover" {
		t.Errorf("ServiceAccountOf = %v, %v; want drover-system/drover", sa, err)
	}
	if _, err := harness.ServiceAccountOf(nil); err == nil {
		t.Error("ServiceAccountOf(nil) found a ServiceAccount")
	}
}
