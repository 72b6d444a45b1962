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

// Search, labels and the wrap-up at close (issue 12: found in seconds).

// searchPage searches the conversations the operator may read. Nothing is
// searched (or audited) until he gives text or a filter; the store audits
// each search as one read. What he searches for is posted, never put in a
// URL (a handle or a soldier's words would sit in the browser's history
// and in logs); a GET takes the filters alone.
func (c *Console) searchPage(w http.ResponseWriter, r *http.Request, s *session) {
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "The search form cannot be read."))
		return
	}
	v := r.PostForm
	if r.Method != http.MethodPost {
		v = r.URL.Query()
		v.Del("q")
	}
	lang := c.view(r, s, nil).L
	q := sqlstore.SearchQuery{Who: s.reacher(), Text: v.Get("q"), Stream: v.Get("stream"), Language: v.Get("lang"),
		State: v.Get("state"), Label: v.Get("label")}
	var bad []string
	if k := lifeline.ChannelKind(v.Get("channel")); k == "" || k.Valid() {
		q.Kind = k
	} else {
		bad = append(bad, "channel")
	}
	if q.Stream != "" && !slices.Contains(streams, q.Stream) {
		bad = append(bad, "stream")
	}
	if q.Language != "" && !lifeline.Language(q.Language).Valid() {
		bad = append(bad, "lang")
	}
	if q.State != "" && q.State != "open" && q.State != "closed" {
		bad = append(bad, "state")
	}
	if o := lifeline.OperatorID(v.Get("operator")); o == "" || o.Valid() {
		q.Operator = o
	} else {
		bad = append(bad, "operator")
	}
	for _, d := range []struct {
		name string
		to   *lifeline.Day
	}{{"from", &q.From}, {"to", &q.To}} {
		if x := v.Get(d.name); x != "" {
			day, err := lifeline.ParseDay(x)
			if err != nil {
				bad = append(bad, d.name)
			}
			*d.to = day
		}
	}
	labels, err := c.store.Labels(r.Context(), sqlstore.LabelKindLabel, true)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	ops, err := c.store.Operators(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	ops = slices.DeleteFunc(ops, func(o lifeline.Operator) bool {
		return !lifeline.Allowed(o.Role, lifeline.ActionReadConversation).Permitted()
	})
	data := map[string]any{"Q": v, "Labels": labels, "Operators": ops, "Kinds": lifeline.ChannelKinds(), "Streams": streams,
		"Languages": lifeline.Languages(), "Scan": sqlstore.SearchScanConversations}
	asked := strings.TrimSpace(q.Text) != "" || q.Kind != "" || q.Stream != "" || q.Language != "" || q.State != "" || q.Label != "" ||
		q.Operator != "" || !q.From.IsZero() || !q.To.IsZero()
	status := http.StatusOK
	switch {
	case len(bad) > 0:
		data["Error"], status = translate(lang, "search.bad")+" ("+strings.Join(bad, ", ")+")", http.StatusBadRequest
	case asked:
		res, err := c.store.Search(context.WithoutCancel(r.Context()), s.actor(r), q)
		switch lifeline.ErrorCode(err) {
		case "":
			data["Result"] = res
		case lifeline.EINVALID:
			data["Error"], status = lifeline.ErrorMessage(err), http.StatusBadRequest
		default:
			c.fail(w, r, s, err)
			return
		}
	}
	c.render(w, r, s, "search", status, data)
}

// labelsPage shows the supervisors' lists: labels and wrap-up categories,
// and the wrap-ups counted per category and outcome.
func (c *Console) labelsPage(w http.ResponseWriter, r *http.Request, s *session) {
	data := map[string]any{}
	for key, kind := range map[string]string{"Labels": sqlstore.LabelKindLabel, "Categories": sqlstore.LabelKindCategory} {
		ls, err := c.store.Labels(r.Context(), kind, false)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data[key] = ls
	}
	today := lifeline.DayOf(c.cfg.Now())
	counts, err := c.store.WrapUpCounts(r.Context(), today.AddDays(-29), today)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	data["Counts"] = counts
	c.render(w, r, s, "labels", http.StatusOK, data)
}

func (c *Console) addLabel(w http.ResponseWriter, r *http.Request, s *session) {
	if _, err := c.store.AddLabel(context.WithoutCancel(r.Context()), s.actor(r), r.PostFormValue("kind"), r.PostFormValue("name")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/labels", http.StatusSeeOther)
}

func (c *Console) archiveLabel(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.store.ArchiveLabel(context.WithoutCancel(r.Context()), s.actor(r), r.PathValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/labels", http.StatusSeeOther)
}

// setLabels puts the chosen labels on a conversation, for an operator who
// may read it.
func (c *Console) setLabels(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReadConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "Choose labels from the list."))
		return
	}
	if err := c.store.SetConversationLabels(context.WithoutCancel(r.Context()), s.actor(r), conv.ID, r.PostForm["label"]); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.changed(conv.ID, "state")
	http.Redirect(w, r, "/c/"+string(conv.ID), http.StatusSeeOther)
}

