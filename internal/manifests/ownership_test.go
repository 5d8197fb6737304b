package manifests

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func prodNamed(namespace, name string, uid types.UID) *droverv1.Prod {
	return &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: uid}}
}

// object is a workload object with the labels and annotations.
func object(labels, annotations map[string]string) *metav1.ObjectMeta {
	return &metav1.ObjectMeta{Namespace: "shop", Name: "settings", Labels: labels, Annotations: annotations}
}

// legacyLabels are the labels a drover without the UID label put on prod's objects.
func legacyLabels(prod *droverv1.Prod) map[string]string {
	l := OwnerLabels(prod)
	delete(l, droverv1.ProdUIDLabel)
	return l
}

func TestClaimObject(t *testing.T) {
	long := strings.Repeat("a", 63) + "-eu-1"
	p := prodNamed("team-shop", "shop-eu-1", "uid-p")
	longP := prodNamed("team-shop", long, "uid-long")
	twin := prodNamed("team-shop", strings.Repeat("a", 63)+"-us-1", "uid-twin") // the same first 63 characters
	other := prodNamed("team-shop", "shop-us-1", "uid-other")
	elsewhere := prodNamed("team-b", "shop-eu-1", "uid-elsewhere")
	reborn := prodNamed("team-shop", "shop-eu-1", "uid-reborn") // p deleted and made again

	withAnnotations := func(prod *droverv1.Prod) map[string]string {
		return map[string]string{droverv1.ProdRefAnnotation: ProdRef(prod)}
	}
	tests := []struct {
		name        string
		prod        *droverv1.Prod
		existing    *metav1.ObjectMeta
		inInventory bool
		want        Verdict
		wantOwner   string
	}{
		{name: "absent", prod: p, existing: nil, want: Create},
		{name: "its own", prod: p, existing: object(OwnerLabels(p), withAnnotations(p)), want: Apply},
		{name: "its own, in the inventory", prod: p, existing: object(OwnerLabels(p), nil), inInventory: true, want: Apply},
		{name: "its own with a long name", prod: longP, existing: object(OwnerLabels(longP), withAnnotations(longP)), want: Apply},

		{name: "another Prod's", prod: p, existing: object(OwnerLabels(other), withAnnotations(other)),
			want: OwnershipConflict, wantOwner: "team-shop/shop-us-1 (uid uid-other)"},
		{name: "a Prod of the same name in another namespace", prod: p, existing: object(OwnerLabels(elsewhere), withAnnotations(elsewhere)),
			want: OwnershipConflict, wantOwner: "team-b/shop-eu-1 (uid uid-elsewhere)"},
		{name: "a Prod whose name shares the first 63 characters", prod: longP, existing: object(OwnerLabels(twin), withAnnotations(twin)),
			want: OwnershipConflict, wantOwner: "team-shop/" + twin.Name + " (uid uid-twin)"},
		{name: "a Prod whose name shares the first 63 characters, even in the inventory", prod: longP,
			existing: object(OwnerLabels(twin), withAnnotations(twin)), inInventory: true,
			want: OwnershipConflict, wantOwner: "team-shop/" + twin.Name + " (uid uid-twin)"},
		{name: "an earlier Prod of the same name", prod: reborn, existing: object(OwnerLabels(p), withAnnotations(p)),
			want: OwnershipConflict, wantOwner: "team-shop/shop-eu-1 (uid uid-p)"},

		{name: "legacy labels, in the inventory", prod: p, existing: object(legacyLabels(p), nil), inInventory: true, want: Apply},
		{name: "legacy labels of a long name, in the inventory", prod: longP, existing: object(legacyLabels(longP), nil), inInventory: true, want: Apply},
		{name: "legacy labels, not in the inventory", prod: p, existing: object(legacyLabels(p), nil),
			want: OwnershipConflict, wantOwner: "team-shop/shop-eu-1"},
		{name: "legacy labels of a long name, not in the inventory", prod: longP, existing: object(legacyLabels(twin), nil),
			want: OwnershipConflict, wantOwner: "team-shop/" + truncateLabel(long)},
		{name: "legacy labels of another Prod, in the inventory", prod: p, existing: object(legacyLabels(other), nil), inInventory: true,
			want: OwnershipConflict, wantOwner: "team-shop/shop-us-1"},
		{name: "legacy labels of another namespace, in the inventory", prod: p, existing: object(legacyLabels(elsewhere), nil), inInventory: true,
			want: OwnershipConflict, wantOwner: "team-b/shop-eu-1"},

		{name: "no labels", prod: p, existing: object(nil, nil), want: NotOwned},
		{name: "no labels, in the inventory", prod: p, existing: object(nil, nil), inInventory: true, want: NotOwned},
		{name: "unrelated labels", prod: p, existing: object(map[string]string{"app": "shop", droverv1.ManagedByLabel: droverv1.FieldManager}, nil), want: NotOwned},
		{name: "a partial label set", prod: p, existing: object(map[string]string{droverv1.ProdNamespaceLabel: "team-shop"}, nil), want: NotOwned},
		{name: "a forged prod-ref annotation", prod: p, existing: object(nil, withAnnotations(p)), want: NotOwned},
		{name: "handed over", prod: p, existing: object(nil, map[string]string{droverv1.AdoptAnnotation: "team-shop/shop-eu-1"}), want: Adopt},
		{name: "handed over to another Prod", prod: p, existing: object(nil, map[string]string{droverv1.AdoptAnnotation: "team-shop/shop-us-1"}), want: NotOwned},
		{name: "handed over by name only", prod: p, existing: object(nil, map[string]string{droverv1.AdoptAnnotation: "shop-eu-1"}), want: NotOwned},
		{name: "handed over with a prefix of the name", prod: longP,
			existing: object(nil, map[string]string{droverv1.AdoptAnnotation: "team-shop/" + truncateLabel(long)}), want: NotOwned},
		{name: "another Prod's, with an adopt annotation", prod: p,
			existing: object(OwnerLabels(other), map[string]string{droverv1.AdoptAnnotation: "team-shop/shop-eu-1"}),
			want:     OwnershipConflict, wantOwner: "team-shop/shop-us-1 (uid uid-other)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var existing metav1.Object
			if tt.existing != nil {
				existing = tt.existing
			}
			got := ClaimObject(tt.prod, existing, tt.inInventory)
			if got.Verdict != tt.want || got.Owner != tt.wantOwner {
				t.Errorf("ClaimObject() = %v %q, want %v %q", got.Verdict, got.Owner, tt.want, tt.wantOwner)
			}
			// Owns agrees with the verdict: only Apply is ownership.
			if existing != nil {
				if owns := Owns(tt.prod, existing, tt.inInventory); owns != (tt.want == Apply) {
					t.Errorf("Owns() = %t with verdict %v", owns, tt.want)
				}
			}
		})
	}
}

