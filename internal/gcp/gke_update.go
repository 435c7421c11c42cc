package gcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
)

// GKE operations have no wait method: they are polled. A cluster update
// takes from seconds to minutes at Google; polling every 2 seconds (after a
// first look at half a second, which catches a quick one) costs a few
// requests a minute and notices the end promptly.
var gkePollIntervals = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}

// UpdateCluster applies one ClusterUpdate to projects/P/locations/L/clusters/C
// and waits until its operation is DONE. An operation that ends with an
// error returns it, in GKE's words.
func (g GKE) UpdateCluster(ctx context.Context, name string, update *containerpb.ClusterUpdate) error {
	op, err := g.Client.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: name, Update: update})
	if err != nil {
		return err
	}
	return g.waitOperation(ctx, operationName(name, op.GetName()), op)
}

// operationName is an operation's resource name in the cluster's project
// and location (an operation answers with its short name).
func operationName(cluster, op string) string {
	if strings.HasPrefix(op, "projects/") {
		return op
	}
	if i := strings.Index(cluster, "/clusters/"); i >= 0 {
		return cluster[:i] + "/operations/" + op
	}
	return op
}

func (g GKE) waitOperation(ctx context.Context, name string, op *containerpb.Operation) error {
	for i := 0; op.GetStatus() != containerpb.Operation_DONE; i++ {
		wait := gkePollIntervals[min(i, len(gkePollIntervals)-1)]
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for GKE operation %s: %w", name, ctx.Err())
		case <-time.After(wait):
		}
		next, err := g.Client.GetOperation(ctx, &containerpb.GetOperationRequest{Name: name})
		if err != nil {
			return fmt.Errorf("wait for GKE operation %s: %w", name, err)
		}
		op = next
	}
	if op.GetError() == nil {
		return nil
	}
	msg := op.GetError().GetMessage()
	if msg == "" {
		// Fallback only: the API still fills the deprecated statusMessage, and
		// an operation whose error carries no message may have its reason there.
		msg = op.GetStatusMessage() //nolint:staticcheck // deprecated, read only when error.message is empty
	}
	if msg == "" {
		return errors.New("GKE operation " + name + " failed")
	}
	return fmt.Errorf("GKE operation %s failed: %s", name, msg)
}
