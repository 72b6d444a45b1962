// SPDX-License-Identifier: AGPL-3.0-or-later

package channel

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-hotline/lifeline"
)

// Registry holds the configured channels' adapters. It is safe for
// concurrent use, so channels can be added and removed while serving.
type Registry struct {
	mu       sync.RWMutex
	adapters map[lifeline.ChannelKind]map[string]Adapter
}

// NewRegistry returns a registry of the given adapters.
func NewRegistry(adapters ...Adapter) *Registry {
	r := &Registry{adapters: map[lifeline.ChannelKind]map[string]Adapter{}}
	for _, a := range adapters {
		r.Add(a)
	}
	return r
}

// Add registers a, replacing a channel of the same kind and name.
func (r *Registry) Add(a Adapter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.adapters[a.Kind()] == nil {
		r.adapters[a.Kind()] = map[string]Adapter{}
	}
	r.adapters[a.Kind()][a.Name()] = a
}

// Replace swaps the whole set of channels at once, for a reload.
func (r *Registry) Replace(other *Registry) {
	other.mu.RLock()
	m := map[lifeline.ChannelKind]map[string]Adapter{}
	for k, byName := range other.adapters {
		m[k] = map[string]Adapter{}
		for n, a := range byName {
			m[k][n] = a
		}
	}
	other.mu.RUnlock()
	r.mu.Lock()
	r.adapters = m
	r.mu.Unlock()
}

// Len is the number of channels.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, byName := range r.adapters {
		n += len(byName)
	}
	return n
}

// Remove unregisters a channel.
func (r *Registry) Remove(kind lifeline.ChannelKind, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.adapters[kind], name)
}

// Lookup finds a channel's adapter.
func (r *Registry) Lookup(kind lifeline.ChannelKind, name string) (Adapter, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.adapters[kind][name]
	return a, ok
}

// Outcomes of a webhook request, the label of the webhook metric.
const (
	OutcomeStored       = "stored"       // events made durable (or recognised as duplicates)
	OutcomeIgnored      = "ignored"      // authentic, nothing for a conversation
	OutcomeUnauthorized = "unauthorized" // bad or missing authenticator: 401
	OutcomeMalformed    = "malformed"    // authentic but unparseable: quarantined
	OutcomeTooLarge     = "too_large"    // 413
	OutcomeUnknown      = "unknown"      // no such channel: 404
	OutcomeStoreFailed  = "store_failed" // the store failed: 503, the provider retries
)

// Metrics counts webhook requests by provider and outcome. Labels are fixed
// sets: never a channel's name, a sender or an id.
type Metrics struct {
	requests *prometheus.CounterVec
	events   *prometheus.CounterVec
}

// NewMetrics registers the webhook metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lifeline_webhook_requests_total",
			Help: "Webhook requests by provider and outcome.",
		}, []string{"kind", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lifeline_webhook_events_total",
			Help: "Events received through webhooks by provider and type.",
		}, []string{"kind", "type"}),
	}
	reg.MustRegister(m.requests, m.events)
	return m
}

func (m *Metrics) count(kind lifeline.ChannelKind, outcome string) {
	if m != nil {
		m.requests.WithLabelValues(string(kind), outcome).Inc()
	}
}

// kindOf maps the {kind} of a URL to a known provider, or "" so that a
// label never carries what a client typed.
func kindOf(s string) lifeline.ChannelKind {
	k := lifeline.ChannelKind(s)
	if k.Valid() {
		return k
	}
	return ""
}

// Handler serves every provider's webhooks:
//
//	POST /hooks/{kind}/{name}             Telegram, WhatsApp
//	POST /hooks/{kind}/{name}/{endpoint}  Twilio (sms, status)
//	GET  /hooks/{kind}/{name}             Meta's verification handshake
type Handler struct {
	logger     *slog.Logger
	registry   *Registry
	receiver   Receiver
	quarantine Quarantine
	metrics    *Metrics
}

// NewHandler returns the webhook handler. quarantine and metrics may be nil.
func NewHandler(logger *slog.Logger, registry *Registry, receiver Receiver, quarantine Quarantine, metrics *Metrics) *Handler {
	return &Handler{logger: logger, registry: registry, receiver: receiver, quarantine: quarantine, metrics: metrics}
}

// quarantineCap bounds the copy of a malformed body that is kept.
const quarantineCap = 64 << 10

// ServeHTTP handles one webhook request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := kindOf(r.PathValue("kind"))
	a, ok := h.registry.Lookup(kind, r.PathValue("name"))
	if !ok {
		h.metrics.count(kind, OutcomeUnknown)
		http.Error(w, "Not found.", http.StatusNotFound)
		return
	}
	if r.Method == http.MethodGet {
		if c, ok := a.(Challenger); ok {
			c.Challenge(w, r)
			return
		}
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		return
	}
	if r.Method != http.MethodPost {
		// A HEAD (routed here by the GET pattern) or anything else is not
		// a delivery, signed or not: it stores nothing.
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Content-Encoding") != "" && r.Header.Get("Content-Encoding") != "identity" {
		// Providers never compress; a compressed body is never inflated here.
		http.Error(w, "Unsupported content encoding.", http.StatusUnsupportedMediaType)
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.MaxBody()))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.metrics.count(kind, OutcomeTooLarge)
			http.Error(w, "Request body too large.", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "Could not read the request.", http.StatusBadRequest)
		return
	}

	if err := a.Verify(r, body); err != nil {
		h.metrics.count(kind, OutcomeUnauthorized)
		h.logger.Warn("webhook not authenticated", "kind", string(kind), "outcome", OutcomeUnauthorized)
		http.Error(w, "Unauthorized.", http.StatusUnauthorized)
		return
	}

	batch, err := a.Parse(r, body)
	if err != nil {
		h.metrics.count(kind, OutcomeMalformed)
		h.logger.Warn("webhook malformed", "kind", string(kind), "outcome", OutcomeMalformed, "error", errorClass(err))
		if h.quarantine != nil {
			capped := body[:min(len(body), quarantineCap)]
			ctx := context.WithoutCancel(r.Context())
			if qerr := h.quarantine.Quarantine(ctx, kind, a.Name(), errorClass(err), capped); qerr != nil {
				h.logger.Error("quarantine failed", "kind", string(kind), "error", qerr.Error())
			}
		}
		if st := a.MalformedStatus(); st != http.StatusOK {
			http.Error(w, "Malformed request.", st)
			return
		}
		a.WriteAck(w, r)
		return
	}
	if len(batch.Events) == 0 {
		h.metrics.count(kind, OutcomeIgnored)
		a.WriteAck(w, r)
		return
	}

	// The provider may hang up now; what it sent is stored all the same,
	// dedupe key included, and the retry it then makes finds it.
	ctx := context.WithoutCancel(r.Context())
	if err := h.receiver.Receive(ctx, a.Kind(), a.Name(), batch.Events); err != nil {
		h.metrics.count(kind, OutcomeStoreFailed)
		h.logger.Error("webhook not stored", "kind", string(kind), "outcome", OutcomeStoreFailed, "error", err.Error())
		http.Error(w, "Temporarily unavailable.", http.StatusServiceUnavailable)
		return
	}
	h.metrics.count(kind, OutcomeStored)
	if h.metrics != nil {
		for _, e := range batch.Events {
			h.metrics.events.WithLabelValues(string(kind), string(e.Type)).Inc()
		}
	}
	a.WriteAck(w, r)
}

// errorClass is a parse error's first, fixed part: adapters wrap
// ErrMalformed with a description of what was wrong, never with the input.
func errorClass(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}
