package prodset

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestProdName(t *testing.T) {
	long := strings.Repeat("a", 40)
	cases := []struct {
		set, cluster string
		taken        []string
		want         string
		index        int
	}{
		{set: "shop", cluster: "eu-1", want: "shop-eu-1"},
		{set: "shop", cluster: "eu-1", taken: []string{"shop-eu-1"}, want: "shop-eu-1-1", index: 1},
		{set: "shop", cluster: "eu-1", taken: []string{"shop-eu-1", "shop-eu-1-1"}, want: "shop-eu-1-2", index: 2},
		{set: "shop", cluster: "eu-1", taken: []string{"shop-eu-1-1"}, want: "shop-eu-1"},
	}
	for _, tc := range cases {
		taken := map[string]bool{}
		for _, n := range tc.taken {
			taken[n] = true
		}
		got, index := ProdName(tc.set, tc.cluster, taken)
		if got != tc.want || index != tc.index {
			t.Errorf("ProdName(%s, %s, %v) = %s, %d; want %s, %d", tc.set, tc.cluster, tc.taken, got, index, tc.want, tc.index)
		}
	}
	// Long names stay valid label values, stable, and distinct per index.
	a, _ := ProdName(long, long, nil)
	b, _ := ProdName(long, long, map[string]bool{a: true})
	again, _ := ProdName(long, long, nil)
	for _, n := range []string{a, b} {
		if errs := validation.IsValidLabelValue(n); len(errs) > 0 || len(validation.IsDNS1123Subdomain(n)) > 0 {
			t.Errorf("%q is not a valid Prod name and label value: %v", n, errs)
		}
	}
	if a == b || a != again {
		t.Errorf("long names: %q, %q, again %q", a, b, again)
	}
}

func TestIndexedNamespace(t *testing.T) {
	if got := indexedNamespace("shop", 2); got != "shop-2" {
		t.Errorf("got %s", got)
	}
	long := strings.Repeat("n", 63)
	if got := indexedNamespace(long, 12); len(got) != 63 || !strings.HasSuffix(got, "-12") {
		t.Errorf("got %s (%d)", got, len(got))
	}
	p := &droverv1.Prod{}
	if prodIndex(p) != 0 {
		t.Error("a Prod without the annotation has index 0")
	}
	p.Annotations = map[string]string{IndexAnnotation: "3"}
	if prodIndex(p) != 3 {
		t.Error("index annotation not read")
	}
	tmpl := &droverv1.ProdTemplate{Spec: droverv1.ProdTemplateSpec{Version: "v1", TargetNamespace: "shop"}}
	if got := TemplateSpecFor(tmpl, 0); got.TargetNamespace != "shop" || got.Version != "v1" {
		t.Errorf("the first Prod's spec: %+v", got)
	}
	if got := TemplateSpecFor(tmpl, ProdIndex(p)); got.TargetNamespace != "shop-3" {
		t.Errorf("the fourth Prod's target namespace: %s, want shop-3", got.TargetNamespace)
	}
	if tmpl.Spec.TargetNamespace != "shop" {
		t.Error("TemplateSpecFor changed the template")
	}
}

func TestRevisionFollowsTheTemplate(t *testing.T) {
	a := &droverv1.ProdTemplate{Spec: droverv1.ProdTemplateSpec{Version: "v1", TargetNamespace: "shop"}}
	b := a.DeepCopy()
	if Revision(a) != Revision(b) {
		t.Error("equal templates, different revisions")
	}
	b.Spec.Version = "v2"
	if Revision(a) == Revision(b) {
		t.Error("a new version must be a new revision")
	}
}
