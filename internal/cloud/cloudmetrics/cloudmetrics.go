// Package cloudmetrics counts the calls drover makes to cloud APIs, by service,
// operation and outcome, in the controller-runtime metrics registry (served on the
// manager's metrics endpoint). Every cloud client records each call it makes here, so a
// test or an operator can tell exactly which write calls a sync made.
package cloudmetrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Outcomes of a call.
const (
	// Success: the call returned without error.
	Success = "success"
	// NotFound: the resource did not exist (for a delete, the wanted state).
	NotFound = "not_found"
	// Throttled: the cloud refused the call for its rate (after the retryer gave up).
	Throttled = "throttled"
	// Error: any other failure.
	Error = "error"
)

// Services.
const (
	ELBv2   = "elbv2"
	Route53 = "route53"
	Octavia = "octavia"
)

// Calls is drover_cloud_api_calls_total{service,operation,outcome}: one count per call
// as the caller saw it (an SDK retry inside one call counts once).
var Calls = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "drover_cloud_api_calls_total",
	Help: "Calls drover made to cloud APIs, by service, operation and outcome (success, not_found, throttled, error).",
}, []string{"service", "operation", "outcome"})

func init() {
	metrics.Registry.MustRegister(Calls)
}

// Classifier tells the outcome of a failed call; clients pass their own.
type Classifier func(error) string

// Observe counts one call of service's operation with the outcome of err.
func Observe(service, operation string, err error, classify Classifier) {
	outcome := Success
	if err != nil {
		outcome = Error
		if classify != nil {
			outcome = classify(err)
		}
	}
	Calls.WithLabelValues(service, operation, outcome).Inc()
}

// ErrNotFound is what the clients wrap when the cloud says a resource does not exist.
var ErrNotFound = errors.New("not found")
