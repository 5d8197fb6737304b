package awstest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Network is moto's default VPC of Region and its subnets, one per availability zone.
// (ELBv2 needs subnets for a load balancer and a VPC for an ip target group; drover
// itself never calls EC2, so the SDK's EC2 client is not a dependency and this asks
// moto's EC2 query API directly.)
type Network struct {
	VPCID   string
	CIDR    string
	Subnets []Subnet
}

// Subnet is a subnet of the default VPC.
type Subnet struct {
	ID               string
	AvailabilityZone string
}

// SubnetIDs are the ids of n's subnets.
func (n Network) SubnetIDs() []string {
	ids := make([]string, len(n.Subnets))
	for i, s := range n.Subnets {
		ids[i] = s.ID
	}
	return ids
}

// DefaultNetwork returns moto's default VPC and its subnets (new ids after each reset).
func (m *Moto) DefaultNetwork(t testing.TB) Network {
	t.Helper()
	n, err := m.LookupDefaultNetwork(t.Context())
	if err != nil {
		t.Fatalf("awstest: %v", err)
	}
	return n
}

// LookupDefaultNetwork is DefaultNetwork outside of tests (a server of StartServer).
func (m *Moto) LookupDefaultNetwork(ctx context.Context) (Network, error) {
	var vpcs struct {
		Items []struct {
			ID   string `xml:"vpcId"`
			CIDR string `xml:"cidrBlock"`
		} `xml:"vpcSet>item"`
	}
	if err := m.ec2(ctx, url.Values{"Action": {"DescribeVpcs"}, "Filter.1.Name": {"is-default"}, "Filter.1.Value.1": {"true"}}, &vpcs); err != nil {
		return Network{}, err
	}
	if len(vpcs.Items) != 1 {
		return Network{}, fmt.Errorf("moto has %d default VPCs in %s, want 1", len(vpcs.Items), Region)
	}
	n := Network{VPCID: vpcs.Items[0].ID, CIDR: vpcs.Items[0].CIDR}
	var subnets struct {
		Items []struct {
			ID   string `xml:"subnetId"`
			Zone string `xml:"availabilityZone"`
		} `xml:"subnetSet>item"`
	}
	if err := m.ec2(ctx, url.Values{"Action": {"DescribeSubnets"}, "Filter.1.Name": {"vpc-id"}, "Filter.1.Value.1": {n.VPCID}}, &subnets); err != nil {
		return Network{}, err
	}
	for _, s := range subnets.Items {
		n.Subnets = append(n.Subnets, Subnet{ID: s.ID, AvailabilityZone: s.Zone})
	}
	if len(n.Subnets) == 0 {
		return Network{}, fmt.Errorf("moto's default VPC %s has no subnets", n.VPCID)
	}
	return n, nil
}

// ec2 calls moto's EC2 query API, signed like the SDK signs, and decodes the answer.
func (m *Moto) ec2(ctx context.Context, params url.Values, into any) error {
	params.Set("Version", "2016-11-15")
	body := params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.endpoint+"/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	creds, err := m.Options().Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ec2", Region, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("EC2 %s: %w", params.Get("Action"), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("EC2 %s: %w", params.Get("Action"), err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("EC2 %s: %s: %s", params.Get("Action"), resp.Status, data)
	}
	if err := xml.Unmarshal(data, into); err != nil {
		return fmt.Errorf("EC2 %s: decoding %q: %w", params.Get("Action"), data, err)
	}
	return nil
}
