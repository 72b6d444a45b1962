// SPDX-License-Identifier: AGPL-3.0-or-later

package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"
)

// routeUnmatched is the route of a request no pattern matched (404, 405 and
// ServeMux's redirects), in logs and metric labels.
const routeUnmatched = "unmatched"

// requestInfo is what the middleware learns about one request as it passes
// through. One goroutine owns it: the one serving the request.
type requestInfo struct {
	id       string
	route    string // the matched pattern; set by recordRoute
	panicked bool
}

type infoKey struct{}

// RequestID returns the id of the request whose context is ctx, or "" if
// ctx did not come from the server. The id is also in the X-Request-Id
// response header and the access log, so an operator can quote it.
func RequestID(ctx context.Context) string {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info.id
	}
	return ""
}

// recordRoute wraps a registered handler so that the middleware outside the
// mux learns which pattern matched: ServeMux sets r.Pattern only on the
// request it dispatches, which the outer layers do not hold.
func recordRoute(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(infoKey{}).(*requestInfo); ok {
			info.route = pattern
		}
		h.ServeHTTP(w, r)
	})
}

// middleware wraps next (the mux) in what every response goes through: the
// body cap, a fresh request id, the security headers, panic recovery, the
// access log and the metrics.
func (s *Server) middleware(next http.Handler) http.Handler {
	headers := securityHeaders(s.cfg.CSP)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// Cap the body with net/http's own ResponseWriter, so that an
		// oversized body also makes it close the connection.
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		// Never trust an inbound id: a client could forge or link log lines.
		r.Header.Del("X-Request-Id")
		info := &requestInfo{id: newRequestID()}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))

		rw := &responseWriter{ResponseWriter: w, headers: headers, requestID: info.id}
		rw.setHeaders(false)

		// Deferred calls run last first: recoverPanic sees the panic, then
		// logRequest logs every request, one that ends in a re-panic too.
		defer s.logRequest(r, info, rw, start)
		defer s.recoverPanic(r, info, rw)
		next.ServeHTTP(rw, r)
	})
}

// logRequest writes the access-log line and the metrics of one request.
// Only the route pattern, method, status, latency and request id go out:
// never the raw path, the query, a header or the caller's address.
func (s *Server) logRequest(r *http.Request, info *requestInfo, rw *responseWriter, start time.Time) {
	elapsed := time.Since(start)
	route := info.route
	if route == "" {
		route = routeUnmatched
	}
	status := rw.status
	if status == 0 {
		// The handler wrote nothing: net/http answers 200, or closes the
		// connection after a panic.
		status = http.StatusOK
		if info.panicked {
			status = http.StatusInternalServerError
		}
	}
	outcome := "ok"
	level := slog.LevelInfo
	switch {
	case status >= 500 || info.panicked:
		outcome, level = "server_error", slog.LevelWarn
	case status >= 400:
		outcome = "client_error"
	case quietRoutes[route]:
		level = slog.LevelDebug
	}
	s.metrics.observe(route, status, elapsed)
	s.logger.LogAttrs(r.Context(), level, "request",
		slog.String("route", route),
		slog.String("method", methodName(r.Method)),
		slog.Int("status", status),
		slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
		slog.String("request_id", info.id),
		slog.String("outcome", outcome),
	)
}

// quietRoutes are polled by machines; their successes are logged at debug
// level so that they do not bury the lines people read.
var quietRoutes = map[string]bool{
	"GET /healthz": true,
	"GET /readyz":  true,
	"GET /metrics": true,
}

// methodName returns m if it is a standard method and "other" if not: a
// method is any token the client likes, so it could carry data.
func methodName(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// recoverPanic is the last-resort handler (SECURITY.md §2.8, ASVS 16.5.4),
// deferred by middleware. It logs a panic with its stack but nothing of the
// request, and answers a generic 500 if the handler wrote nothing yet. If the
// handler had started its response, it aborts the connection so that the
// client cannot take a truncated response for a whole one.
// http.ErrAbortHandler passes through unlogged, as net/http expects.
func (s *Server) recoverPanic(r *http.Request, info *requestInfo, rw *responseWriter) {
	v := recover()
	if v == nil {
		return
	}
	info.panicked = true
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.logger.LogAttrs(r.Context(), slog.LevelError, "panic",
		slog.String("route", info.route),
		slog.String("request_id", info.id),
		slog.String("error", panicValue(v)),
		slog.String("stack", string(debug.Stack())),
	)
	if rw.status != 0 {
		panic(http.ErrAbortHandler)
	}
	// Drop whatever the handler had set (a cookie, a Content-Disposition):
	// the 500 is ours.
	clear(rw.Header())
	rw.setHeaders(false)
	http.Error(rw, "Internal error.", http.StatusInternalServerError)
}

// panicValue describes a recovered value without quoting it, unless the
// runtime wrote it: panic(fmt.Sprintf("bad %s", input)) must not carry the
// input into the log.
func panicValue(v any) string {
	var rerr runtime.Error
	if err, ok := v.(error); ok && errors.As(err, &rerr) {
		return "panic: " + rerr.Error()
	}
	return fmt.Sprintf("panic with a value of type %T", v)
}

// newRequestID returns 96 random bits in hex.
func newRequestID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails; it crashes the program if the OS has no randomness
	return hex.EncodeToString(b[:])
}

// securityHeaders returns the headers of SECURITY.md §2.6 for every response.
func securityHeaders(csp string) [][2]string {
	return [][2]string{
		{"Content-Security-Policy", csp},
		{"X-Content-Type-Options", "nosniff"},
		{"Referrer-Policy", "no-referrer"},
		{"Cache-Control", "no-store"},
		{"Cross-Origin-Opener-Policy", "same-origin"},
		{"Cross-Origin-Resource-Policy", "same-origin"},
		{"Permissions-Policy", "camera=(), microphone=(), geolocation=()"},
		{"Strict-Transport-Security", "max-age=63072000; includeSubDomains"},
		{"X-Frame-Options", "DENY"},
	}
}

// responseWriter records the status of a response and puts back any
// security header that a handler deleted before writing (http.ServeContent
// strips Cache-Control from its error responses, for one). A handler may
// still replace a header's value, as the console will with the CSP.
type responseWriter struct {
	http.ResponseWriter
	headers   [][2]string // securityHeaders; shared, read-only
	requestID string
	status    int // 0 until the header is written
}

// setHeaders sets the security headers and X-Request-Id; if onlyMissing, it
// leaves alone the headers that have a value.
func (w *responseWriter) setHeaders(onlyMissing bool) {
	h := w.ResponseWriter.Header()
	for _, kv := range w.headers {
		if !onlyMissing || h.Get(kv[0]) == "" {
			h.Set(kv[0], kv[1])
		}
	}
	if !onlyMissing || h.Get("X-Request-Id") == "" {
		h.Set("X-Request-Id", w.requestID)
	}
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		w.setHeaders(true)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends buffered data to the client (Server-Sent Events need it).
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's own writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
