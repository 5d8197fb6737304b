package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestFreezeRows(t *testing.T) {
	created := metav1.NewTime(now.Add(-time.Hour))
	end := metav1.NewTime(now.Add(2 * time.Hour))
	fs := []droverv1.Freeze{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "incident", CreationTimestamp: created},
			Spec: droverv1.FreezeSpec{FreezeTime: droverv1.FreezeTime{Reason: "payment incident", End: &end}, ProdSets: []string{"shop"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "broken", CreationTimestamp: created},
			Spec: droverv1.FreezeSpec{FreezeTime: droverv1.FreezeTime{Reason: "typo", Windows: []droverv1.FreezeWindow{
				{Schedule: "every friday", Duration: metav1.Duration{Duration: time.Hour}}}}}},
	}
	cfs := []droverv1.ClusterFreeze{
		{ObjectMeta: metav1.ObjectMeta{Name: "eu-1-upgrade", CreationTimestamp: created},
			Spec: droverv1.ClusterFreezeSpec{FreezeTime: droverv1.FreezeTime{Reason: "upgrading eu-1"}, Clusters: []string{"fleet/eu-1"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "later", CreationTimestamp: created},
			Spec: droverv1.ClusterFreezeSpec{FreezeTime: droverv1.FreezeTime{Reason: "quarter end", Start: &end}}},
	}
	view := freezeRows(fs, cfs, now)
	var b bytes.Buffer
	renderFreezes(&b, view)
	lines := map[string]string{}
	for _, l := range strings.Split(b.String(), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			lines[f[1]] = l
		}
	}
	for name, wants := range map[string][]string{
		"eu-1-upgrade":  {"ClusterFreeze", " yes ", "until deleted", "every namespace; only Prods on fleet/eu-1", "upgrading eu-1"},
		"later":         {" no ", "next " + end.UTC().Format(time.RFC3339), "quarter end"},
		"shop/broken":   {"Freeze", `yes (invalid: windows[0]: schedule "every friday"`, "until fixed"},
		"shop/incident": {" yes ", end.UTC().Format(time.RFC3339), "ProdSets shop", "payment incident"},
	} {
		for _, want := range wants {
			if !strings.Contains(lines[name], want) {
				t.Errorf("the row of %s lacks %q:\n%s", name, want, b.String())
			}
		}
	}
	if len(view.Freezes) != 4 || view.Freezes[0].Name != "eu-1-upgrade" || !view.Freezes[0].Active || view.Freezes[1].Next == "" {
		t.Errorf("rows %+v", view.Freezes)
	}
}
