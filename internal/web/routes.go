// SPDX-License-Identifier: AGPL-3.0-or-later

package web

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// addRoutes registers lifeline's whole URL surface, behind its two doors
// (SECURITY.md §2.1). The public door is what the world reaches: the
// providers' webhooks and a liveness probe, nothing else; any other request
// there is a 404, which tells nothing (not sealed or unsealed, not that a
// console exists). The private door, reachable only through WireGuard or an
// onion service, is everything else: console, API, unseal, readiness and
// metrics. Every route goes through the middleware; a request that matches
// none on the private door gets ServeMux's 404 or 405, through the
// middleware too.
func addRoutes(s *Server, logger *slog.Logger, ready func(context.Context) error, reg *prometheus.Registry) {
	s.handlePublic("GET /healthz", handleHealthz())
	if h := s.cfg.Webhooks; h != nil {
		s.handlePublic("POST /hooks/{kind}/{name}", h)
		s.handlePublic("POST /hooks/{kind}/{name}/{endpoint}", h)
		s.handlePublic("GET /hooks/{kind}/{name}", h)
	}

	s.Handle("GET /healthz", handleHealthz())
	s.Handle("GET /readyz", handleReadyz(logger, ready, s.cfg.ReadyDetail))
	s.Handle("GET /metrics", handleMetrics(logger, reg))
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
