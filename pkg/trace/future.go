package trace

import (
	"context"
	"sync"
)

// future is one read started now and waited for later, so that reads that
// do not depend on each other overlap.
type future[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// start runs read in its own goroutine.
func start[T any](read func() (T, error)) *future[T] {
	f := &future[T]{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.v, f.err = read()
	}()
	return f
}

// wait returns the read's result, or ctx's error if ctx ends first.
func (f *future[T]) wait(ctx context.Context) (T, error) {
	select {
	case <-f.done:
		return f.v, f.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// memo starts each read once per key and hands every caller the same
// future: the first caller to know a key starts the read, later ones wait.
type memo[T any] struct {
	mu sync.Mutex
	m  map[string]*future[T]
}

func (m *memo[T]) get(key string, read func() (T, error)) *future[T] {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.m[key]; ok {
		return f
	}
	if m.m == nil {
		m.m = map[string]*future[T]{}
	}
	f := start(read)
	m.m[key] = f
	return f
}
