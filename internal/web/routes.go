// SPDX-License-Identifier: AGPL-3.0-or-later

package web

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// addRoutes registers lifeline's whole URL surface. Every route goes
// through Server.Handle and so through the middleware; a request that
// matches none gets ServeMux's 404 or 405, through the middleware too.
func addRoutes(s *Server, logger *slog.Logger, ready func(context.Context) error, reg *prometheus.Registry) {
	s.Handle("GET /healthz", handleHealthz())
	s.Handle("GET /readyz", handleReadyz(logger, ready, s.cfg.ReadyDetail))
	s.Handle("GET /metrics", handleMetrics(logger, reg))
}
