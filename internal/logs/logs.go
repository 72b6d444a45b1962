// SPDX-License-Identifier: AGPL-3.0-or-later

// Package logs builds lifeline's operational logger: JSON lines through
// log/slog, with every attribute checked against an allowlist of keys.
//
// The allowlist is the enforcement point of SECURITY.md §2.8: a log line may
// carry a route pattern, a status, a latency, a request id and the like, but
// never a name, a phone number, a chat id, a message text, a query string, a
// header or a caller's address. An attribute whose key is not on the list
// keeps its key, so a developer can see that something was dropped, and gets
// the value [Redacted] instead of its own.
//
// The allowlist limits where data can appear, not what a permitted key holds:
// the message (msg) and the values of allowed keys must still be written by
// the program, never copied from input. In particular "error" must hold our
// own wrapped messages ("assign case 42: conflict"), not a third-party error
// that quotes its input (strconv and net/url errors do).
//
// Types that hold secrets or personal data implement [slog.LogValuer] and
// return [Redacted], so they stay hidden even under an allowed key; the
// domain's lifeline.Sensitive does, and so must every secret type (see the
// package example):
//
//	func (t Token) LogValue() slog.Value { return slog.StringValue(logs.Redacted) }
//
// JSON encoding escapes newlines and control characters, so a value cannot
// forge a second log line (ASVS 16.4.1).
package logs

import (
	"io"
	"log/slog"
	"strings"
)

// Redacted replaces the value of every attribute whose key is not allowed.
// It equals lifeline.Redacted, so one marker means "hidden" everywhere; it is
// declared here so that logging does not depend on the domain package.
const Redacted = "[redacted]"

// redactedKey replaces a key that does not look like an identifier: such a
// key was probably built from data (slog's "!BADKEY" aside, a key should be
// a constant in the source).
const redactedKey = "!redacted_key"

// defaultAllowed lists the keys every logger accepts. Dotted names refer to
// attributes inside groups ("db.wait_ms" is key "wait_ms" in group "db").
//
// Keep this list short and each entry free of personal data by construction:
//   - time, level, msg: slog's built-in keys.
//   - route: a ServeMux pattern such as "POST /cases/{id}/assign", never a raw path.
//   - method, status, latency_ms, request_id, outcome: the access log.
//   - component, kind, channel: names chosen by the program (a channel kind, not an address).
//   - error: our own wrapped error messages.
//   - event_hash: a keyed hash of a provider event id, never the id.
//   - count, seq, size, version, duration_ms: numbers.
//   - addr: the server's own listen address, never a caller's.
//   - stack: a Go stack trace from runtime/debug.Stack (function names, file
//     paths and raw argument words; strings appear as pointers, not text).
var defaultAllowed = []string{
	"time", "level", "msg",
	"route", "method", "status", "latency_ms", "request_id", "outcome",
	"component", "error", "event_hash", "count", "channel", "kind", "seq",
	"size", "version", "addr", "duration_ms", "stack",
}

// Option changes how [New] builds a logger.
type Option func(*options)

type options struct {
	allowed map[string]bool
}

// Allow adds keys to the allowlist. Use dotted names for keys inside groups.
// Every key added must, by construction, never hold personal data.
func Allow(keys ...string) Option {
	return func(o *options) {
		for _, k := range keys {
			o.allowed[k] = true
		}
	}
}

// New returns a logger that writes one JSON object per line to w, drops
// records below level, and redacts the value of every attribute whose key
// is not allowed. Allowed are slog's time, level and msg; route, method,
// status, latency_ms, request_id, outcome, component, error, event_hash,
// count, channel, kind, seq, size, version, addr, duration_ms and stack
// (each explained beside defaultAllowed in the source); and the keys added
// with [Allow]. A key that does not look like an identifier is replaced too,
// since it was probably built from data. The handler serializes its own
// writes to w; anything else writing to w must synchronize on its own.
func New(w io.Writer, level slog.Level, opts ...Option) *slog.Logger {
	return slog.New(NewHandler(w, level, opts...))
}

// NewHandler is [New] for callers that need the [slog.Handler] itself, for
// example to wrap it.
func NewHandler(w io.Writer, level slog.Level, opts ...Option) slog.Handler {
	o := options{allowed: make(map[string]bool, len(defaultAllowed))}
	for _, k := range defaultAllowed {
		o.allowed[k] = true
	}
	for _, opt := range opts {
		opt(&o)
	}
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: o.replace,
	})
}

// replace is the handler's ReplaceAttr. slog calls it for every non-group
// attribute, built-in keys included (with no groups), with the names of the
// groups that contain it, after resolving LogValuers; group values are
// walked by slog, so nested attributes are checked one by one.
func (o *options) replace(groups []string, a slog.Attr) slog.Attr {
	name := a.Key
	if len(groups) > 0 {
		name = strings.Join(groups, ".") + "." + a.Key
	}
	if o.allowed[name] {
		return a
	}
	key := a.Key
	if !isIdentifier(key) {
		key = redactedKey
	}
	return slog.String(key, Redacted)
}

// isIdentifier reports whether key is a plausible constant key: ASCII
// letters, digits, '_' and '-', starting with a letter or '_', at most 64
// bytes. slog's own "!BADKEY" (a value passed without a key) is kept so the
// mistake stays visible; its value is redacted like any other.
func isIdentifier(key string) bool {
	if key == "!BADKEY" {
		return true
	}
	if key == "" || len(key) > 64 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9') || c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
