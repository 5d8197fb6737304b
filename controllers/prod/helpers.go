package prod

import (
	"context"
	"errors"
	"net"
	"net/url"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/manifests"
)

// scopeOf answers whether a kind is namespaced from the workload cluster's REST mapper.
func scopeOf(c client.Client) manifests.ScopeFunc {
	return func(gvk schema.GroupVersionKind) (bool, error) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		return c.IsObjectNamespaced(u)
	}
}

// isUnreachable reports whether err means the API server could not be reached, as
// opposed to the API server answering with an error.
func isUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	var urlErr *url.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &opErr), errors.As(err, &urlErr), errors.As(err, &netErr):
		return true
	case utilnet.IsConnectionRefused(err), utilnet.IsConnectionReset(err), utilnet.IsProbableEOF(err):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case apierrors.IsServiceUnavailable(err), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return true
	}
	return false
}

// isNoMatch reports an error of a kind the workload cluster does not serve (any more).
func isNoMatch(err error) bool {
	return meta.IsNoMatchError(err) || (err != nil && apierrors.IsNotFound(errors.Unwrap(err)))
}

func ptrTrue(b *bool) bool { return b != nil && *b }

// since says how long before now t was ("12s ago"), or "never" for the zero time.
func since(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return now.Sub(t).Truncate(time.Second).String() + " ago"
}
