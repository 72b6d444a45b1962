// SPDX-License-Identifier: AGPL-3.0-or-later

package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// APIStore is what the JSON API needs of the store.
type APIStore interface {
	OperatorByToken(ctx context.Context, hash []byte) (*lifeline.Operator, lifeline.TokenScope, error)
	Conversations(ctx context.Context, limit int, after lifeline.ConversationID) ([]sqlstore.ConversationSummary, error)
	ConversationMessages(ctx context.Context, id lifeline.ConversationID) ([]sqlstore.ConversationMessage, error)
	ConversationMedia(ctx context.Context, id lifeline.ConversationID) ([]sqlstore.Media, error)
	Conversation(ctx context.Context, id lifeline.ConversationID) (*sqlstore.InboxItem, error)
	QueueReply(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, text string) (sqlstore.QueuedReply, error)
	QueueTemplate(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, name, language string) (lifeline.MessageID, error)
	Audit(ctx context.Context, by lifeline.Actor, action, object, reason string) error
}

// API is the JSON API's configuration.
type API struct {
	Store APIStore
	// Queued, if set, is called after a reply is queued (to wake the outbox).
	Queued func()
	// Now is the clock need-to-know reads (the intake desk's reach ends
	// with time); nil means time.Now.
	Now func() time.Time
	// Sealed, if set, reports whether the keys are sealed: then every data
	// endpoint answers 503, even those whose data is plaintext workflow
	// (SECURITY.md §2.1: nothing is read until custodians unseal).
	Sealed func() bool
}

func (api *API) now() time.Time {
	if api.Now != nil {
		return api.Now()
	}
	return time.Now()
}

// requireToken authenticates a bearer token (valid, not expired) and checks
// that the operator's role grants action and the token's scope allows it;
// every refusal is one of a few generic answers. While the keys are sealed
// an authenticated call answers 503 and reads nothing (an unauthenticated
// one still gets 401, which tells it nothing).
func requireToken(logger *slog.Logger, api *API, action lifeline.Action, next func(w http.ResponseWriter, r *http.Request, op *lifeline.Operator)) http.Handler {
	store := api.Store
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		hash, err := auth.HashToken(strings.TrimSpace(token))
		if !ok || err != nil {
			writeJSONError(w, lifeline.Errorf(lifeline.EUNAUTHORIZED, "A valid bearer token is required."))
			return
		}
		op, scope, err := store.OperatorByToken(r.Context(), hash)
		if err != nil {
			if lifeline.ErrorCode(err) == lifeline.EINTERNAL {
				logger.Error("token lookup", "request_id", RequestID(r.Context()), "error", err.Error())
			}
			writeJSONError(w, lifeline.Errorf(lifeline.EUNAUTHORIZED, "A valid bearer token is required."))
			return
		}
		if !lifeline.Allowed(op.Role, action).Permitted() {
			writeJSONError(w, lifeline.Errorf(lifeline.EFORBIDDEN, "Your role does not allow this."))
			return
		}
		if !scope.Allows(action) {
			writeJSONError(w, lifeline.Errorf(lifeline.EFORBIDDEN, "This token may only read: make one that may reply in the console."))
			return
		}
		if api.Sealed != nil && api.Sealed() {
			writeJSONError(w, errSealed)
			return
		}
		next(w, r, op)
	})
}

// errSealed is the answer of every data endpoint while the keys are sealed.
var errSealed = lifeline.Errorf(lifeline.EUNAVAILABLE, "The server is sealed: nothing can be read or sent until custodians unseal it.")

// reaches applies need-to-know to one conversation (lifeline.Reaches, the
// same rule as the console's): a conversation out of reach answers exactly
// like one that does not exist.
func reaches(ctx context.Context, api *API, op *lifeline.Operator, action lifeline.Action, id lifeline.ConversationID) error {
	_, err := reach(ctx, api, op, action, id)
	return err
}

