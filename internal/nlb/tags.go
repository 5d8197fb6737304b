package nlb

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
)

// The ownership contract. Every load balancer, target group and listener drover creates
// for a Prod carries these tags, set at creation; Observe sees a resource only when
// TagManagedBy, TagOwner and TagProdUID all match, so resources of another drover
// installation (another TagOwner) in the same account, of another Prod, or made by hand
// are never read as ours and never modified.
const (
	// TagManagedBy is ManagedByValue on everything drover manages.
	TagManagedBy = "drover.dev/managed-by"
	// ManagedByValue is the value of TagManagedBy.
	ManagedByValue = "drover"
	// TagOwner is the identity of the drover installation (Owner.Manager), so that two
	// installations sharing an AWS account never touch each other's resources.
	TagOwner = "drover.dev/owner"
	// TagProd is "<namespace>/<name>" of the Prod, for people (it is not matched on: a
	// Prod deleted and created again under the same name is a different owner).
	TagProd = "drover.dev/prod"
	// TagProdUID is the Prod's UID: the key of ownership.
	TagProdUID = "drover.dev/prod-uid"
	// TagOctaviaLoadBalancer is the id of the mirrored Octavia load balancer, on the load
	// balancer and the target groups (informational; it is the id when the resource was
	// created).
	TagOctaviaLoadBalancer = "drover.dev/octavia-lb"
	// TagOctaviaPool is the Octavia pool a target group mirrors. Diff matches target
	// groups to pools by it.
	TagOctaviaPool = "drover.dev/octavia-pool"
)

// maxTagValue is AWS's limit on a tag value.
const maxTagValue = 256

// tagValueRE is what AWS accepts in a tag value.
var tagValueRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// validTagValue tells whether AWS accepts s as a tag value.
func validTagValue(s string) bool { return len(s) <= maxTagValue && tagValueRE.MatchString(s) }

// Owner identifies whose NLB it is: the drover installation and the Prod.
type Owner struct {
	// Manager identifies the drover installation (for example the control-plane
	// cluster's name); the value of TagOwner. Required.
	Manager string
	// Namespace and Name of the Prod.
	Namespace, Name string
	// UID of the Prod.
	UID string
}

// Validate checks the owner can be written as tags.
func (o Owner) Validate() error {
	var errs []error
	switch {
	case o.Manager == "":
		errs = append(errs, errors.New("owner: the manager identity is empty"))
	case len(o.Manager) > maxTagValue || !tagValueRE.MatchString(o.Manager):
		errs = append(errs, fmt.Errorf("owner: manager identity %q is not a valid AWS tag value (at most 256 letters, digits, spaces and _.:/=+-@)", o.Manager))
	}
	if o.UID == "" {
		errs = append(errs, errors.New("owner: the Prod UID is empty"))
	} else if len(o.UID) > maxTagValue || !tagValueRE.MatchString(o.UID) {
		errs = append(errs, fmt.Errorf("owner: Prod UID %q is not a valid AWS tag value", o.UID))
	}
	if o.Namespace == "" || o.Name == "" {
		errs = append(errs, errors.New("owner: the Prod namespace and name are required"))
	} else if prod := o.Tags()[TagProd]; !validTagValue(prod) {
		errs = append(errs, fmt.Errorf("owner: Prod %q is not a valid AWS tag value", prod))
	}
	return errors.Join(errs...)
}

// String is "<namespace>/<name>".
func (o Owner) String() string { return o.Namespace + "/" + o.Name }

// Tags are the ownership tags every resource of the owner carries.
func (o Owner) Tags() map[string]string {
	prod := o.String()
	if len(prod) > maxTagValue {
		prod = prod[:maxTagValue]
	}
	return map[string]string{
		TagManagedBy: ManagedByValue,
		TagOwner:     o.Manager,
		TagProd:      prod,
		TagProdUID:   o.UID,
	}
}

// Owns tells whether a resource with these tags belongs to the owner.
func (o Owner) Owns(tags map[string]string) bool {
	return o.Manager != "" && o.UID != "" &&
		tags[TagManagedBy] == ManagedByValue && tags[TagOwner] == o.Manager && tags[TagProdUID] == o.UID
}

// withTags returns a copy of base with extra added.
func withTags(base map[string]string, extra map[string]string) map[string]string {
	out := maps.Clone(base)
	maps.Copy(out, extra)
	return out
}
