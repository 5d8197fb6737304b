package route53

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
)

// DefaultPageSize is the page size of ListResourceRecordSets and ListHealthChecks:
// Route53's maximum for record sets (it allows 1,000 health checks, but a page of 300
// keeps the answers small).
const DefaultPageSize = 300

// notFoundCodes are Route53's error codes for something that does not exist.
var notFoundCodes = []string{"NoSuchHostedZone", "NoSuchHealthCheck", "NoSuchChange"}

var classify = awsclient.Classifier(notFoundCodes...)

// refusedCodes are Route53's error codes for a request it will not take as it is
// (ErrRefused).
var refusedCodes = []string{"InvalidChangeBatch", "InvalidInput", "TooManyHealthChecks", "InvalidArgument"}

// Options configure a Client.
type Options struct {
	// PageSize is the MaxItems of the listing calls (1–300); 0 means DefaultPageSize.
	PageSize int32
}

// Client implements API over aws-sdk-go-v2's Route53 client (from awsclient.Clients,
// which brings the retryer and the rate limit).
type Client struct {
	sdk      *sdk.Client
	pageSize int32
}

var _ API = (*Client)(nil)

// New returns a Client calling c.
func New(c *sdk.Client, o Options) *Client {
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	return &Client{sdk: c, pageSize: o.PageSize}
}

// done counts one call of op and returns its error, wrapped with the operation's name
// and the sentinel that matches it: cloudmetrics.ErrNotFound,
// ErrPriorRequestNotComplete, ErrHealthCheckAlreadyExists.
func done(op string, err error) error {
	cloudmetrics.Observe(cloudmetrics.Route53, op, err, classify)
	if err == nil {
		return nil
	}
	switch code := awsclient.ErrorCode(err); {
	case slices.Contains(notFoundCodes, code):
		return fmt.Errorf("route53 %s: %w: %w", op, cloudmetrics.ErrNotFound, err)
	case code == "PriorRequestNotComplete":
		return fmt.Errorf("route53 %s: %w: %w", op, ErrPriorRequestNotComplete, err)
	case code == "HealthCheckAlreadyExists":
		return fmt.Errorf("route53 %s: %w: %w", op, ErrHealthCheckAlreadyExists, err)
	case slices.Contains(refusedCodes, code):
		return fmt.Errorf("route53 %s: %w: %w", op, ErrRefused, err)
	}
	return fmt.Errorf("route53 %s: %w", op, err)
}

// HostedZone implements API.
func (c *Client) HostedZone(ctx context.Context, zoneID string) (*types.HostedZone, error) {
	out, err := c.sdk.GetHostedZone(ctx, &sdk.GetHostedZoneInput{Id: aws.String(zoneID)})
	if err := done("GetHostedZone", err); err != nil {
		return nil, err
	}
	return out.HostedZone, nil
}

// ChangeResourceRecordSets implements API.
func (c *Client) ChangeResourceRecordSets(ctx context.Context, zoneID string, changes []types.Change, comment string) (string, error) {
	if len(changes) == 0 {
		return "", errors.New("route53 ChangeResourceRecordSets: no changes")
	}
	batch := &types.ChangeBatch{Changes: changes}
	if comment != "" {
		batch.Comment = aws.String(comment)
	}
	out, err := c.sdk.ChangeResourceRecordSets(ctx, &sdk.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), ChangeBatch: batch})
	if err := done("ChangeResourceRecordSets", err); err != nil {
		return "", err
	}
	if out.ChangeInfo == nil {
		return "", errors.New("route53 ChangeResourceRecordSets: no ChangeInfo in the answer")
	}
	return strings.TrimPrefix(aws.ToString(out.ChangeInfo.Id), "/change/"), nil
}

// GetChange implements API.
func (c *Client) GetChange(ctx context.Context, changeID string) (types.ChangeStatus, error) {
	out, err := c.sdk.GetChange(ctx, &sdk.GetChangeInput{Id: aws.String(changeID)})
	if err := done("GetChange", err); err != nil {
		return "", err
	}
	if out.ChangeInfo == nil {
		return "", errors.New("route53 GetChange: no ChangeInfo in the answer")
	}
	return out.ChangeInfo.Status, nil
}

// ListResourceRecordSets implements API.
func (c *Client) ListResourceRecordSets(ctx context.Context, zoneID, name string) ([]types.ResourceRecordSet, error) {
	return c.RecordSets(ctx, zoneID, RecordQuery{Name: name, Subdomains: true})
}

