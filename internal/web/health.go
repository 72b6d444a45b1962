// SPDX-License-Identifier: AGPL-3.0-or-later

package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// readyTimeout bounds a readiness check: a prober must get an answer even if
// a dependency hangs.
const readyTimeout = 2 * time.Second

// NotReady is an error a ready func returns, or wraps (as a value or a
// pointer), to tell the prober why the server cannot work yet. Reason is sent
// to the prober, so it must be a short fixed phrase from the code ("sealed",
// "database unavailable"), never text from an underlying error; a Reason
// longer than 64 bytes or with characters other than ASCII letters, digits,
// space, '.', '_' and '-' is not sent.
type NotReady struct {
	Reason string
}

func (e NotReady) Error() string { return "not ready: " + e.Reason }

// handleHealthz answers liveness probes: 200 "ok" as long as the process
// serves HTTP at all.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
}

// handleReadyz answers readiness probes: 200 "ready" if ready returns nil
// within readyTimeout, else 503 "not ready", followed by the Reason of a
// NotReady in the error's chain. The error itself goes to the log only.
//
// detail, if not nil, adds lines after the first in either case, such as
// "keys: sealed": state a prober may know, never data.
func handleReadyz(logger *slog.Logger, ready func(context.Context) error, detail func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		err := checkReady(r.Context(), logger, ready)
		if err == nil {
			fmt.Fprintln(w, "ready")
			if detail != nil {
				fmt.Fprintln(w, detail())
			}
			return
		}
		logger.LogAttrs(r.Context(), slog.LevelWarn, "not ready",
			slog.String("request_id", RequestID(r.Context())),
			slog.String("error", err.Error()),
		)
		msg := "not ready"
		if reason := notReadyReason(err); reason != "" {
			msg += ": " + reason
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, msg)
		if detail != nil {
			fmt.Fprintln(w, detail())
		}
	})
}

// checkReady runs ready with a timeout. It runs ready in its own goroutine,
// so that a check that ignores its context cannot hold the probe past the
// timeout, and recovers a panic there, where the middleware cannot.
func checkReady(ctx context.Context, logger *slog.Logger, ready func(context.Context) error) error {
	if ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				logger.Error("panic", "component", "readyz", "error", panicValue(v), "stack", string(debug.Stack()))
				done <- NotReady{Reason: "check failed"}
			}
		}()
		done <- ready(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("readiness check: %w", NotReady{Reason: "check timed out"})
	}
}

// notReadyReason returns the Reason of the first NotReady in err's chain if
// it is safe to send, else "".
func notReadyReason(err error) string {
	var reason string
	if nr, ok := errors.AsType[NotReady](err); ok {
		reason = nr.Reason
	} else if nrp, ok := errors.AsType[*NotReady](err); ok && nrp != nil {
		reason = nrp.Reason
	}
	if len(reason) > 64 {
		return ""
	}
	for _, c := range []byte(reason) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == ' ' || c == '.' || c == '_' || c == '-'
		if !ok {
			return ""
		}
	}
	return reason
}