// reach is reaches, returning the conversation.
func reach(ctx context.Context, api *API, op *lifeline.Operator, action lifeline.Action, id lifeline.ConversationID) (*sqlstore.InboxItem, error) {
	notFound := lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
	if !id.Valid() {
		return nil, notFound
	}
	c, err := api.Store.Conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	if !lifeline.Reaches(lifeline.ReacherOf(op, api.now()), action, c.Object()) {
		return nil, notFound
	}
	return c, nil
}

func handleAPIConversations(logger *slog.Logger, api *API) http.Handler {
	type conversation struct {
		ID              lifeline.ConversationID `json:"id"`
		ContactID       lifeline.ContactID      `json:"contact_id"`
		Kind            lifeline.ChannelKind    `json:"kind"`
		Channel         string                  `json:"channel"`
		State           string                  `json:"state"`
		Campaign        string                  `json:"campaign,omitempty"`
		AssignedTo      lifeline.OperatorID     `json:"assigned_to,omitempty"`
		OpenedDay       lifeline.Day            `json:"opened_day"`
		LastActivityDay lifeline.Day            `json:"last_activity_day"`
		Messages        int                     `json:"messages"`
	}
	type page struct {
		Conversations []conversation `json:"conversations"`
		Next          string         `json:"next,omitempty"`
	}
	return requireToken(logger, api, lifeline.ActionReadConversation, func(w http.ResponseWriter, r *http.Request, op *lifeline.Operator) {
		limit := 50
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 500 {
				writeJSONError(w, lifeline.Errorf(lifeline.EINVALID, "limit is 1 to 500."))
				return
			}
			limit = n
		}
		after := lifeline.ConversationID(r.URL.Query().Get("after"))
		if after != "" && !after.Valid() {
			writeJSONError(w, lifeline.Errorf(lifeline.EINVALID, "after is a conversation id."))
			return
		}
		// The page is the first limit conversations the caller may see
		// after the cursor, and the next cursor is the last of them: a
		// cursor never names a conversation out of his reach.
		who := lifeline.ReacherOf(op, api.now())
		p := page{Conversations: make([]conversation, 0, limit)}
	pages:
		for {
			list, err := api.Store.Conversations(r.Context(), limit, after)
			if err != nil {
				writeAPIError(logger, w, r, err)
				return
			}
			for _, c := range list {
				if len(p.Conversations) == limit {
					// A full page with more after it.
					p.Next = string(p.Conversations[limit-1].ID)
					break pages
				}
				after = c.ID
				if lifeline.Reaches(who, lifeline.ActionReadConversation, c.Object()) {
					p.Conversations = append(p.Conversations, conversation{ID: c.ID, ContactID: c.ContactID, Kind: c.Kind, Channel: c.Channel,
						State: c.State, Campaign: c.Campaign, AssignedTo: c.AssignedTo, OpenedDay: c.OpenedDay, LastActivityDay: c.LastActivityDay, Messages: c.Messages})
				}
			}
			if len(list) < limit {
				break // no more
			}
		}
		writeJSON(w, http.StatusOK, p)
	})
}