// RecordSets implements API.
//
// Route53 lists a zone sorted by name with the labels reversed ("com.example.shop."),
// so the record sets of a name, and those of a name and every name below it, are
// contiguous: the listing starts at q.Name and stops at the first record set past them.
// A record set seen twice is kept once, and a page that would not move the listing on
// is an error rather than a loop (moto ignores StartRecordIdentifier and starts a
// weighted set over).
func (c *Client) RecordSets(ctx context.Context, zoneID string, q RecordQuery) ([]types.ResourceRecordSet, error) {
	name := fqdn(q.Name)
	if name == "." {
		return nil, errors.New("route53 ListResourceRecordSets: no name to list")
	}
	under := reverse(name)
	type start struct {
		name, identifier string
		typ              types.RRType
	}
	type key struct {
		name, identifier string
		typ              types.RRType
	}
	at := start{name: name}
	seen := map[key]bool{}
	var sets []types.ResourceRecordSet
	for {
		in := &sdk.ListResourceRecordSetsInput{
			HostedZoneId:    aws.String(zoneID),
			StartRecordName: aws.String(at.name),
			MaxItems:        aws.Int32(c.pageSize),
		}
		if at.typ != "" {
			in.StartRecordType = at.typ
		}
		if at.identifier != "" {
			in.StartRecordIdentifier = aws.String(at.identifier)
		}
		out, err := c.sdk.ListResourceRecordSets(ctx, in)
		if err := done("ListResourceRecordSets", err); err != nil {
			return nil, err
		}
		for _, rs := range out.ResourceRecordSets {
			n := fqdn(aws.ToString(rs.Name))
			below := strings.HasSuffix(n, "."+name)
			if n != name && (!q.Subdomains || !strings.HasPrefix(reverse(n), under)) {
				// Past the names asked for. (With Subdomains, a sibling such as
				// "shopx.example.com" sorts among them and is skipped below.)
				return sets, nil
			}
			if n != name && !below {
				continue
			}
			if q.Type != "" && rs.Type != q.Type {
				continue
			}
			k := key{name: n, typ: rs.Type, identifier: aws.ToString(rs.SetIdentifier)}
			if seen[k] {
				continue
			}
			seen[k] = true
			sets = append(sets, rs)
		}
		if !out.IsTruncated {
			return sets, nil
		}
		next := start{
			name:       fqdn(aws.ToString(out.NextRecordName)),
			typ:        out.NextRecordType,
			identifier: aws.ToString(out.NextRecordIdentifier),
		}
		if next == at {
			return nil, fmt.Errorf("route53 ListResourceRecordSets: the listing of zone %s does not move on from %s %s %s", zoneID, at.name, at.typ, at.identifier)
		}
		at = next
	}
}

// fqdn returns name in lower case with the final dot, as Route53 returns names.
func fqdn(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, ".")) + "."
}

