// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"golang.org/x/mod/sumdb/tlog"
)

// Issue 12: found in seconds, and a wrap-up at close.

// addEntry adds a label or a category as the world's supervisor, through
// the console, and returns its id.
func addEntry(t *testing.T, w *policyWorld, kind, name string) string {
	t.Helper()
	resp := w.f.do("POST", "/labels", url.Values{"kind": {kind}, "name": {name}}, w.cookies["sv"])
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add %s %q: %d\n%s", kind, name, resp.StatusCode, bodyOf(t, resp))
	}
	ls, err := w.f.db.Labels(context.Background(), kind, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.Name == name {
			return l.ID
		}
	}
	t.Fatalf("%s %q not in the list", kind, name)
	return ""
}

func convState(t *testing.T, w *policyWorld, conv lifeline.ConversationID) string {
	t.Helper()
	c, err := w.f.db.Conversation(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	return c.State
}

// TestCloseNeedsWrapUp: closing without a category or an outcome closes
// nothing and shows the conversation again, in the operator's language,
// with the form as he filled it; with both it closes and keeps the wrap-up.
// Only supervisors keep the categories.
func TestCloseNeedsWrapUp(t *testing.T) {
	w := newPolicyWorld(t)
	conv := w.convs["co"]
	if resp := w.f.do("POST", "/labels", url.Values{"kind": {"category"}, "name": {"x"}}, w.cookies["co"]); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a case officer adding a category: %d, want 403", resp.StatusCode)
	}
	cat := addEntry(t, w, sqlstore.LabelKindCategory, "Реєстрація")
	page := bodyOf(t, w.f.do("GET", "/c/"+string(conv), nil, w.cookies["co"]))
	if !strings.Contains(page, `id="wrapup-form"`) || !strings.Contains(page, "Реєстрація") || strings.Contains(page, `id="undo-close"`) {
		t.Fatalf("the open conversation offers no wrap-up:\n%s", page)
	}
	for _, c := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"outcome": {"informed"}}, "оберіть категорію"},
		{url.Values{"category": {cat}, "follow_up_note": {"передзвонити"}, "follow_up": {"1"}}, "оберіть результат"},
		{url.Values{"category": {"nonsense"}, "outcome": {"informed"}}, "Choose a category from the list."},
	} {
		resp := w.f.do("POST", "/c/"+string(conv)+"/close", c.form, w.cookies["co"])
		body := bodyOf(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="wrapup-error"`) || !strings.Contains(body, c.want) ||
			!strings.Contains(body, `id="wrapup" open`) {
			t.Errorf("close with %v: %d, want 400 with %q and the form open\n%s", c.form, resp.StatusCode, c.want, body)
		}
		if c.form.Get("follow_up_note") != "" && !strings.Contains(body, ">передзвонити</textarea>") {
			t.Errorf("close with %v: the note is not kept in the form", c.form)
		}
		if st := convState(t, w, conv); st == "closed" {
			t.Fatalf("close with %v closed the conversation", c.form)
		}
	}
	resp := w.f.do("POST", "/c/"+string(conv)+"/close", url.Values{"category": {cat}, "outcome": {"referred"}, "follow_up": {"1"}, "follow_up_note": {"передзвонити"}}, w.cookies["co"])
	if resp.StatusCode != http.StatusSeeOther || convState(t, w, conv) != "closed" {
		t.Fatalf("close with a wrap-up: %d, state %s", resp.StatusCode, convState(t, w, conv))
	}
	wrap, err := w.f.db.WrapUpOf(context.Background(), conv)
	if err != nil || wrap.CategoryName != "Реєстрація" || wrap.Outcome != lifeline.OutcomeReferred || !wrap.FollowUp || wrap.FollowUpNote.Reveal() != "передзвонити" {
		t.Errorf("wrap-up %+v, %v", wrap, err)
	}
	page = bodyOf(t, w.f.do("GET", "/c/"+string(conv), nil, w.cookies["co"]))
	if !strings.Contains(page, `id="wrapup-done"`) || !strings.Contains(page, "передано далі") || !strings.Contains(page, `id="undo-close"`) {
		t.Errorf("the closed conversation does not show its wrap-up and undo:\n%s", page)
	}
	// The supervisor reads it (team), and may not undo another's close.
	if page := bodyOf(t, w.f.do("GET", "/c/"+string(conv), nil, w.cookies["sv"])); !strings.Contains(page, `id="wrapup-done"`) || strings.Contains(page, `id="undo-close"`) {
		t.Errorf("supervisor's view of the wrap-up:\n%s", page)
	}
}

// TestUndoCloseWithinAMinute: the operator who closed may undo for a
// minute (the conversation is open again, its wrap-up gone); after a
// minute the page offers no undo and a late one is refused, leaving it
// closed; no one else may undo it.
func TestUndoCloseWithinAMinute(t *testing.T) {
	w := newPolicyWorld(t)
	conv := w.convs["co"]
	cat := addEntry(t, w, sqlstore.LabelKindCategory, "Info")
	closeIt := func() {
		t.Helper()
		resp := w.f.do("POST", "/c/"+string(conv)+"/close", url.Values{"category": {cat}, "outcome": {"informed"}}, w.cookies["co"])
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("close: %d", resp.StatusCode)
		}
	}
	closeIt()
	if resp := w.f.do("POST", "/c/"+string(conv)+"/undo-close", url.Values{}, w.cookies["sv"]); resp.StatusCode != http.StatusNotFound {
		t.Errorf("undo by the supervisor: %d, want 404", resp.StatusCode)
	}
	w.f.clock.Add(50 * time.Second)
	resp := w.f.do("POST", "/c/"+string(conv)+"/undo-close", url.Values{}, w.cookies["co"])
	if resp.StatusCode != http.StatusSeeOther || convState(t, w, conv) == "closed" {
		t.Fatalf("undo at 50 s: %d, state %s", resp.StatusCode, convState(t, w, conv))
	}
	if _, err := w.f.db.WrapUpOf(context.Background(), conv); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("wrap-up after undo: %v, want none", err)
	}
	closeIt()
	w.f.clock.Add(61 * time.Second)
	if page := bodyOf(t, w.f.do("GET", "/c/"+string(conv), nil, w.cookies["co"])); strings.Contains(page, `id="undo-close"`) || !strings.Contains(page, `id="wrapup-done"`) {
		t.Errorf("a minute later the page still offers undo:\n%s", page)
	}
	resp = w.f.do("POST", "/c/"+string(conv)+"/undo-close", url.Values{}, w.cookies["co"])
	if body := bodyOf(t, resp); resp.StatusCode != http.StatusConflict || !strings.Contains(body, `id="undo-error"`) || !strings.Contains(body, "минула хвилина") {
		t.Errorf("undo after a minute: %d\n%s", resp.StatusCode, body)
	}
	if st := convState(t, w, conv); st != "closed" {
		t.Errorf("after a refused undo: %s, want closed", st)
	}
}

// TestLabelsOnConversations: an operator who may read a conversation puts
// labels from the supervisors' list on it, and they show on it and filter
// the search; one who may not read it cannot label it.
func TestLabelsOnConversations(t *testing.T) {
	w := newPolicyWorld(t)
	conv := w.convs["co"]
	urgent := addEntry(t, w, sqlstore.LabelKindLabel, "терміново")
	addEntry(t, w, sqlstore.LabelKindLabel, "група")
	if resp := w.f.do("POST", "/c/"+string(conv)+"/labels", url.Values{"label": {urgent}}, w.cookies["io2"]); resp.StatusCode != http.StatusNotFound {
		t.Errorf("labelling another's conversation: %d, want 404", resp.StatusCode)
	}
	if resp := w.f.do("POST", "/c/"+string(conv)+"/labels", url.Values{"label": {urgent}}, w.cookies["co"]); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("label: %d", resp.StatusCode)
	}
	page := bodyOf(t, w.f.do("GET", "/c/"+string(conv), nil, w.cookies["co"]))
	if !strings.Contains(page, `<span class="chip label-chip">терміново</span>`) || strings.Contains(page, `<span class="chip label-chip">група</span>`) {
		t.Errorf("labels on the page:\n%s", page)
	}
	if resp := w.f.do("POST", "/c/"+string(conv)+"/labels", url.Values{"label": {"nonsense"}}, w.cookies["co"]); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a label not in the list: %d, want 400", resp.StatusCode)
	}
	body := bodyOf(t, w.f.do("GET", "/search?label="+urgent, nil, w.cookies["sv"]))
	if !strings.Contains(body, `href="/c/`+string(conv)+`"`) || strings.Count(body, `class="open-conv"`) != 1 {
		t.Errorf("search by label:\n%s", body)
	}
}

// TestSearchPageWithinReach: the search page finds, by words, only the
// conversations the operator may read (the case officer his own, the
// intake operator the unassigned one, the supervisor his team's), never
// shows another's text, and audits one entry per search without the words.
func TestSearchPageWithinReach(t *testing.T) {
	w := newPolicyWorld(t)
	for actor, want := range map[string][]string{
		"co": {"co"},
		"io": {"free"},
		"sv": {"co", "free", "other", "own"},
	} {
		resp := w.f.do("POST", "/search", url.Values{"q": {"canaryconv"}}, w.cookies[actor])
		body := bodyOf(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("search as %s: %d\n%s", actor, resp.StatusCode, body)
		}
		var got []string
		for name, conv := range w.convs {
			if strings.Contains(body, `href="/c/`+string(conv)+`"`) {
				got = append(got, name)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s found %v, want %v", actor, got, want)
		}
		for name, canary := range map[string]string{"own": canaryC1Own, "co": canaryC1CO, "free": canaryC1Free, "other": canaryC1Other} {
			if !slices.Contains(want, name) && strings.Contains(body, canary) {
				t.Errorf("%s's search shows %s", actor, canary)
			}
		}
	}
	var searches []audit.Entry
	if err := w.f.db.AuditLog().Entries(context.Background(), func(e audit.Entry, _ tlog.Hash) error {
		if e.Action == "conversation.search" {
			searches = append(searches, e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(searches) != 3 {
		t.Fatalf("%d search entries, want 3", len(searches))
	}
	for _, e := range searches {
		if strings.Contains(strings.ToLower(e.Object+e.Reason), "canary") || !strings.Contains(e.Reason, "kinds=") {
			t.Errorf("audit entry %+v", e)
		}
	}
	// An empty form searches nothing and audits nothing; a bad filter is
	// refused with the page.
	if resp := w.f.do("GET", "/search", nil, w.cookies["co"]); resp.StatusCode != http.StatusOK {
		t.Errorf("empty search page: %d", resp.StatusCode)
	}
	if resp := w.f.do("GET", "/search?state=lost&from=yesterday", nil, w.cookies["co"]); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad filters: %d, want 400", resp.StatusCode)
	}
	// Text in a URL is not searched for (nor kept in a log or history).
	if body := bodyOf(t, w.f.do("GET", "/search?q=canaryconv", nil, w.cookies["co"])); strings.Contains(body, `id="search-count"`) {
		t.Errorf("a GET searched for text:\n%s", body)
	}
	if resp := w.f.do("POST", "/search", url.Values{"q": {"x"}}, w.cookies["fo"]); resp.StatusCode != http.StatusForbidden {
		t.Errorf("finance officer searching conversations: %d, want 403", resp.StatusCode)
	}
}
