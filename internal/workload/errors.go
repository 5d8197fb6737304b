package workload

import (
	"context"
	"errors"
	"net"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/manifests"
)

// ScopeOf answers whether a kind is namespaced from the workload cluster's REST mapper.
func ScopeOf(c client.Client) manifests.ScopeFunc {
	return func(gvk schema.GroupVersionKind) (bool, error) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		return c.IsObjectNamespaced(u)
	}
}

// IsUnreachable reports whether err means the API server could not be reached, as
// opposed to the API server answering with an error.
func IsUnreachable(err error) bool {
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

// IsNoMatch reports an error of a kind the workload cluster does not serve (any more).
func IsNoMatch(err error) bool {
	return meta.IsNoMatchError(err) || (err != nil && apierrors.IsNotFound(errors.Unwrap(err)))
}
