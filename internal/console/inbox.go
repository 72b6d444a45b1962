// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/lifeline-hotline/lifeline"
	mediapkg "github.com/lifeline-hotline/lifeline/internal/media"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

func pseudonym(id lifeline.ContactID) string { return sqlstore.Pseudonym(id) }

// streams are the streams the inbox filters by.
var streams = []string{"surrender", "relatives"}

func (c *Console) home(w http.ResponseWriter, r *http.Request, s *session) {
	if lifeline.Allowed(s.Operator.Role, lifeline.ActionSeeNewContacts).Permitted() {
		http.Redirect(w, r, "/inbox", http.StatusSeeOther)
		return
	}
	c.render(w, r, s, "home", http.StatusOK, nil)
}

// inboxQuery reads the queue and stream of an inbox request; the default
// queue is the operator's own once they have any, else the unassigned.
func inboxQuery(r *http.Request, s *session) sqlstore.InboxQuery {
	q := sqlstore.InboxQuery{Queue: sqlstore.Queue(r.URL.Query().Get("q")), Operator: s.Operator.ID}
	if !sqlstore.ValidQueue(q.Queue) {
		q.Queue = sqlstore.QueueUnassigned
	}
	if st := r.URL.Query().Get("stream"); slices.Contains(streams, st) {
		q.Stream = st
	}
	return q
}

// visibleQueues are the queues a role works from: own-scoped roles see the
// unassigned queue (to take from) and their own; the rest see all.
func visibleQueues(s *session) []sqlstore.Queue {
	switch lifeline.Allowed(s.Operator.Role, lifeline.ActionReadConversation) {
	case lifeline.GrantAll, lifeline.GrantTeam:
		return sqlstore.Queues
	}
	return []sqlstore.Queue{sqlstore.QueueUnassigned, sqlstore.QueueMine}
}

func (c *Console) inboxData(r *http.Request, s *session) (map[string]any, error) {
	q := inboxQuery(r, s)
	if !slices.Contains(visibleQueues(s), q.Queue) {
		q.Queue = sqlstore.QueueUnassigned
	}
	items, err := c.store.Inbox(r.Context(), q)
	if err != nil {
		return nil, err
	}
	// Object-level filter: the same rule as opening a conversation.
	items = slices.DeleteFunc(items, func(it sqlstore.InboxItem) bool {
		return !canSee(s, lifeline.ActionReadConversation, &it) && q.Queue != sqlstore.QueueUnassigned
	})
	counts, err := c.store.QueueCounts(r.Context(), s.Operator.ID, q.Stream)
	if err != nil {
		return nil, err
	}
	type tab struct {
		Queue  sqlstore.Queue
		Count  int
		Active bool
	}
	var tabs []tab
	for _, qq := range visibleQueues(s) {
		tabs = append(tabs, tab{qq, counts[qq], qq == q.Queue})
	}
	return map[string]any{
		"Query": q, "Items": items, "Tabs": tabs, "Streams": streams,
		"TargetMS": c.cfg.ResponseTarget.Milliseconds(),
	}, nil
}

// show renders a page, or one block of it (a fragment the live updates
// fetch), from what data returns.
func (c *Console) show(page, block string, data func(*http.Request, *session) (map[string]any, error)) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		d, err := data(r, s)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		c.renderBlock(w, r, s, page, block, http.StatusOK, d)
	}
}

