package manifests

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Ownership of workload objects. The record is the label drover.dev/prod-uid: a Prod's UID
// is complete and unique, where the name label is cut at 63 characters (two long-named
// Prods of one namespace would share it) and a name comes back when a Prod is deleted and
// made again. The name and namespace labels stay for people and selectors, the
// drover.dev/prod-ref annotation holds the Prod's full "<namespace>/<name>".
//
// An object drover applied before the UID label existed has only the name and namespace
// labels; it counts as the Prod's while the Prod's status.inventory lists it, and the next
// apply adds the UID label.
//
// drover never takes an object it did not create: one that exists without drover's labels
// is applied over only when its drover.dev/adopt annotation names the Prod.

// OwnerLabels are the labels drover puts on every object it applies for a Prod.
func OwnerLabels(prod *droverv1.Prod) map[string]string {
	return map[string]string{
		droverv1.ProdUIDLabel:       string(prod.UID),
		droverv1.ProdNameLabel:      truncateLabel(prod.Name),
		droverv1.ProdNamespaceLabel: prod.Namespace,
		droverv1.ManagedByLabel:     droverv1.FieldManager,
	}
}

// ProdRef is "<namespace>/<name>" of a Prod, in full: the value of ProdRefAnnotation and
// of AdoptAnnotation.
func ProdRef(prod *droverv1.Prod) string { return prod.Namespace + "/" + prod.Name }

// Owns reports whether a workload object belongs to prod: it carries prod's UID label, or
// (applied by a drover older than that label) it has no UID label, carries prod's name
// and namespace labels and is in prod's inventory (inInventory).
func Owns(prod *droverv1.Prod, obj metav1.Object, inInventory bool) bool {
	l := obj.GetLabels()
	if uid, has := l[droverv1.ProdUIDLabel]; has {
		return prod.UID != "" && uid == string(prod.UID)
	}
	return inInventory && legacyLabelsOf(prod, l)
}

// legacyLabelsOf reports whether labels are the ones a drover without the UID label put on
// prod's objects: the name (cut at 63 characters), namespace and managed-by labels.
func legacyLabelsOf(prod *droverv1.Prod, l map[string]string) bool {
	return l[droverv1.ProdNameLabel] == truncateLabel(prod.Name) &&
		l[droverv1.ProdNamespaceLabel] == prod.Namespace &&
		l[droverv1.ManagedByLabel] == droverv1.FieldManager
}

// Verdict is what may be done with an object of the manifests that exists (or not) on the
// workload cluster.
type Verdict int

const (
	// Create: the object does not exist.
	Create Verdict = iota
	// Apply: the object is the Prod's.
	Apply
	// Adopt: the object exists without drover's labels and its AdoptAnnotation names
	// the Prod: applying takes it over.
	Adopt
	// NotOwned: the object exists without drover's labels and is not handed over.
	NotOwned
	// OwnershipConflict: the object belongs to another Prod.
	OwnershipConflict
)

func (v Verdict) String() string {
	switch v {
	case Create:
		return "Create"
	case Apply:
		return "Apply"
	case Adopt:
		return "Adopt"
	case NotOwned:
		return "NotOwned"
	case OwnershipConflict:
		return "OwnershipConflict"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Claim is the verdict on one object and, for OwnershipConflict, whose it is.
type Claim struct {
	Verdict Verdict
	// Owner describes the Prod the object belongs to ("<namespace>/<name>", with its UID
	// when the object has one), for OwnershipConflict.
	Owner string
}

// ClaimObject decides what may be done with an object prod is about to apply. existing is
// the object as the workload cluster has it, nil when it does not exist; inInventory says
// whether prod's status.inventory lists it.
//
//   - absent: Create;
//   - prod's (Owns): Apply;
//   - another Prod's (another UID label; or no UID label and drover's name label of
//     another Prod, or of prod's name but not in its inventory): OwnershipConflict;
//   - no drover labels: Adopt when its AdoptAnnotation is exactly ProdRef(prod), else
//     NotOwned.
func ClaimObject(prod *droverv1.Prod, existing metav1.Object, inInventory bool) Claim {
	if existing == nil {
		return Claim{Verdict: Create}
	}
	if Owns(prod, existing, inInventory) {
		return Claim{Verdict: Apply}
	}
	l := existing.GetLabels()
	uid, hasUID := l[droverv1.ProdUIDLabel]
	name, hasName := l[droverv1.ProdNameLabel]
	if hasUID || hasName {
		owner := existing.GetAnnotations()[droverv1.ProdRefAnnotation]
		if owner == "" {
			owner = l[droverv1.ProdNamespaceLabel] + "/" + name
		}
		if hasUID {
			owner += " (uid " + uid + ")"
		}
		return Claim{Verdict: OwnershipConflict, Owner: owner}
	}
	if existing.GetAnnotations()[droverv1.AdoptAnnotation] == ProdRef(prod) {
		return Claim{Verdict: Adopt}
	}
	return Claim{Verdict: NotOwned}
}

// ProdOf returns the namespace and name of the Prod a workload object belongs to, from its
// ProdRefAnnotation, else from its name and namespace labels (the name possibly cut), and
// ok false when it carries neither.
func ProdOf(obj metav1.Object) (namespace, name string, ok bool) {
	if ref := obj.GetAnnotations()[droverv1.ProdRefAnnotation]; ref != "" {
		if ns, n, found := strings.Cut(ref, "/"); found && ns != "" && n != "" {
			return ns, n, true
		}
	}
	l := obj.GetLabels()
	namespace, name = l[droverv1.ProdNamespaceLabel], l[droverv1.ProdNameLabel]
	return namespace, name, namespace != "" && name != ""
}

func truncateLabel(s string) string {
	if len(s) <= validation.LabelValueMaxLength {
		return s
	}
	return strings.TrimRight(s[:validation.LabelValueMaxLength], "-_.")
}
