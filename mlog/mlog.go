// Package mlog builds Sealpost's structured logger: log/slog with redaction
// built in. Attributes whose key names a secret (password, token, key
// material), message content or a correspondent's address are replaced by
// "***" before any handler sees them, so content, addresses and credentials
// never reach a log at any level.
package mlog

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

// redactedKeys are attribute keys whose values are never logged: secrets,
// message content, and the addresses of correspondents (which docs/SECURITY.md
// counts as sealed content too).
var redactedKeys = map[string]bool{
	"password": true, "pass": true, "passwd": true, "secret": true,
	"token": true, "code": true, "recovery": true, "data": true,
	"body": true, "subject": true, "auth": true,
	"from": true, "to": true, "rcpt": true, "user": true, "address": true, "sender": true,
}

// Redact replaces the value of attributes that may carry secrets or content.
func Redact(groups []string, a slog.Attr) slog.Attr {
	if redactedKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, "***")
	}
	return a
}

// New returns a logger writing text (or JSON) to w at the given level, with
// redaction.
func New(w io.Writer, level slog.Level, json bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: Redact}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Discard returns a logger that drops everything, for tests.
func Discard() *slog.Logger { return slog.New(discard{}) }

type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return false }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }
