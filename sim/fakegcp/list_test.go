package fakegcp

import (
	"errors"
	"fmt"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

func (e *env) listAddressNames(t *testing.T, req *computepb.ListGlobalAddressesRequest) ([]string, error) {
	t.Helper()
	req.Project = project
	var names []string
	it := e.addr.List(e.ctx, req)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return names, nil
		}
		if err != nil {
			return names, err
		}
		names = append(names, a.GetName())
	}
}

func TestListPagesAndFilters(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 5; i++ {
		labels := map[string]string{"env": "dev"}
		if i%2 == 0 {
			labels["env"] = "prod"
		}
		e.done(t)(e.addr.Insert(e.ctx, &computepb.InsertGlobalAddressRequest{Project: project, AddressResource: &computepb.Address{
			Name: proto.String(fmt.Sprintf("ip-%d", i)), Description: proto.String(fmt.Sprintf("owned by meshctl service %d", i)), Labels: labels}}))
	}

	t.Run("pages of two", func(t *testing.T) {
		e.srv.ResetRequests()
		names, err := e.listAddressNames(t, &computepb.ListGlobalAddressesRequest{MaxResults: proto.Uint32(2)})
		if err != nil || fmt.Sprint(names) != "[ip-1 ip-2 ip-3 ip-4 ip-5]" {
			t.Errorf("names %v %v", names, err)
		}
		if n := e.srv.Requests().ByMethod["compute.globalAddresses.list"]; n != 3 {
			t.Errorf("%d list calls, want 3 pages", n)
		}
	})

	filters := []struct{ filter, want string }{
		{`name = ip-3`, "[ip-3]"},
		{`name = "ip-3"`, "[ip-3]"},
		{`name != ip-3`, "[ip-1 ip-2 ip-4 ip-5]"},
		{`name eq ip-[12]`, "[ip-1 ip-2]"},
		{`name ne ip-[12]`, "[ip-3 ip-4 ip-5]"},
		{`labels.env = prod`, "[ip-2 ip-4]"},
		{`description ~ "service [45]$"`, "[ip-4 ip-5]"},
		{`(labels.env = dev) (name != ip-1)`, "[ip-3 ip-5]"},
		{`labels.env = prod AND name = ip-4`, "[ip-4]"},
		{`name = ip-1 OR name = ip-5`, "[ip-1 ip-5]"},
		{`name = ip-*`, "[ip-1 ip-2 ip-3 ip-4 ip-5]"},
		{`labels.team = x`, "[]"},
	}
	for _, tc := range filters {
		t.Run(tc.filter, func(t *testing.T) {
			names, err := e.listAddressNames(t, &computepb.ListGlobalAddressesRequest{Filter: proto.String(tc.filter)})
			if err != nil || fmt.Sprint(names) != tc.want {
				t.Errorf("got %v %v, want %s", names, err, tc.want)
			}
		})
	}

	t.Run("order by creation, newest first", func(t *testing.T) {
		names, err := e.listAddressNames(t, &computepb.ListGlobalAddressesRequest{OrderBy: proto.String("creationTimestamp desc")})
		if err != nil || len(names) != 5 || names[0] != "ip-5" {
			t.Errorf("names %v %v", names, err)
		}
	})

	t.Run("bad filter", func(t *testing.T) {
		_, err := e.listAddressNames(t, &computepb.ListGlobalAddressesRequest{Filter: proto.String(`(name = ip-1`)})
		wantAPIError(t, err, 400, "invalid")
	})
}