func TestOwnsNothingWithoutAUID(t *testing.T) {
	p := prodNamed("team-shop", "shop-eu-1", "")
	if Owns(p, object(map[string]string{droverv1.ProdUIDLabel: ""}, nil), true) {
		t.Fatal("an empty UID label belongs to no Prod")
	}
}

func TestProdOf(t *testing.T) {
	long := strings.Repeat("b", 70)
	tests := []struct {
		name     string
		obj      *metav1.ObjectMeta
		wantNS   string
		wantName string
		wantOK   bool
	}{
		{name: "from the annotation, in full", obj: object(OwnerLabels(prodNamed("team-shop", long, "u")), map[string]string{droverv1.ProdRefAnnotation: "team-shop/" + long}),
			wantNS: "team-shop", wantName: long, wantOK: true},
		{name: "from the labels of an older drover", obj: object(legacyLabels(prodNamed("team-shop", "shop", "u")), nil),
			wantNS: "team-shop", wantName: "shop", wantOK: true},
		{name: "a malformed annotation falls back to the labels", obj: object(legacyLabels(prodNamed("team-shop", "shop", "u")), map[string]string{droverv1.ProdRefAnnotation: "shop"}),
			wantNS: "team-shop", wantName: "shop", wantOK: true},
		{name: "no Prod's", obj: object(map[string]string{"app": "shop"}, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, name, ok := ProdOf(tt.obj)
			if ns != tt.wantNS || name != tt.wantName || ok != tt.wantOK {
				t.Errorf("ProdOf() = %q %q %t, want %q %q %t", ns, name, ok, tt.wantNS, tt.wantName, tt.wantOK)
			}
		})
	}
}

func TestOwnerLabelsAreValid(t *testing.T) {
	p := prodNamed("team-shop", strings.Repeat("c", 62)+"-.x", "0b5a5e8e-1f2d-4c6e-9a7b-3d2e1f0a9b8c")
	if got := OwnerLabels(p)[droverv1.ProdNameLabel]; got != strings.Repeat("c", 62) {
		t.Errorf("name label = %q, want the name cut at 63 characters without a trailing -_.", got)
	}
	if got := OwnerLabels(p)[droverv1.ProdUIDLabel]; got != string(p.UID) {
		t.Errorf("UID label = %q, want %q", got, p.UID)
	}
}
