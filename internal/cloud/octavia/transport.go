package octavia

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"golang.org/x/time/rate"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
)

// transport waits for the rate limiter before each request and counts each request to
// Octavia (a path under /lbaas/) in cloudmetrics; Keystone's are limited, not counted.
type transport struct {
	base    http.RoundTripper
	limiter *rate.Limiter
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	op, counted := operation(req.Method, req.URL.Path)
	if err := t.limiter.Wait(req.Context()); err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even on error
		}
		if counted {
			cloudmetrics.Observe(cloudmetrics.Octavia, op, err, classify)
		}
		return nil, fmt.Errorf("octavia: waiting for the client's rate limit: %w", err)
	}
	resp, err := t.base.RoundTrip(req)
	if counted {
		callErr := err
		if err == nil && resp.StatusCode >= http.StatusBadRequest {
			callErr = statusError(resp.StatusCode)
		}
		cloudmetrics.Observe(cloudmetrics.Octavia, op, callErr, classify)
	}
	return resp, err
}

// statusError is an HTTP error status, as the transport sees it.
type statusError int

func (e statusError) Error() string { return fmt.Sprintf("HTTP %d", int(e)) }

// classify tells the outcome of a failed call: from the transport's status, or from
// a gophercloud error.
func classify(err error) string {
	var se statusError
	is := func(code int) bool {
		return (errors.As(err, &se) && int(se) == code) || gophercloud.ResponseCodeIs(err, code)
	}
	switch {
	case is(http.StatusNotFound):
		return cloudmetrics.NotFound
	case is(http.StatusTooManyRequests):
		return cloudmetrics.Throttled
	}
	return cloudmetrics.Error
}

// resources names the Octavia resources in operation names, by their URL segment.
var resources = map[string][2]string{ // segment: singular, plural
	"loadbalancers":  {"LoadBalancer", "LoadBalancers"},
	"listeners":      {"Listener", "Listeners"},
	"pools":          {"Pool", "Pools"},
	"members":        {"Member", "Members"},
	"healthmonitors": {"HealthMonitor", "HealthMonitors"},
	"l7policies":     {"L7Policy", "L7Policies"},
	"rules":          {"L7Rule", "L7Rules"},
	"amphorae":       {"Amphora", "Amphorae"},
	"flavors":        {"Flavor", "Flavors"},
	"quotas":         {"Quota", "Quotas"},
	"providers":      {"Provider", "Providers"},
}

// operation names the Octavia API call of method and path in the style of the
// OpenStack API reference ("GetLoadBalancer", "ListMembers", "UpdateMembers" for the
// batch PUT); counted is false for what is not Octavia's (Keystone's).
func operation(method, path string) (op string, counted bool) {
	i := strings.Index(path, "/lbaas/")
	if i < 0 {
		return "", false
	}
	segs := strings.Split(strings.Trim(path[i+len("/lbaas/"):], "/"), "/")
	// Resources alternate with ids: pools/{id}/members/{id}; a trailing word that is
	// not a resource is a sub-action (loadbalancers/{id}/status, .../failover).
	last, withID, action := segs[0], false, ""
	for j := 0; j < len(segs); j += 2 {
		if _, ok := resources[segs[j]]; !ok && j > 0 {
			action = segs[j]
			break
		}
		last, withID = segs[j], j+1 < len(segs)
	}
	names, ok := resources[last]
	if !ok {
		return method + " " + last, true
	}
	if action != "" {
		return verb(method) + names[0] + strings.ToUpper(action[:1]) + action[1:], true
	}
	switch {
	case method == http.MethodGet && withID:
		return "Get" + names[0], true
	case method == http.MethodGet:
		return "List" + names[1], true
	case method == http.MethodPost:
		return "Create" + names[0], true
	case method == http.MethodPut && withID:
		return "Update" + names[0], true
	case method == http.MethodPut:
		return "Update" + names[1], true // the batch update of a pool's members
	case method == http.MethodDelete:
		return "Delete" + names[0], true
	}
	return method + " " + last, true
}

func verb(method string) string {
	switch method {
	case http.MethodGet:
		return "Get"
	case http.MethodPut:
		return "Put"
	case http.MethodPost:
		return "Post"
	case http.MethodDelete:
		return "Delete"
	}
	return method
}
