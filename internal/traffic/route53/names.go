package route53

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// DefaultOwner is the owner id of a manager that sets none.
const DefaultOwner = "drover"

// Path names one of a Prod's two paths.
type Path string

// The paths of a Prod.
const (
	OctaviaPath Path = "octavia"
	NLBPath     Path = "nlb"
)

// Paths lists both paths in the order their records are written.
var Paths = []Path{OctaviaPath, NLBPath}

// Naming and ownership, the rule by which drover knows its records (docs/traffic.md):
//
//   - the service-level record of Prod <ns>/<name> is the weighted record of the service
//     name with SetIdentifier "<owner>/<ns>/<name>";
//   - the Prod's own name is "<name>.<ns>.drover.<service>" (or "h<hash>.drover.<service>"
//     when that would not be a valid DNS name), and its path records are the weighted
//     records of that name with SetIdentifiers "<owner>/<ns>/<name>/octavia" and ".../nlb";
//   - drover reads, changes and deletes only records whose name is the service name or
//     ends in ".drover.<service>" AND whose SetIdentifier starts with "<owner>/"; health
//     checks only when tagged drover.dev/owner=<owner>.
//
// SetIdentifiers are unique across the zone (not only per name), so a DELETE by
// SetIdentifier never reaches another record.

// serviceSetID is the SetIdentifier of a Prod's service-level record.
func serviceSetID(owner, id string) string { return owner + "/" + id }

// pathSetID is the SetIdentifier of one of a Prod's path records.
func pathSetID(owner, id string, p Path) string { return owner + "/" + id + "/" + string(p) }

// ProdRecordName is the Prod's own name under the service: what its service-level record
// aliases and what its path records are named. id is "<namespace>/<name>".
func ProdRecordName(service, id string) string {
	service = canonical(service)
	ns, name, _ := strings.Cut(id, "/")
	full := name + "." + ns + ".drover." + service
	if validName(name) && validName(ns) && len(full) <= 253 {
		return full
	}
	sum := sha256.Sum256([]byte(id))
	return "h" + hex.EncodeToString(sum[:])[:20] + ".drover." + service
}

// validName reports whether s can stand as DNS labels (a Kubernetes name may hold dots,
// which make more labels; each must be 1–63 characters).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	return true
}

// canonical lower-cases a DNS name and drops its final dot; Route53 returns names with
// the dot, and compares them without regard to case.
func canonical(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

// sameName reports whether two DNS names are the same.
func sameName(a, b string) bool { return canonical(a) == canonical(b) }

// underService reports whether name is one of the Prod names under service.
func underService(name, service string) bool {
	return strings.HasSuffix(canonical(name), ".drover."+canonical(service))
}

// owned reports whether a record of the service's subtree is drover's (this owner's).
func owned(owner, service, name, setID string) bool {
	if setID == "" || !strings.HasPrefix(setID, owner+"/") {
		return false
	}
	return sameName(name, service) || underService(name, service)
}
