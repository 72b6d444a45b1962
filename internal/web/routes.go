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

	if h := s.cfg.Webhooks; h != nil {
		s.Handle("POST /hooks/{kind}/{name}", h)
		s.Handle("POST /hooks/{kind}/{name}/{endpoint}", h)
		s.Handle("GET /hooks/{kind}/{name}", h)
	}
	if api := s.cfg.API; api != nil {
		s.Handle("GET /api/v1/conversations", handleAPIConversations(logger, api))
		s.Handle("GET /api/v1/conversations/{id}/messages", handleAPIMessages(logger, api))
		s.Handle("POST /api/v1/conversations/{id}/messages", handleAPIReply(logger, api))
		s.Handle("POST /api/v1/conversations/{id}/template", handleAPITemplate(logger, api))
	}
	for _, r := range s.cfg.Routes {
		s.Handle(r.Pattern, r.Handler)
	}
}