func (c *Console) inboxCounts(w http.ResponseWriter, r *http.Request, s *session) {
	q := inboxQuery(r, s)
	counts, err := c.store.QueueCounts(r.Context(), s.Operator.ID, q.Stream)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	out := map[string]int{}
	for _, qq := range visibleQueues(s) {
		out[string(qq)] = counts[qq]
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

// conversationFor loads the conversation of the request's {id} and checks
// that the session may use it for action; a conversation the operator may
// not see is answered exactly like one that does not exist.
func (c *Console) conversationFor(r *http.Request, s *session, action lifeline.Action) (*sqlstore.InboxItem, error) {
	notFound := lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
	id := lifeline.ConversationID(r.PathValue("id"))
	if !id.Valid() {
		return nil, notFound
	}
	conv, err := c.store.Conversation(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !canSee(s, action, conv) {
		c.deny(r, s.actor(r), "console.denied", string(id), string(action))
		return nil, notFound
	}
	return conv, nil
}

func (c *Console) conversationData(r *http.Request, s *session) (map[string]any, error) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReadConversation)
	if err != nil {
		return nil, err
	}
	msgs, err := c.store.ConversationMessages(r.Context(), conv.ID)
	if err != nil {
		return nil, err
	}
	canned, err := c.store.CannedAnswers(r.Context())
	if err != nil {
		return nil, err
	}
	files, err := c.store.ConversationMedia(r.Context(), conv.ID)
	if err != nil {
		return nil, err
	}
	media := map[lifeline.MessageID][]sqlstore.Media{}
	for _, f := range files {
		media[f.MessageID] = append(media[f.MessageID], f)
	}
	caseID, err := c.store.CaseOfConversation(r.Context(), conv.ID)
	if err != nil {
		return nil, err
	}
	// A recorded identity answer links to the case for those who may open it.
	canOpenCaseLink := false
	if caseID != "" {
		k, err := c.store.CaseSummaryByID(r.Context(), caseID)
		if err != nil {
			return nil, err
		}
		mine, err := c.handlesCase(r, s, caseID)
		if err != nil {
			return nil, err
		}
		canOpenCaseLink = caseScope(s, lifeline.ActionSearchContact, k, mine)
	}
	// Every read of a conversation (the page, its history fragment) is one
	// audit entry, naming the conversation, never what it holds; no entry,
	// no read.
	if err := c.store.Audit(context.WithoutCancel(r.Context()), s.actor(r), "conversation.read", string(conv.ID), "via=console"); err != nil {
		return nil, err
	}
	data := map[string]any{
		"Conv": conv, "Messages": msgs, "Media": media, "CaseID": caseID, "CanOpenCaseLink": canOpenCaseLink,
		"CanOpenCase": lifeline.Allowed(s.Operator.Role, lifeline.ActionWriteIdentity).Permitted(),
		"CanLink":     lifeline.Allowed(s.Operator.Role, lifeline.ActionWriteIdentity) == lifeline.GrantOwn, "Canned": canned, "Templates": c.cfg.Templates,
		"CanReply":   canSee(s, lifeline.ActionReplyConversation, conv) && conv.State != "closed",
		"CanRelease": canSee(s, lifeline.ActionReplyConversation, conv),
		"CanAssign":  lifeline.Allowed(s.Operator.Role, lifeline.ActionCaseAssign).Permitted(),
		"CanTake":    conv.AssignedTo == "" && conv.State != "closed",
		"Limit":      lifeline.MessageLength(conv.Kind, ""),
		// A supervisor releases or rejects held replies (not his own).
		"CanDecideHeld": canDecideHeld(s),
		"SteppedUp":     c.steppedUp(s),
	}
	if err := c.wrapUpData(r, s, conv, data); err != nil {
		return nil, err
	}
	if conv.Bot.Handoff != "" {
		// Where the bot stopped, for the operator who answers in its place.
		st, err := c.store.QuestionnaireStatus(r.Context(), conv.ID)
		if err != nil {
			return nil, err
		}
		data["BotPlace"] = c.botPlace(r, s, st.Version, st.Step)
	}
	if conv.OptOut != nil {
		data["OptOut"] = optOutText(c.view(r, s, nil).L, conv.OptOut)
	}
	if data["CanAssign"].(bool) {
		ops, err := c.store.Operators(r.Context())
		if err != nil {
			return nil, err
		}
		ops = slices.DeleteFunc(ops, func(o lifeline.Operator) bool {
			return o.Disabled || !lifeline.Allowed(o.Role, lifeline.ActionReplyConversation).Permitted()
		})
		data["Operators"] = ops
	}
	return data, nil
}

// release releases the messages a conversation holds in quarantine (past
// their sender's storage cap), for an operator who may reply there;
// audited by the store.
func (c *Console) release(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReplyConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if _, err := c.store.ReleaseQuarantined(context.WithoutCancel(r.Context()), s.actor(r), conv.ID); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.changed(conv.ID, "message")
	http.Redirect(w, r, "/c/"+string(conv.ID), http.StatusSeeOther)
}

// fetchMedia has a deferred or skipped file fetched now, for an operator
// who may read its conversation; audited by the store (media.fetch).
func (c *Console) fetchMedia(w http.ResponseWriter, r *http.Request, s *session) {
	id, _, conv, ok := c.readableMedia(w, r, s)
	if !ok {
		return
	}
	if err := c.store.FetchMediaNow(context.WithoutCancel(r.Context()), s.actor(r), id); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if c.cfg.MediaPoke != nil {
		c.cfg.MediaPoke()
	}
	c.changed(conv.ID, "message")
	http.Redirect(w, r, "/c/"+string(conv.ID), http.StatusSeeOther)
}

// unfilled finds placeholders of a canned answer left in a reply.
var unfilled = regexp.MustCompile(`\{[^{}\s]{1,40}\}`)

func (c *Console) reply(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReplyConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	text := strings.TrimSpace(r.PostFormValue("text"))
	if m := unfilled.FindString(text); m != "" {
		c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "Fill in %s before sending.", m))
		return
	}
	// Refusals the operator can act on come back on the conversation, in
	// his language, with his text still in the box.
	lang := c.view(r, s, nil).L
	if conv.OptOut != nil {
		c.replyRefused(w, r, s, http.StatusConflict, optOutText(lang, conv.OptOut), text)
		return
	}
	if l := lifeline.MessageLength(conv.Kind, text); !l.Fits() {
		c.replyRefused(w, r, s, http.StatusBadRequest, lengthText(lang, l), text)
		return
	}
	q, err := c.store.QueueReply(context.WithoutCancel(r.Context()), s.actor(r), conv.ID, text)
	if err != nil {
		switch lifeline.ErrorCode(err) {
		case lifeline.EINVALID:
			c.replyRefused(w, r, s, http.StatusBadRequest, errorText(lang, err), text)
		case lifeline.ECONFLICT:
			c.replyRefused(w, r, s, http.StatusConflict, errorText(lang, err), text)
		default:
			c.fail(w, r, s, err)
		}
		return
	}
	c.changed(conv.ID, "message")
	// A held reply shows in the history as held, with its reasons: the
	// operator's text is kept there for a supervisor to release.
	if len(q.Held) > 0 {
		http.Redirect(w, r, "/c/"+string(conv.ID)+"#m-"+string(q.ID), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/c/"+string(conv.ID), http.StatusSeeOther)
}

// replyRefused shows the conversation again with why a reply was not
// sent and the reply kept in its box.
func (c *Console) replyRefused(w http.ResponseWriter, r *http.Request, s *session, status int, why, text string) {
	data, err := c.conversationData(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	data["ReplyError"], data["ReplyText"] = why, text
	c.render(w, r, s, "conversation", status, data)
}

// lengthText says, in lang, why a reply does not fit its channel.
func lengthText(lang string, l lifeline.Length) string {
	switch {
	case l.Count == 0:
		return translate(lang, "reply.empty")
	case l.Kind == lifeline.ChannelSMS:
		return fmt.Sprintf(translate(lang, "reply.toolong.sms"), l.Segments, l.Encoding, l.Count, lifeline.MaxSMSSegments, l.Limit)
	}
	return fmt.Sprintf(translate(lang, "reply.toolong"), l.Count, l.Kind.Title(), l.Limit)
}

// optOutText says, in lang, that the contact opted out of this channel,
// and which other channel kinds he has used (never a handle).
func optOutText(lang string, o *sqlstore.OptOut) string {
	why := translate(lang, "optout.stop")
	if o.Source == sqlstore.OptOut21610 {
		why = translate(lang, "optout.21610")
	}
	text := fmt.Sprintf(translate(lang, "optout.refused"), o.Since, why) + " "
	if len(o.Others) == 0 {
		return text + translate(lang, "optout.noothers")
	}
	kinds := make([]string, len(o.Others))
	for i, k := range o.Others {
		kinds[i] = k.Title()
	}
	return text + translate(lang, "optout.others") + ": " + strings.Join(kinds, ", ") + "."
}

func (c *Console) sendTemplate(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReplyConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	// Only a configured template: the operator picks, never types, one.
	i := slices.IndexFunc(c.cfg.Templates, func(t Template) bool { return t.Name+"|"+t.Language == r.PostFormValue("template") })
	if i < 0 {
		c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "Choose one of the approved templates."))
		return
	}
	t := c.cfg.Templates[i]
	if _, err := c.store.QueueTemplate(context.WithoutCancel(r.Context()), s.actor(r), conv.ID, t.Name, t.Language); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.changed(conv.ID, "message")
	http.Redirect(w, r, "/c/"+string(conv.ID), http.StatusSeeOther)
}

