// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// No one alone: whoever holds the host's shell proposes accounts and role
// changes at the command line; a supervisor, never the account itself,
// approves each here with a fresh TOTP step-up. API tokens are made here
// too, each by its own operator, never at the command line.

// canApprove reports whether the session's role approves accounts (the
// admin, who proposes them, sees the list and decides nothing).
func canApprove(s *session) bool {
	return lifeline.Allowed(s.Operator.Role, lifeline.ActionUserCreate) == lifeline.GrantApprove
}

func (c *Console) approvalsPage(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := c.store.Approvals(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, "approvals", http.StatusOK, map[string]any{"Approvals": list, "Decide": canApprove(s), "SteppedUp": c.steppedUp(s)})
}

// decideApproval approves (approve) or refuses what waits on an account;
// either needs a fresh step-up, taken from the form's code if the session
// has none.
func (c *Console) decideApproval(approve bool) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		id := lifeline.OperatorID(r.PathValue("id"))
		action := map[bool]string{true: "user.approve", false: "user.refuse"}[approve]
		switch {
		case !canApprove(s):
			c.deny(r, s.actor(r), action, string(id), "not-approver")
			c.fail(w, r, s, lifeline.Errorf(lifeline.EFORBIDDEN, "Only a supervisor approves accounts and role changes."))
			return
		case id == s.Operator.ID:
			c.deny(r, s.actor(r), action, string(id), "own account")
			c.fail(w, r, s, lifeline.Errorf(lifeline.EFORBIDDEN, "Another supervisor must decide on your own account."))
			return
		case !id.Valid():
			c.fail(w, r, s, lifeline.Errorf(lifeline.ENOTFOUND, "Nothing waits for approval on that account."))
			return
		}
		if !c.steppedUp(s) {
			if err := c.stepUp(r, s, string(id)); err != nil {
				c.fail(w, r, s, err)
				return
			}
		}
		if err := c.store.DecideApproval(context.WithoutCancel(r.Context()), s.actor(r), id, approve); err != nil {
			c.fail(w, r, s, err)
			return
		}
		http.Redirect(w, r, "/approvals", http.StatusSeeOther)
	}
}

// tokensPage lists the operator's own API tokens; new is the plaintext of
// one just made, shown this once.
func (c *Console) tokensPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showTokens(w, r, s, http.StatusOK, "")
}

func (c *Console) showTokens(w http.ResponseWriter, r *http.Request, s *session, status int, fresh string) {
	list, err := c.store.Tokens(r.Context(), s.Operator.Username)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	now := c.cfg.Now()
	type row struct {
		sqlstore.Token
		Valid bool
	}
	rows := make([]row, 0, len(list))
	for _, t := range list {
		rows = append(rows, row{t, t.Valid(now)})
	}
	data := map[string]any{"Tokens": rows, "New": fresh, "SteppedUp": c.steppedUp(s), "MaxDays": int(lifeline.MaxTokenLife.Hours() / 24)}
	c.render(w, r, s, "tokens", status, data)
}

// createToken makes an API token of the signed-in operator, after a fresh
// step-up: a scope (read, or read and reply) and a life of 1 to 90 days.
// The token is shown once, on the answer; only its hash is kept.
func (c *Console) createToken(w http.ResponseWriter, r *http.Request, s *session) {
	scope, err := lifeline.ParseTokenScope(r.PostFormValue("scope"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	maxDays := int(lifeline.MaxTokenLife.Hours() / 24)
	days, err := strconv.Atoi(r.PostFormValue("days"))
	if err != nil || days < 1 || days > maxDays {
		c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "A token lives 1 to %d days.", maxDays))
		return
	}
	if !c.steppedUp(s) {
		if err := c.stepUp(r, s, "token"); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	plain, hash, err := auth.NewToken()
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	id, err := auth.TokenID(plain)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	expires := c.cfg.Now().Add(time.Duration(days) * 24 * time.Hour)
	if err := c.store.IssueToken(context.WithoutCancel(r.Context()), s.actor(r), id, hash, scope, expires); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.showTokens(w, r, s, http.StatusCreated, plain)
}

// revokeToken revokes one of the operator's own tokens.
func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.store.RevokeOwnToken(context.WithoutCancel(r.Context()), s.actor(r), r.PathValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/tokens", http.StatusSeeOther)
}