// closeWithWrapUp closes a conversation with its wrap-up; without one it
// closes nothing and shows the conversation again with the form open and
// what is missing.
func (c *Console) closeWithWrapUp(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReplyConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	wrap := lifeline.WrapUp{Category: r.PostFormValue("category"), Outcome: lifeline.Outcome(r.PostFormValue("outcome")),
		FollowUp: r.PostFormValue("follow_up") == "1", FollowUpNote: lifeline.Sensitive(strings.TrimSpace(r.PostFormValue("follow_up_note")))}
	lang := c.view(r, s, nil).L
	switch {
	case wrap.Category == "":
		c.wrapUpRefused(w, r, s, http.StatusBadRequest, translate(lang, "wrapup.need.category"), wrap)
		return
	case !wrap.Outcome.Valid():
		c.wrapUpRefused(w, r, s, http.StatusBadRequest, translate(lang, "wrapup.need.outcome"), wrap)
		return
	}
	err = c.store.CloseWithWrapUp(context.WithoutCancel(r.Context()), s.actor(r), conv.ID, wrap)
	switch lifeline.ErrorCode(err) {
	case "":
	case lifeline.EINVALID:
		c.wrapUpRefused(w, r, s, http.StatusBadRequest, lifeline.ErrorMessage(err), wrap)
		return
	case lifeline.ECONFLICT:
		c.wrapUpRefused(w, r, s, http.StatusConflict, lifeline.ErrorMessage(err), wrap)
		return
	default:
		c.fail(w, r, s, err)
		return
	}
	c.changed(conv.ID, "state")
	http.Redirect(w, r, "/c/"+string(conv.ID), http.StatusSeeOther)
}

// wrapUpRefused shows the conversation again with the wrap-up form open,
// as filled in, and why it did not close.
func (c *Console) wrapUpRefused(w http.ResponseWriter, r *http.Request, s *session, status int, why string, wrap lifeline.WrapUp) {
	data, err := c.conversationData(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	data["WrapUpError"], data["WrapUpForm"] = why, wrap
	c.render(w, r, s, "conversation", status, data)
}

// undoClose undoes the operator's own close within a minute of it.
func (c *Console) undoClose(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReplyConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	err = c.store.UndoClose(context.WithoutCancel(r.Context()), s.actor(r), conv.ID)
	switch lifeline.ErrorCode(err) {
	case "":
	case lifeline.ECONFLICT:
		data, err := c.conversationData(r, s)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["UndoError"] = translate(c.view(r, s, nil).L, "wrapup.undo.refused")
		c.render(w, r, s, "conversation", http.StatusConflict, data)
		return
	default:
		c.fail(w, r, s, err)
		return
	}
	c.changed(conv.ID, "state")
	http.Redirect(w, r, "/c/"+string(conv.ID), http.StatusSeeOther)
}

// wrapUpData adds to a conversation page's data what its labels and
// wrap-up need: the lists, the labels on it, and, closed, its wrap-up and
// whether the operator may still undo the close.
func (c *Console) wrapUpData(r *http.Request, s *session, conv *sqlstore.InboxItem, data map[string]any) error {
	ctx := r.Context()
	on, err := c.store.ConversationLabels(ctx, conv.ID)
	if err != nil {
		return err
	}
	offered, err := c.store.Labels(ctx, sqlstore.LabelKindLabel, false)
	if err != nil {
		return err
	}
	isOn := map[string]bool{}
	for _, l := range on {
		isOn[l.ID] = true
		if l.Archived {
			offered = append(offered, l) // stays until taken off
		}
	}
	categories, err := c.store.Labels(ctx, sqlstore.LabelKindCategory, false)
	if err != nil {
		return err
	}
	data["ConvLabels"], data["LabelOffer"], data["LabelOn"] = on, offered, isOn
	data["Categories"], data["Outcomes"] = categories, lifeline.Outcomes()
	if conv.State == "closed" {
		wrap, err := c.store.WrapUpOf(ctx, conv.ID)
		switch {
		case err == nil:
			data["WrapUp"] = wrap
			data["CanUndo"] = wrap.Undoable(s.Operator.ID, c.cfg.Now()) && canSee(s, lifeline.ActionReplyConversation, conv)
		case lifeline.ErrorCode(err) != lifeline.ENOTFOUND:
			return err
		}
	}
	return nil
}
