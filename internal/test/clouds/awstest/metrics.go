package awstest

import (
	dto "github.com/prometheus/client_model/go"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
)

// Calls is drover_cloud_api_calls_total{service,operation,outcome} now. (The counter is
// global: tests that compare it must not run in parallel with others that call the same
// operation.)
func Calls(service, operation, outcome string) int {
	var m dto.Metric
	if err := cloudmetrics.Calls.WithLabelValues(service, operation, outcome).Write(&m); err != nil {
		panic(err)
	}
	return int(m.GetCounter().GetValue())
}

// CallsSince returns a function that tells how many calls of service's operation with
// outcome were counted since CallsSince was called.
func CallsSince(service, operation, outcome string) func() int {
	before := Calls(service, operation, outcome)
	return func() int { return Calls(service, operation, outcome) - before }
}
