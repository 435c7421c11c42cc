package lb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/meshctl/meshctl/internal/ui"
	"google.golang.org/api/googleapi"
)

// Retry bounds how meshctl retries what the Go client does not: rate limits
// (429, 403 rateLimitExceeded), server errors (5xx), 400 resourceNotReady and
// broken connections, with exponential backoff and full jitter.
type Retry struct {
	// Attempts is the most tries per call, the first included.
	Attempts int
	// Base is the first backoff; each retry doubles it up to Max.
	Base, Max time.Duration
}

// DefaultRetry rides out a minute of rate limiting (Compute's rate quotas
// refill every minute) and brief server trouble.
var DefaultRetry = Retry{Attempts: 10, Base: 200 * time.Millisecond, Max: 16 * time.Second}

// caller runs Compute calls with retries, requestIds and operation waits,
// and counts what it sent.
type caller struct {
	c     Compute
	retry Retry
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// newRequestID makes a requestId; tests replace it.
	newRequestID func() string

	mutations atomic.Int64 // accepted mutating calls
	retries   atomic.Int64
}

func newCaller(c Compute, r Retry) *caller {
	if r.Attempts <= 0 {
		r = DefaultRetry
	}
	return &caller{c: c, retry: r, sleep: sleepCtx, newRequestID: newUUID}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newUUID returns a random (version 4) UUID, the form requestId takes.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// backoff is the wait before retry number n (0 for the first retry): a
// uniform draw below min(Max, Base·2ⁿ), so that clients that failed together
// do not retry together.
func (r Retry) backoff(n int) time.Duration {
	limit := r.Base << min(n, 20)
	if limit > r.Max || limit <= 0 {
		limit = r.Max
	}
	if limit <= 0 {
		return 0
	}
	v, err := rand.Int(rand.Reader, big.NewInt(int64(limit)))
	if err != nil {
		return limit / 2
	}
	return time.Duration(v.Int64())
}

// do runs fn, retrying the errors worth retrying.
func (c *caller) do(ctx context.Context, fn func() error) error {
	for n := 0; ; n++ {
		err := fn()
		if err == nil || !retryable(err) || n+1 >= c.retry.Attempts || ctx.Err() != nil {
			return err
		}
		c.retries.Add(1)
		if serr := c.sleep(ctx, c.retry.backoff(n)); serr != nil {
			return err
		}
	}
}

// read runs a read with retries.
func read[T any](ctx context.Context, c *caller, fn func() (T, error)) (T, error) {
	var out T
	err := c.do(ctx, func() error {
		var err error
		out, err = fn()
		return err
	})
	return out, err
}

// mutate sends one logical change and waits for its operation. The
// requestId is made once per attempt of the change and reused across the
// retries of its request, so a retried request that had in fact landed is
// answered with the first operation rather than applied twice. An operation
// that ends in a retryable error (resourceNotReady and the like) is retried
// as a new change, with a new requestId: the old one would only return the
// failed operation again.
func (c *caller) mutate(ctx context.Context, step ui.Step, fn func(requestID string) (*computepb.Operation, error)) error {
	for n := 0; ; n++ {
		id := c.newRequestID()
		var op *computepb.Operation
		err := c.do(ctx, func() error {
			var err error
			op, err = fn(id)
			return err
		})
		if err != nil {
			return err
		}
		c.mutations.Add(1)
		op, err = c.wait(ctx, step, op)
		if err != nil {
			return err
		}
		opErr := operationError(op)
		if opErr == nil {
			return nil
		}
		if !retryable(opErr) || n+1 >= c.retry.Attempts {
			return opErr
		}
		c.retries.Add(1)
		if serr := c.sleep(ctx, c.retry.backoff(n)); serr != nil {
			return opErr
		}
	}
}

// wait follows an operation to DONE with globalOperations.wait, which
// returns as soon as the operation ends (or after about two minutes at
// Google), so its end is noticed at once. The Go client's Operation.Wait is
// not used: it polls at growing random intervals up to a minute.
func (c *caller) wait(ctx context.Context, step ui.Step, op *computepb.Operation) (*computepb.Operation, error) {
	if op == nil {
		return nil, errors.New("the API answered a change without an operation")
	}
	if step != nil && op.GetStatus() != computepb.Operation_DONE {
		step.Progressf("waiting for %s", op.GetName())
	}
	for op.GetStatus() != computepb.Operation_DONE {
		name := op.GetName()
		start := time.Now()
		next, err := read(ctx, c, func() (*computepb.Operation, error) { return c.c.WaitOperation(ctx, name) })
		if err != nil {
			return nil, fmt.Errorf("wait for %s: %w", name, err)
		}
		op = next
		// A server that answers wait at once without waiting (some
		// proxies do) must not be polled in a tight loop.
		if op.GetStatus() != computepb.Operation_DONE && time.Since(start) < 100*time.Millisecond {
			if err := c.sleep(ctx, 250*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	return op, nil
}

// OperationError is a long-running operation that ended in error.
type OperationError struct {
	Operation  string
	Code       string // e.g. RESOURCE_NOT_READY, QUOTA_EXCEEDED
	Message    string
	HTTPStatus int32
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("operation %s failed: %s: %s", e.Operation, e.Code, e.Message)
}

func operationError(op *computepb.Operation) *OperationError {
	errs := op.GetError().GetErrors()
	if len(errs) == 0 {
		return nil
	}
	return &OperationError{Operation: op.GetName(), Code: errs[0].GetCode(), Message: errs[0].GetMessage(), HTTPStatus: op.GetHttpErrorStatusCode()}
}

// apiReason returns the HTTP status and first reason of a Google API error.
func apiReason(err error) (int, string) {
	var g *googleapi.Error
	if errors.As(err, &g) {
		reason := ""
		if len(g.Errors) > 0 {
			reason = g.Errors[0].Reason
		}
		return g.Code, reason
	}
	return 0, ""
}

func isNotFound(err error) bool {
	code, _ := apiReason(err)
	return code == 404
}

func isAlreadyExists(err error) bool {
	code, _ := apiReason(err)
	return code == 409
}

func isStaleFingerprint(err error) bool {
	code, _ := apiReason(err)
	return code == 412
}

func isInUse(err error) bool {
	_, reason := apiReason(err)
	return reason == "resourceInUseByAnotherResource"
}

// retryable reports whether trying the same call again may succeed.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var opErr *OperationError
	if errors.As(err, &opErr) {
		switch opErr.Code {
		case "RESOURCE_NOT_READY", "RATE_LIMIT_EXCEEDED", "INTERNAL_ERROR", "RESOURCE_OPERATION_RATE_EXCEEDED":
			return true
		}
		return opErr.HTTPStatus == 429 || opErr.HTTPStatus >= 500
	}
	code, reason := apiReason(err)
	switch {
	case code == 429 || code >= 500:
		return true
	case code == 403:
		return reason == "rateLimitExceeded" || reason == "userRateLimitExceeded"
	case code == 400:
		return reason == "resourceNotReady"
	case code != 0:
		return false
	}
	// No HTTP answer: the connection broke or was refused.
	var netErr net.Error
	var urlErr *url.Error
	return errors.As(err, &netErr) || errors.As(err, &urlErr)
}