func (c *Console) note(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReadConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if _, err := c.store.AddNote(context.WithoutCancel(r.Context()), s.actor(r), conv.ID, strings.TrimSpace(r.PostFormValue("text"))); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.changed(conv.ID, "message")
	http.Redirect(w, r, "/c/"+string(conv.ID), http.StatusSeeOther)
}

// take assigns an unassigned conversation to the operator who asks.
func (c *Console) take(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReplyConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if conv.AssignedTo != "" {
		c.fail(w, r, s, lifeline.Errorf(lifeline.ECONFLICT, "Someone has taken this conversation already."))
		return
	}
	if err := c.store.Assign(context.WithoutCancel(r.Context()), s.actor(r), conv.ID, s.Operator.ID); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.changed(conv.ID, "assign")
	http.Redirect(w, r, "/c/"+string(conv.ID), http.StatusSeeOther)
}

// assign gives a conversation to an operator, or to nobody: supervisors.
// The change is conditional on the assignee the page showed, so a
// supervisor never overrides a move they did not see.
func (c *Console) assign(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReadConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var to lifeline.OperatorID
	if v := r.PostFormValue("operator"); v != "" {
		if to = lifeline.OperatorID(v); !to.Valid() {
			c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "Choose an operator."))
			return
		}
	}
	ctx, by := context.WithoutCancel(r.Context()), s.actor(r)
	switch {
	case to == conv.AssignedTo:
	case conv.AssignedTo == "":
		err = c.store.Assign(ctx, by, conv.ID, to)
	case to == "":
		err = c.store.Unassign(ctx, by, conv.ID, conv.AssignedTo)
	default:
		err = c.store.Transfer(ctx, by, conv.ID, conv.AssignedTo, to)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.changed(conv.ID, "assign")
	http.Redirect(w, r, "/c/"+string(conv.ID), http.StatusSeeOther)
}

