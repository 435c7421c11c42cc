package gkegateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/meshctl/meshctl/sim/computeclient"
)

// NewComputeService is the official Compute client (google.golang.org/api)
// pointed at an endpoint such as meshsim's http://127.0.0.1:PORT: the
// controller goes through the same REST surface as every other client, so
// Compute's rules (references, in-use deletes, fingerprints, operations)
// apply to it too.
func NewComputeService(ctx context.Context, endpoint string, client *http.Client) (*compute.Service, error) {
	return computeclient.New(ctx, endpoint, "sc-gateway-controller (meshsim)", client)
}

// gce is the part of Compute the controller uses, for one project.
type gce struct {
	svc     *compute.Service
	project string
}

// in is the Compute whose project holds a collection: the network's
// project for firewall rules (a Shared VPC's host), else the cluster's.
func (c *Controller) in(collection string) gce {
	if collection == "firewalls" {
		return c.net
	}
	return c.g
}

func (g gce) link(collection, name string) string {
	return computeclient.LinkBase + g.project + "/global/" + collection + "/" + name
}

// retryLater marks an error the next pass may get past: a resource still
// in use or not ready, a stale fingerprint, NEGs not made yet. The
// controller keeps the Gateway's status as it is and tries again after
// Knobs.RetryDelay, as a real controller requeues.
type retryLater struct{ err error }

func (r retryLater) Error() string { return r.err.Error() }
func (r retryLater) Unwrap() error { return r.err }

func isRetryable(err error) bool {
	var r retryLater
	return errors.As(err, &r)
}

// classify turns Compute's answers into what the controller does next:
// 412 (a stale fingerprint: someone else wrote), 400
// resourceInUseByAnotherResource and resourceNotReady, 429 and 5xx are
// retried on a later pass; anything else is reported as it is.
func classify(err error) error {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return err
	}
	if ge.Code == http.StatusPreconditionFailed || ge.Code == http.StatusTooManyRequests || ge.Code >= 500 {
		return retryLater{err}
	}
	for _, item := range ge.Errors {
		if item.Reason == "resourceInUseByAnotherResource" || item.Reason == "resourceNotReady" {
			return retryLater{err}
		}
	}
	return err
}

// do runs a mutating call, with a requestId so a repeat is not applied
// twice, and waits for its (global) operation. An operation that failed
// on a resource not ready or still in use is retried on a later pass.
func (g gce) do(ctx context.Context, call func(requestID string) (*compute.Operation, error)) error {
	err := computeclient.Do(ctx, g.svc, g.project, call)
	var oe *computeclient.OperationError
	if errors.As(err, &oe) && (oe.Code == "RESOURCE_NOT_READY" || oe.Code == "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE") {
		return retryLater{err}
	}
	return classify(err)
}

// kindOps are one Compute collection's calls, over its typed object T.
type kindOps[T any] struct {
	collection string
	get        func(ctx context.Context, name string) (*T, error)
	insert     func(ctx context.Context, obj *T, requestID string) (*compute.Operation, error)
	// update writes desired over existing (a PATCH or PUT carrying the
	// fingerprint it read); nil for a kind Compute cannot change in place,
	// which is then deleted and made again.
	update func(ctx context.Context, name string, desired, existing *T, requestID string) (*compute.Operation, error)
	del    func(ctx context.Context, name, requestID string) (*compute.Operation, error)
	list   func(ctx context.Context) ([]*T, error)
	name   func(*T) string
	// same reports whether existing already is what desired asks for;
	// nil compares desired's JSON as a subset of existing's.
	same func(desired, existing *T) bool
}

