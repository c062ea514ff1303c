package controller

import (
	"slices"

	"github.com/go-logr/logr"
)

// lazyValues is a logr.LogSink that keeps the key/value pairs given to
// WithValues and hands them to the sink it wraps only when a line is
// written. controller-runtime gives every reconcile a logger with the
// object's name and a reconcile ID, three WithValues calls; zap encodes
// the values at once, into a copy of its encoder, and the pod reconciler
// writes no line in a normal reconcile (its lines are V(1)), so that was
// a twentieth of the controller's CPU in a burst of pods
// (test/perf/README.md, "Sixth round"). The manager's logger is one, so
// every controller's reconciles defer theirs.
type lazyValues struct {
	// sink writes the lines, with values given before this sink's.
	sink logr.LogSink
	// values are the pairs not handed to sink yet.
	values []any
}

// withLazyValues returns log with its WithValues deferred until a line is
// written. The lines are those log would write, caller included.
func withLazyValues(log logr.Logger) logr.Logger {
	sink := log.GetSink()
	if sink == nil {
		return log
	}
	// One frame more (this sink's method) between the caller and sink.
	if withDepth, ok := sink.(logr.CallDepthLogSink); ok {
		sink = withDepth.WithCallDepth(1)
	}
	return log.WithSink(&lazyValues{sink: sink})
}

// Init does nothing: the wrapped sink was initialised by its own logger.
func (l *lazyValues) Init(logr.RuntimeInfo) {}

// Enabled says whether the wrapped sink writes lines of level.
func (l *lazyValues) Enabled(level int) bool { return l.sink.Enabled(level) }

// Info writes a line with the deferred values.
func (l *lazyValues) Info(level int, msg string, keysAndValues ...any) {
	l.flushed().Info(level, msg, keysAndValues...)
}

// Error writes an error line with the deferred values.
func (l *lazyValues) Error(err error, msg string, keysAndValues ...any) {
	l.flushed().Error(err, msg, keysAndValues...)
}

// WithValues defers keysAndValues after the pairs already deferred.
func (l *lazyValues) WithValues(keysAndValues ...any) logr.LogSink {
	return &lazyValues{sink: l.sink, values: append(slices.Clip(l.values), keysAndValues...)}
}

// WithName names the wrapped sink, after the deferred values.
func (l *lazyValues) WithName(name string) logr.LogSink {
	return &lazyValues{sink: l.flushed().WithName(name)}
}

// WithCallDepth passes a caller's extra frames on to the wrapped sink.
func (l *lazyValues) WithCallDepth(depth int) logr.LogSink {
	withDepth, ok := l.sink.(logr.CallDepthLogSink)
	if !ok {
		return l
	}
	return &lazyValues{sink: withDepth.WithCallDepth(depth), values: l.values}
}

// flushed is the wrapped sink with the deferred values.
func (l *lazyValues) flushed() logr.LogSink {
	if len(l.values) == 0 {
		return l.sink
	}
	return l.sink.WithValues(l.values...)
}