func handleAPIMessages(logger *slog.Logger, api *API) http.Handler {
	// media is a file of a message: stored, pending, or arrived and not
	// kept (rejected, failed) with the reason; never its content or URL.
	type media struct {
		ID     lifeline.ID `json:"id"`
		State  string      `json:"state"`
		Reason string      `json:"reason,omitempty"`
		MIME   string      `json:"mime,omitempty"`
		Size   int64       `json:"size,omitempty"`
	}
	type message struct {
		ID           lifeline.MessageID `json:"id"`
		Direction    lifeline.Direction `json:"direction"`
		Kind         string             `json:"kind"`
		Text         string             `json:"text"`
		Status       string             `json:"status,omitempty"`
		StatusReason string             `json:"status_reason,omitempty"`
		Day          lifeline.Day       `json:"day"`
		// Edited: the contact edited it (text is the current one) or it
		// was stored from an edit; earlier holds the texts before, oldest
		// first.
		Edited bool `json:"edited,omitempty"`
		// IdentityAnswer: the message answered the bot's identity question
		// of this key; text is only the marker, the answer is in the case.
		// AwaitingBot: the bot has yet to take it as such an answer; text
		// is empty until then.
		IdentityAnswer  string        `json:"identity_answer,omitempty"`
		AwaitingBot     bool          `json:"awaiting_bot,omitempty"`
		EditedDay       *lifeline.Day `json:"edited_day,omitempty"`
		OriginalMissing bool          `json:"original_missing,omitempty"`
		Earlier         []string      `json:"earlier,omitempty"`
		Media           []media       `json:"media,omitempty"`
		// A reply held for a supervisor: what it would disclose, and who
		// decided on it and why.
		HeldFor      []lifeline.Disclosure `json:"held_for,omitempty"`
		DecidedBy    string                `json:"decided_by,omitempty"`
		DecisionNote string                `json:"decision_note,omitempty"`
	}
	return requireToken(logger, api, lifeline.ActionReadConversation, func(w http.ResponseWriter, r *http.Request, op *lifeline.Operator) {
		id := lifeline.ConversationID(r.PathValue("id"))
		conv, err := reach(r.Context(), api, op, lifeline.ActionReadConversation, id)
		if err != nil {
			writeAPIError(logger, w, r, err)
			return
		}
		list, err := api.Store.ConversationMessages(r.Context(), id)
		if err != nil {
			writeAPIError(logger, w, r, err)
			return
		}
		// Every read of a conversation is one audit entry, as in the
		// console; no entry, no read.
		by := lifeline.Actor{ID: string(op.ID), Role: op.Role, RequestID: RequestID(r.Context())}
		if err := api.Store.Audit(context.WithoutCancel(r.Context()), by, "conversation.read", string(id), "via=api"); err != nil {
			writeAPIError(logger, w, r, err)
			return
		}
		files, err := api.Store.ConversationMedia(r.Context(), id)
		if err != nil {
			writeAPIError(logger, w, r, err)
			return
		}
		byMessage := map[lifeline.MessageID][]media{}
		for _, f := range files {
			byMessage[f.MessageID] = append(byMessage[f.MessageID], media{ID: f.ID, State: f.State, Reason: f.Reason, MIME: f.MIME, Size: f.Size})
		}
		out := struct {
			// OptOut, if set, says why nothing can be sent (SMS STOP).
			OptOut   string    `json:"opt_out,omitempty"`
			Messages []message `json:"messages"`
		}{Messages: make([]message, 0, len(list))}
		if conv.OptOut != nil {
			out.OptOut = conv.OptOut.Refusal()
		}
		for _, m := range list {
			msg := message{ID: m.ID, Direction: m.Direction, Kind: m.Kind, Text: m.Text.Reveal(),
				Status: m.Status, StatusReason: m.StatusReason, Day: m.Day, Edited: m.Edited, OriginalMissing: m.OriginalMissing,
				Media: byMessage[m.ID], HeldFor: m.HeldFor, DecidedBy: m.DecidedBy, DecisionNote: m.DecisionNote.Reveal(),
				IdentityAnswer: m.Answer, AwaitingBot: m.AwaitingBot}
			if m.Edited {
				msg.EditedDay = &m.EditedDay
			}
			for _, e := range m.Earlier {
				msg.Earlier = append(msg.Earlier, e.Reveal())
			}
			out.Messages = append(out.Messages, msg)
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleAPIReply queues a reply: 202 with status "queued", or, before the
// contact's case is verified, 202 with status "held" and the categories it
// was held for (staged disclosure): a supervisor releases or rejects it.
func handleAPIReply(logger *slog.Logger, api *API) http.Handler {
	return handleAPIQueue(logger, api, `Send {"text": "..."}.`, func(r *http.Request, by lifeline.Actor, id lifeline.ConversationID, req queueRequest) (sqlstore.QueuedReply, error) {
		return api.Store.QueueReply(r.Context(), by, id, req.Text)
	})
}

// handleAPITemplate queues an approved WhatsApp template, the only message
// allowed once the 24-hour window has closed.
func handleAPITemplate(logger *slog.Logger, api *API) http.Handler {
	return handleAPIQueue(logger, api, `Send {"name": "...", "language": "ru"}.`, func(r *http.Request, by lifeline.Actor, id lifeline.ConversationID, req queueRequest) (sqlstore.QueuedReply, error) {
		mid, err := api.Store.QueueTemplate(r.Context(), by, id, req.Name, req.Language)
		return sqlstore.QueuedReply{ID: mid}, err
	})
}

// queueRequest is the body of the routes that queue a message.
type queueRequest struct {
	Text     string `json:"text,omitempty"`
	Name     string `json:"name,omitempty"`
	Language string `json:"language,omitempty"`
}

func handleAPIQueue(logger *slog.Logger, api *API, usage string, queue func(*http.Request, lifeline.Actor, lifeline.ConversationID, queueRequest) (sqlstore.QueuedReply, error)) http.Handler {
	return requireToken(logger, api, lifeline.ActionReplyConversation, func(w http.ResponseWriter, r *http.Request, op *lifeline.Operator) {
		id := lifeline.ConversationID(r.PathValue("id"))
		if err := reaches(r.Context(), api, op, lifeline.ActionReplyConversation, id); err != nil {
			writeAPIError(logger, w, r, err)
			return
		}
		var req queueRequest
		body, err := ReadBody(w, r, 64<<10)
		if IsTooLarge(err) {
			writeJSONError(w, lifeline.Errorf(lifeline.EINVALID, "The request is too large."))
			return
		}
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err != nil || dec.Decode(&req) != nil {
			writeJSONError(w, lifeline.Errorf(lifeline.EINVALID, "%s", usage))
			return
		}
		by := lifeline.Actor{ID: string(op.ID), Role: op.Role, RequestID: RequestID(r.Context())}
		q, err := queue(r, by, id, req)
		if err != nil {
			writeAPIError(logger, w, r, err)
			return
		}
		if len(q.Held) > 0 {
			writeJSON(w, http.StatusAccepted, struct {
				ID      lifeline.MessageID    `json:"id"`
				Status  string                `json:"status"`
				HeldFor []lifeline.Disclosure `json:"held_for"`
				Message string                `json:"message"`
			}{q.ID, "held", q.Held, "Held for a supervisor: before the contact's case is verified, a reply that names a " +
				strings.ReplaceAll(lifeline.JoinDisclosures(q.Held), ",", ", ") + " is sent only once a supervisor approves it."})
			return
		}
		if api.Queued != nil {
			api.Queued()
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"id": string(q.ID), "status": "queued"})
	})
}

// writeAPIError answers a domain error with its status and message, and
// logs anything else as the internal error it is.
func writeAPIError(logger *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	if lifeline.ErrorCode(err) == lifeline.EINTERNAL {
		logger.Error("api", "request_id", RequestID(r.Context()), "route", r.Pattern, "error", err.Error())
	}
	writeJSONError(w, err)
}

func writeJSONError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch lifeline.ErrorCode(err) {
	case lifeline.EINVALID:
		status = http.StatusBadRequest
	case lifeline.ENOTFOUND:
		status = http.StatusNotFound
	case lifeline.ECONFLICT:
		status = http.StatusConflict
	case lifeline.EUNAUTHORIZED:
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer realm="lifeline"`)
	case lifeline.EFORBIDDEN:
		status = http.StatusForbidden
	case lifeline.EUNAVAILABLE:
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]string{"error": lifeline.ErrorMessage(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // a client that went away is no error of ours
}