// ensure makes the object exist as desired: it inserts it, updates it in
// place, or deletes and re-inserts an object Compute cannot update. It
// reports whether it changed anything.
func ensure[T any](ctx context.Context, g gce, k kindOps[T], name string, desired *T) (bool, error) {
	existing, err := k.get(ctx, name)
	if computeclient.IsNotFound(err) {
		err = g.do(ctx, func(id string) (*compute.Operation, error) { return k.insert(ctx, desired, id) })
		if err != nil {
			return false, fmt.Errorf("create %s %s: %w", k.collection, name, err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s %s: %w", k.collection, name, classify(err))
	}
	same := k.same
	if same == nil {
		same = subsetOf[T]
	}
	if same(desired, existing) {
		return false, nil
	}
	if k.update == nil {
		if err := g.do(ctx, func(id string) (*compute.Operation, error) { return k.del(ctx, name, id) }); err != nil {
			return false, fmt.Errorf("replace %s %s: %w", k.collection, name, err)
		}
		if err := g.do(ctx, func(id string) (*compute.Operation, error) { return k.insert(ctx, desired, id) }); err != nil {
			return false, fmt.Errorf("replace %s %s: %w", k.collection, name, err)
		}
		return true, nil
	}
	if err := g.do(ctx, func(id string) (*compute.Operation, error) { return k.update(ctx, name, desired, existing, id) }); err != nil {
		return false, fmt.Errorf("update %s %s: %w", k.collection, name, err)
	}
	return true, nil
}

// remove deletes an object; one already gone is fine.
func remove[T any](ctx context.Context, g gce, k kindOps[T], name string) error {
	err := g.do(ctx, func(id string) (*compute.Operation, error) { return k.del(ctx, name, id) })
	if err != nil && !computeclient.IsNotFound(err) {
		return fmt.Errorf("delete %s %s: %w", k.collection, name, err)
	}
	return nil
}

// subsetOf compares the JSON of desired with existing's: every field the
// controller sets must be there with the same value (lists element by
// element); fields Compute adds (ids, defaults, fingerprints) are ignored.
func subsetOf[T any](desired, existing *T) bool {
	return jsonSubset(toJSONMap(desired), toJSONMap(existing))
}

func toJSONMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func jsonSubset(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		// A missing object on Compute's side is an empty one: a wanted
		// {"enable": false} is what Compute shows as nothing.
		g, ok := got.(map[string]any)
		if !ok && got != nil {
			return false
		}
		for k, v := range w {
			if !jsonSubset(v, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, _ := got.([]any)
		if len(g) != len(w) {
			return false
		}
		for i := range w {
			if !jsonSubset(w[i], g[i]) {
				return false
			}
		}
		return true
	case bool:
		// false is how Compute leaves a flag out.
		return reflect.DeepEqual(want, got) || (!w && got == nil)
	case float64:
		return reflect.DeepEqual(want, got) || (w == 0 && got == nil)
	default:
		return reflect.DeepEqual(want, got)
	}
}

// isEmptyJSON reports whether a value Compute shows is as good as absent:
// nothing, false, zero, "", or objects and lists of only such values.
func isEmptyJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case float64:
		return x == 0
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, e := range x {
			if !isEmptyJSON(e) {
				return false
			}
		}
		return true
	}
	return false
}

// sameManaged compares a desired object with an existing one that a PUT
// would replace: every field desired sets must be there (subset), and
// every managed field desired leaves out must be empty on Compute's side,
// so a setting taken out of a policy is also taken off the resource.
func sameManaged(desired, existing any, managed []string) bool {
	d, e := toJSONMap(desired), toJSONMap(existing)
	if !jsonSubset(d, e) {
		return false
	}
	for _, f := range managed {
		if _, set := d[f]; !set && !isEmptyJSON(e[f]) {
			return false
		}
	}
	return true
}

// pageList gathers a list call's pages.
func pageList[T any, L any](ctx context.Context, pages func(context.Context, func(L) error) error, items func(L) []*T) ([]*T, error) {
	var out []*T
	err := pages(ctx, func(l L) error {
		out = append(out, items(l)...)
		return nil
	})
	return out, err
}

// opTimeout bounds one pass's Compute work, so a stuck operation cannot
// stall the controller for good.
const opTimeout = 3 * time.Minute
