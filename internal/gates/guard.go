package gates

import (
	"net/http"
	"net/url"

	"github.com/drover-dev/drover/internal/egress"
	"github.com/drover-dev/drover/internal/tenancy"
)

// Every request a gate makes goes through a client from newClient, and every failure
// reaches the verdict through reason (internal/egress, which the Notifiers' webhooks use
// too): a gate's URL and address are written by a tenant, and its verdict is read by
// anyone who may read the ProdSet. The verdict holds status codes and fixed reasons
// only, never a word of a response body.

var errRedirectElsewhere = egress.ErrRedirectElsewhere

// newClient is egress.Client following same-origin redirects; trusted skips the policy
// (the manager's own --prometheus-address).
func newClient(policy tenancy.Policy, trusted bool) *http.Client {
	return egress.Client(policy, egress.Options{Trusted: trusted})
}

func sameOrigin(a, b *url.URL) bool { return egress.SameOrigin(a, b) }

func reason(err error) string { return egress.Reason(err) }