// closeConversation closes with a wrap-up (search.go).
func (c *Console) closeConversation(w http.ResponseWriter, r *http.Request, s *session) {
	c.closeWithWrapUp(w, r, s)
}

func (c *Console) reopenConversation(w http.ResponseWriter, r *http.Request, s *session) {
	c.setState(w, r, s, "open")
}

func (c *Console) setState(w http.ResponseWriter, r *http.Request, s *session, state string) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReplyConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if err := c.store.SetConversationState(context.WithoutCancel(r.Context()), s.actor(r), conv.ID, state); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.changed(conv.ID, "state")
	http.Redirect(w, r, "/c/"+string(conv.ID), http.StatusSeeOther)
}

// changed tells open consoles, and wakes the outbox for a message.
func (c *Console) changed(id lifeline.ConversationID, what string) {
	if what == "message" && c.cfg.Queued != nil {
		c.cfg.Queued()
	}
	c.hub.Publish(Event{Type: what, Conversation: id})
}

func (c *Console) setLanguage(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.store.SetUILanguage(r.Context(), s.Operator.ID, r.PostFormValue("lang")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	setLangCookie(w, r.PostFormValue("lang"))
	back := r.PostFormValue("back")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.ContainsAny(back, "\\\r\n") {
		back = "/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (c *Console) cannedPage(w http.ResponseWriter, r *http.Request, s *session) {
	canned, err := c.store.CannedAnswers(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, "canned", http.StatusOK, map[string]any{"Canned": canned, "Languages": sqlstore.CannedLanguages})
}

func (c *Console) saveCanned(w http.ResponseWriter, r *http.Request, s *session) {
	a := &sqlstore.CannedAnswer{ID: r.PostFormValue("id"), Language: r.PostFormValue("language"),
		Title: strings.TrimSpace(r.PostFormValue("title")), Body: strings.TrimSpace(r.PostFormValue("body"))}
	if err := c.store.SaveCannedAnswer(context.WithoutCancel(r.Context()), s.actor(r), a); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/canned", http.StatusSeeOther)
}

func (c *Console) archiveCanned(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.store.ArchiveCannedAnswer(context.WithoutCancel(r.Context()), s.actor(r), r.PathValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/canned", http.StatusSeeOther)
}

func (c *Console) unsealPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", CSP)
	if !c.cfg.Keys.Sealed() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	c.render(w, r, nil, "unseal", http.StatusOK, nil)
}

// unseal takes one custodian's share. The shares are the credential: each
// is checked by the keeper, refused ones are audited and named in the
// answer, and the page says how many are still needed.
func (c *Console) unseal(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", CSP)
	if !c.cfg.Keys.Sealed() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if c.cfg.Unseal == nil {
		c.render(w, r, nil, "unseal", http.StatusServiceUnavailable, map[string]any{"Error": "Unseal from the server: lifeline unseal."})
		return
	}
	have, need, err := c.cfg.Unseal(context.WithoutCancel(r.Context()), strings.TrimSpace(r.PostFormValue("share")))
	data := map[string]any{"Have": have, "Need": need}
	if err != nil {
		data["Error"] = err.Error()
		c.render(w, r, nil, "unseal", http.StatusBadRequest, data)
		return
	}
	if !c.cfg.Keys.Sealed() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	c.render(w, r, nil, "unseal", http.StatusOK, data)
}

// readableMedia finds the media file the path names in a conversation the
// operator may read; otherwise it answers (404 alike for a file that does
// not exist and one out of reach, the latter audited as a denial) and ok
// is false.
func (c *Console) readableMedia(w http.ResponseWriter, r *http.Request, s *session) (lifeline.ID, *sqlstore.Media, *sqlstore.InboxItem, bool) {
	notFound := lifeline.Errorf(lifeline.ENOTFOUND, "No such file.")
	id, err := lifeline.ParseID(r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, notFound)
		return id, nil, nil, false
	}
	m, err := c.store.Media(r.Context(), id)
	if err != nil {
		c.fail(w, r, s, err)
		return id, nil, nil, false
	}
	conv, err := c.store.Conversation(r.Context(), m.Conversation)
	if err != nil || !canSee(s, lifeline.ActionReadConversation, conv) {
		if err == nil {
			c.deny(r, s.actor(r), "console.denied", string(id), string(lifeline.ActionReadConversation))
		}
		c.fail(w, r, s, notFound)
		return id, nil, nil, false
	}
	return id, m, conv, true
}

// mediaCSP lets a preview be shown and nothing in it run: an image or a
// voice note opened on its own is a sandboxed document.
const mediaCSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox; frame-ancestors 'self'"

// media serves the preview of a media file of a conversation the operator
// may read: images redrawn as PNG (internal/media.Preview), voice notes as
// they are; documents and videos have none here.
func (c *Console) media(w http.ResponseWriter, r *http.Request, s *session) {
	_, m, conv, ok := c.readableMedia(w, r, s)
	if !ok {
		return
	}
	if m.Data == nil {
		c.fail(w, r, s, lifeline.Errorf(lifeline.ENOTFOUND, "The file is not stored (%s).", m.State))
		return
	}
	mime, data, err := mediapkg.Preview(m.MIME, m.Data)
	if err != nil {
		c.fail(w, r, s, lifeline.Errorf(lifeline.ENOTFOUND, "This file has no preview here."))
		return
	}
	// A file of a conversation is a read of it: one audit entry.
	if err := c.store.Audit(context.WithoutCancel(r.Context()), s.actor(r), "conversation.read", string(conv.ID), "via=console media"); err != nil {
		c.fail(w, r, s, err)
		return
	}
	w.Header().Set("Content-Security-Policy", mediaCSP)
	w.Header().Set("Content-Type", mime)
	w.Header().Set("Content-Disposition", "inline")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(data)
}
