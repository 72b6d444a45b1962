// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// Staged disclosure (SECURITY.md §2.13): before a contact's case is
// verified, a reply that names a time, a place, a route, a call sign, a
// unit or a person is held (sqlstore.QueueReply). Releasing it is
// approving meeting logistics, so the grant is the supervisor's
// ActionMeetingApprove: never on his own reply, each release after a fresh
// step-up.

// canDecideHeld reports whether the session's role decides on held replies.
func canDecideHeld(s *session) bool {
	return lifeline.Allowed(s.Operator.Role, lifeline.ActionMeetingApprove) == lifeline.GrantApprove
}

// reachesConversation reports whether the session's grant for action
// reaches a conversation (lifeline.Reaches).
func (c *Console) reachesConversation(r *http.Request, s *session, action lifeline.Action, id lifeline.ConversationID) (bool, error) {
	conv, err := c.store.Conversation(r.Context(), id)
	if lifeline.ErrorCode(err) == lifeline.ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return canSee(s, action, conv), nil
}

// steppedUp reports whether the session proved a fresh second factor.
func (c *Console) steppedUp(s *session) bool {
	return !s.StepUpAt.IsZero() && c.cfg.Now().Sub(s.StepUpAt) < stepUpAge
}

// heldData is the list of held replies the supervisor may read.
func (c *Console) heldData(r *http.Request, s *session) (map[string]any, error) {
	list, err := c.store.HeldReplies(r.Context())
	if err != nil {
		return nil, err
	}
	out := list[:0]
	for _, h := range list {
		ok, err := c.reachesConversation(r, s, lifeline.ActionReadConversation, h.Conversation)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, h)
		}
	}
	return map[string]any{"Held": out, "SteppedUp": c.steppedUp(s)}, nil
}

// decideHeld approves (approve) or rejects a held reply, with a note; an
// approval needs a fresh step-up, taken from the form's code if the
// session has none.
func (c *Console) decideHeld(approve bool) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		id := lifeline.MessageID(r.PathValue("id"))
		if !id.Valid() {
			c.fail(w, r, s, lifeline.Errorf(lifeline.ENOTFOUND, "No such held reply."))
			return
		}
		// The conversation must be one the supervisor may read.
		list, err := c.store.HeldReplies(r.Context())
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		i := slices.IndexFunc(list, func(h sqlstore.HeldReply) bool { return h.ID == id })
		if i < 0 {
			c.fail(w, r, s, lifeline.Errorf(lifeline.ENOTFOUND, "No such held reply: it may have been decided already."))
			return
		}
		h := list[i]
		ok, err := c.reachesConversation(r, s, lifeline.ActionReadConversation, h.Conversation)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		if !ok {
			c.deny(r, s.actor(r), "console.denied", string(h.Conversation), "held reply")
			c.fail(w, r, s, lifeline.Errorf(lifeline.ENOTFOUND, "No such held reply: it may have been decided already."))
			return
		}
		if h.Author == s.Operator.ID {
			c.deny(r, s.actor(r), "conversation.reply_release", string(h.Conversation)+" "+string(id), "own reply")
			c.fail(w, r, s, lifeline.Errorf(lifeline.EFORBIDDEN, "Another supervisor must decide on your own reply."))
			return
		}
		if approve && !c.steppedUp(s) {
			if err := c.stepUp(r, s, string(id)); err != nil {
				c.fail(w, r, s, err)
				return
			}
		}
		conv, err := c.store.DecideHeld(context.WithoutCancel(r.Context()), s.actor(r), id, approve, strings.TrimSpace(r.PostFormValue("note")))
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		c.changed(conv, "message")
		if r.PostFormValue("back") == "conversation" {
			http.Redirect(w, r, "/c/"+string(conv), http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/held", http.StatusSeeOther)
	}
}
