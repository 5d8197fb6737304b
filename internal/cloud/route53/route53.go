// Package route53 is drover's narrow interface to AWS Route53: the weighted records of
// the traffic model (docs/traffic.md, "The two levels of records"), the changes that publish them and
// the health checks behind them. Context first, pagination hidden, every call counted
// in cloudmetrics, throttling retried by aws-sdk-go-v2's retryer and calls paced below
// the account's budget by the client-side rate limit of internal/cloud/awsclient. It
// uses the SDK's types.
//
// Route53 accepts one ChangeResourceRecordSets call per hosted zone at a time; a
// second one is refused with PriorRequestNotComplete. The retryer backs off and tries
// again a few times; when it gives up, the error wraps ErrPriorRequestNotComplete so
// the caller waits (requeues) rather than sending a competing batch.
package route53

import (
	"context"
	"errors"

	sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// Limits of Route53's API.
const (
	// MaxIDsPerListTags is the most resources one ListTagsForResources call takes.
	MaxIDsPerListTags = 10
	// MaxTagsPerChange is the most tags one ChangeTagsForResource call adds (and the
	// most keys it removes).
	MaxTagsPerChange = 10
)

var (
	// ErrPriorRequestNotComplete: Route53 is still accepting an earlier change to the
	// hosted zone, and kept refusing this one until the retryer gave up. Nothing was
	// changed; try again later with the same batch.
	ErrPriorRequestNotComplete = errors.New("route53: a prior change to the hosted zone is not complete")
	// ErrHealthCheckAlreadyExists: the CallerReference of CreateHealthCheck was used
	// before, either for a health check with other settings or for one since deleted.
	// Route53 will not reuse it; create with a new CallerReference.
	ErrHealthCheckAlreadyExists = errors.New("route53: a health check with this caller reference exists or existed")
	// ErrRefused: Route53 refused the request for what it asks, not for when or how often
	// (InvalidChangeBatch, InvalidInput, a health check limit or configuration it will
	// not take). The same request fails again; its message names what was wrong.
	ErrRefused = errors.New("route53: request refused")
)

// API is what drover calls on Route53. Deletes of something already gone succeed.
// Errors for a resource that does not exist wrap cloudmetrics.ErrNotFound. It holds
// the API of the traffic provider (internal/traffic/route53), method for method.
type API interface {
	// HostedZone returns the hosted zone with id ("Z123" or "/hostedzone/Z123").
	HostedZone(ctx context.Context, zoneID string) (*types.HostedZone, error)

	// ChangeResourceRecordSets sends changes to the hosted zone as one batch, in one
	// call (atomic: all or none apply), and returns the id of the change (without the
	// "/change/" prefix) for GetChange. The error wraps ErrPriorRequestNotComplete when
	// an earlier change to the zone kept the batch out.
	ChangeResourceRecordSets(ctx context.Context, zoneID string, changes []types.Change, comment string) (changeID string, err error)
	// GetChange returns the status of a change: PENDING until every Route53 server has
	// it, then INSYNC.
	GetChange(ctx context.Context, changeID string) (types.ChangeStatus, error)
	// ListResourceRecordSets returns the record sets of name and of every name below
	// it: RecordSets with RecordQuery{Name: name, Subdomains: true}.
	ListResourceRecordSets(ctx context.Context, zoneID, name string) ([]types.ResourceRecordSet, error)
	// RecordSets returns the record sets of the hosted zone that q selects, reading
	// from q.Name on and stopping after the last name q can match, so a large zone is
	// not read whole.
	RecordSets(ctx context.Context, zoneID string, q RecordQuery) ([]types.ResourceRecordSet, error)

	// HealthChecks returns every health check of the account (all pages).
	HealthChecks(ctx context.Context) ([]types.HealthCheck, error)
	// HealthCheck returns the health check with id.
	HealthCheck(ctx context.Context, id string) (*types.HealthCheck, error)
	// HealthChecksTagged returns, by id, the tags of every health check tagged
	// key=value.
	HealthChecksTagged(ctx context.Context, key, value string) (map[string]map[string]string, error)
	// CreateHealthCheck creates a health check with tags and returns its id. It is
	// idempotent by callerReference: the same reference with the same config returns
	// the health check made before (and sets its tags). The same reference with another
	// config, or of a deleted health check, fails with an error wrapping
	// ErrHealthCheckAlreadyExists.
	CreateHealthCheck(ctx context.Context, callerReference string, cfg *types.HealthCheckConfig, tags map[string]string) (id string, err error)
	// UpdateHealthCheck changes a health check's settings.
	UpdateHealthCheck(ctx context.Context, in *sdk.UpdateHealthCheckInput) (*types.HealthCheck, error)
	// DeleteHealthCheck deletes a health check; one that does not exist is deleted.
	DeleteHealthCheck(ctx context.Context, id string) error
	// HealthCheckStatus returns what Route53's checkers last observed of a health check.
	HealthCheckStatus(ctx context.Context, id string) ([]types.HealthCheckObservation, error)
	// HealthCheckTags returns the tags of each health check, asking in chunks of
	// MaxIDsPerListTags. Health checks that no longer exist are left out.
	HealthCheckTags(ctx context.Context, ids []string) (map[string]map[string]string, error)
	// ChangeHealthCheckTags adds (or overwrites) the tags add and removes the keys
	// remove on a health check, in chunks of MaxTagsPerChange.
	ChangeHealthCheckTags(ctx context.Context, id string, add map[string]string, remove []string) error
}

// RecordQuery selects record sets of a hosted zone by name.
type RecordQuery struct {
	// Name is the DNS name ("shop.example.com", with or without the final dot; case
	// does not matter). Special characters are written as Route53 returns them: "*" as
	// "\052".
	Name string
	// Subdomains also selects the record sets of every name below Name
	// ("a.shop.example.com" for "shop.example.com").
	Subdomains bool
	// Type, when set, selects only record sets of this type.
	Type types.RRType
}
