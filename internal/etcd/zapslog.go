package etcd

import (
	"context"
	"log/slog"

	"go.uber.org/zap/zapcore"
)

// slogCore is a zapcore.Core that forwards entries at or above a level to a slog.Logger, so
// etcd's zap logging ends up in the process's one log stream.
type slogCore struct {
	log   *slog.Logger
	level zapcore.Level
	attrs []any
}

func newSlogCore(log *slog.Logger, level zapcore.Level) *slogCore {
	return &slogCore{log: log.With("component", "etcd"), level: level}
}

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= c.level }

func (c *slogCore) With(fs []zapcore.Field) zapcore.Core {
	n := *c
	n.attrs = append(append([]any(nil), c.attrs...), fieldsToAttrs(fs)...)
	return &n
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// quiet lists warnings embedded etcd always gives in bosun's set-up; they are logged at debug.
var quiet = map[string]bool{
	"Running http and grpc server on single port. This is not recommended for production.": true,
	"simple token is not cryptographically signed":                                         true,
	"stopping insecure grpc server due to error":                                           true,
	"stopped insecure grpc server due to error":                                            true,
}

func (c *slogCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	if quiet[e.Message] {
		c.log.Debug(e.Message)
		return nil
	}
	lvl := slog.LevelInfo
	switch {
	case e.Level >= zapcore.ErrorLevel:
		lvl = slog.LevelError
	case e.Level >= zapcore.WarnLevel:
		lvl = slog.LevelWarn
	case e.Level < zapcore.InfoLevel:
		lvl = slog.LevelDebug
	}
	args := append(append([]any(nil), c.attrs...), fieldsToAttrs(fs)...)
	c.log.Log(context.Background(), lvl, e.Message, args...)
	return nil
}

func (c *slogCore) Sync() error { return nil }

func fieldsToAttrs(fs []zapcore.Field) []any {
	if len(fs) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fs {
		f.AddTo(enc)
	}
	out := make([]any, 0, 2*len(enc.Fields))
	for k, v := range enc.Fields {
		out = append(out, k, v)
	}
	return out
}
