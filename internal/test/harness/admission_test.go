package harness_test

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/drover-dev/drover/internal/test/harness"
)

func TestChartAdmissionPolicies(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := harness.ChartAdmissionPolicies(root, "drover-system")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(got)
	var want []string
	for _, name := range []string{"drover-defaults", "drover-own-namespace-clusters", "drover-release-finalizers", "drover-tenant-label-needs-a-tenant", "drover-tenant-prods", "drover-tenant-prodsets"} {
		want = append(want, "ValidatingAdmissionPolicy/"+name, "ValidatingAdmissionPolicyBinding/"+name)
	}
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("objects\n got %v\nwant %v", got, want)
	}
}