// reverse returns the labels of a fully qualified name in reverse order, dot-separated
// without the final dot: "shop.example.com." → "com.example.shop".
func reverse(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

// HealthChecks implements API.
func (c *Client) HealthChecks(ctx context.Context) ([]types.HealthCheck, error) {
	var all []types.HealthCheck
	p := sdk.NewListHealthChecksPaginator(c.sdk, &sdk.ListHealthChecksInput{MaxItems: aws.Int32(c.pageSize)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err := done("ListHealthChecks", err); err != nil {
			return nil, err
		}
		all = append(all, out.HealthChecks...)
	}
	return all, nil
}

// HealthCheck implements API.
func (c *Client) HealthCheck(ctx context.Context, id string) (*types.HealthCheck, error) {
	out, err := c.sdk.GetHealthCheck(ctx, &sdk.GetHealthCheckInput{HealthCheckId: aws.String(id)})
	if err := done("GetHealthCheck", err); err != nil {
		return nil, err
	}
	return out.HealthCheck, nil
}

// HealthChecksTagged implements API: every health check (ListHealthChecks), then their
// tags (ListTagsForResources).
func (c *Client) HealthChecksTagged(ctx context.Context, key, value string) (map[string]map[string]string, error) {
	hcs, err := c.HealthChecks(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(hcs))
	for _, hc := range hcs {
		ids = append(ids, aws.ToString(hc.Id))
	}
	tags, err := c.HealthCheckTags(ctx, ids)
	if err != nil {
		return nil, err
	}
	maps.DeleteFunc(tags, func(_ string, t map[string]string) bool {
		v, ok := t[key]
		return !ok || v != value
	})
	return tags, nil
}

// CreateHealthCheck implements API. A health check Route53 created but could not tag
// is found again by the same callerReference and config, and tagged then.
func (c *Client) CreateHealthCheck(ctx context.Context, callerReference string, cfg *types.HealthCheckConfig, tags map[string]string) (string, error) {
	out, err := c.sdk.CreateHealthCheck(ctx, &sdk.CreateHealthCheckInput{
		CallerReference:   aws.String(callerReference),
		HealthCheckConfig: cfg,
	})
	if err := done("CreateHealthCheck", err); err != nil {
		return "", err
	}
	if out.HealthCheck == nil || aws.ToString(out.HealthCheck.Id) == "" {
		return "", errors.New("route53 CreateHealthCheck: no health check in the answer")
	}
	id := aws.ToString(out.HealthCheck.Id)
	if err := c.ChangeHealthCheckTags(ctx, id, tags, nil); err != nil {
		return "", fmt.Errorf("tagging the new health check %s: %w", id, err)
	}
	return id, nil
}

// UpdateHealthCheck implements API.
func (c *Client) UpdateHealthCheck(ctx context.Context, in *sdk.UpdateHealthCheckInput) (*types.HealthCheck, error) {
	out, err := c.sdk.UpdateHealthCheck(ctx, in)
	if err := done("UpdateHealthCheck", err); err != nil {
		return nil, err
	}
	return out.HealthCheck, nil
}

// DeleteHealthCheck implements API.
func (c *Client) DeleteHealthCheck(ctx context.Context, id string) error {
	_, err := c.sdk.DeleteHealthCheck(ctx, &sdk.DeleteHealthCheckInput{HealthCheckId: aws.String(id)})
	if err := done("DeleteHealthCheck", err); err != nil && !errors.Is(err, cloudmetrics.ErrNotFound) {
		return err
	}
	return nil
}

// HealthCheckStatus implements API.
func (c *Client) HealthCheckStatus(ctx context.Context, id string) ([]types.HealthCheckObservation, error) {
	out, err := c.sdk.GetHealthCheckStatus(ctx, &sdk.GetHealthCheckStatusInput{HealthCheckId: aws.String(id)})
	if err := done("GetHealthCheckStatus", err); err != nil {
		return nil, err
	}
	return out.HealthCheckObservations, nil
}

// HealthCheckTags implements API. A chunk that fails because one of its health checks
// no longer exists is asked again one id at a time.
func (c *Client) HealthCheckTags(ctx context.Context, ids []string) (map[string]map[string]string, error) {
	tags := make(map[string]map[string]string, len(ids))
	for chunk := range slices.Chunk(ids, MaxIDsPerListTags) {
		err := c.listTags(ctx, chunk, tags)
		if err == nil {
			continue
		}
		if !errors.Is(err, cloudmetrics.ErrNotFound) || len(chunk) == 1 {
			return nil, err
		}
		for _, id := range chunk {
			if err := c.listTags(ctx, []string{id}, tags); err != nil && !errors.Is(err, cloudmetrics.ErrNotFound) {
				return nil, err
			}
		}
	}
	return tags, nil
}

func (c *Client) listTags(ctx context.Context, ids []string, into map[string]map[string]string) error {
	out, err := c.sdk.ListTagsForResources(ctx, &sdk.ListTagsForResourcesInput{
		ResourceType: types.TagResourceTypeHealthcheck,
		ResourceIds:  ids,
	})
	if err := done("ListTagsForResources", err); err != nil {
		return err
	}
	for _, set := range out.ResourceTagSets {
		m := make(map[string]string, len(set.Tags))
		for _, t := range set.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		into[aws.ToString(set.ResourceId)] = m
	}
	return nil
}

// ChangeHealthCheckTags implements API. Tags are sent in key order.
func (c *Client) ChangeHealthCheckTags(ctx context.Context, id string, add map[string]string, remove []string) error {
	addKeys := slices.Sorted(maps.Keys(add))
	remove = slices.Sorted(slices.Values(remove))
	for len(addKeys) > 0 || len(remove) > 0 {
		in := &sdk.ChangeTagsForResourceInput{ResourceType: types.TagResourceTypeHealthcheck, ResourceId: aws.String(id)}
		n := min(len(addKeys), MaxTagsPerChange)
		for _, k := range addKeys[:n] {
			in.AddTags = append(in.AddTags, types.Tag{Key: aws.String(k), Value: aws.String(add[k])})
		}
		addKeys = addKeys[n:]
		if n = min(len(remove), MaxTagsPerChange); n > 0 {
			in.RemoveTagKeys, remove = remove[:n], remove[n:]
		}
		_, err := c.sdk.ChangeTagsForResource(ctx, in)
		if err := done("ChangeTagsForResource", err); err != nil {
			return err
		}
	}
	return nil
}
