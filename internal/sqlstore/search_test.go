// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"golang.org/x/mod/sumdb/tlog"
)

// searchWorld: two case officers, each with one conversation of his own
// (a case each, a word in common, one of them closed), and a supervisor.
type searchWorld struct {
	*routingEnv
	co1, co2, io lifeline.Operator
	conv1, conv2 lifeline.ConversationID
	contact1     lifeline.ContactID
	code1, code2 string
}

const (
	handle1 = "100000901"
	handle2 = "100000902"
)

func newSearchWorld(t *testing.T) *searchWorld {
	t.Helper()
	ctx := context.Background()
	w := &searchWorld{routingEnv: mustRoutingEnv(t)}
	for _, p := range []struct {
		op   *lifeline.Operator
		role lifeline.Role
	}{{&w.co1, lifeline.RoleCaseOfficer}, {&w.co2, lifeline.RoleCaseOfficer}, {&w.io, lifeline.RoleIntake}} {
		id := w.operator(t, p.role)
		*p.op = lifeline.Operator{ID: id, Role: p.role}
	}
	for i, c := range []struct {
		handle, text string
		to           lifeline.OperatorID
		conv         *lifeline.ConversationID
		code         *string
	}{
		{handle1, "Хочу сдаться, у меня Танк Т-72 в исправном состоянии", w.co1.ID, &w.conv1, &w.code1},
		{handle2, "Есть танк и два человека со мной", w.co2.ID, &w.conv2, &w.code2},
	} {
		var contact lifeline.ContactID
		*c.conv, contact = newConversationOn(t, w.db, c.handle, c.text)
		if i == 0 {
			w.contact1 = contact
		}
		if err := w.db.Assign(ctx, lifeline.CLIActor, *c.conv, c.to); err != nil {
			t.Fatal(err)
		}
		k, err := w.db.OpenCase(ctx, lifeline.CLIActor, *c.conv)
		if err != nil {
			t.Fatal(err)
		}
		*c.code = k.CodeName
	}
	if _, err := w.db.AddNote(ctx, lifeline.Actor{ID: string(w.co1.ID), Role: lifeline.RoleCaseOfficer}, w.conv1, "перезвонить вечером"); err != nil {
		t.Fatal(err)
	}
	if err := w.db.SetConversationState(ctx, lifeline.CLIActor, w.conv1, "closed"); err != nil {
		t.Fatal(err)
	}
	return w
}

// newConversationOn stores a contact's first message on Telegram.
func newConversationOn(t *testing.T, db *sqlstore.DB, handle, text string) (lifeline.ConversationID, lifeline.ContactID) {
	t.Helper()
	var conv lifeline.ConversationID
	c := &lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(handle)}
	err := db.Ingest(context.Background(), func(in *sqlstore.Ingest) error {
		if err := in.CreateContact(c); err != nil {
			return err
		}
		var err error
		if conv, _, err = in.OpenConversation(c.ID, lifeline.ChannelTelegram, "bot", "", ""); err != nil {
			return err
		}
		return in.AddMessage(&lifeline.Message{ID: lifeline.NewMessageID(), ContactID: c.ID, Direction: lifeline.Inbound, Body: lifeline.Sensitive(text)}, conv, "text", nil, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return conv, c.ID
}

func (w *searchWorld) search(t *testing.T, op lifeline.Operator, q sqlstore.SearchQuery) *sqlstore.SearchResult {
	t.Helper()
	q.Who = lifeline.Reacher{Role: op.Role, ID: op.ID, At: w.clock.Now()}
	res, err := w.db.Search(context.Background(), lifeline.Actor{ID: string(op.ID), Role: op.Role}, q)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func found(res *sqlstore.SearchResult) []lifeline.ConversationID {
	var out []lifeline.ConversationID
	for _, h := range res.Hits {
		out = append(out, h.ID)
	}
	return out
}

// TestSearchNeverFindsWhatCallerMayNotRead: by every kind of search (code
// name, number, short number, handle, words), a case officer finds his own
// conversation, closed or not, and never another's; the other officer
// finds his.
func TestSearchNeverFindsWhatCallerMayNotRead(t *testing.T) {
	w := newSearchWorld(t)
	short := strings.TrimPrefix(sqlstore.Pseudonym(w.contact1), "#")
	for _, c := range []struct {
		name, text string
		kind       string
		co1        []lifeline.ConversationID // what co1 finds
	}{
		{"own code name", w.code1, sqlstore.SearchByCode, []lifeline.ConversationID{w.conv1}},
		{"other's code name", strings.ToLower(w.code2), sqlstore.SearchByCode, nil},
		{"own conversation id", string(w.conv1), sqlstore.SearchByNumber, []lifeline.ConversationID{w.conv1}},
		{"other's conversation id", string(w.conv2), sqlstore.SearchByNumber, nil},
		{"own short number", "#" + short, sqlstore.SearchByNumber, []lifeline.ConversationID{w.conv1}},
		{"own handle", handle1, sqlstore.SearchByHandle, []lifeline.ConversationID{w.conv1}},
		{"other's handle", handle2, sqlstore.SearchByHandle, nil},
		{"word in both", "ТАНК", sqlstore.SearchByWords, []lifeline.ConversationID{w.conv1}},
		{"word in own note", "вечером", sqlstore.SearchByWords, []lifeline.ConversationID{w.conv1}},
		{"word in other's only", "человека", sqlstore.SearchByWords, nil},
	} {
		res := w.search(t, w.co1, sqlstore.SearchQuery{Text: c.text})
		if got := found(res); !slices.Equal(got, c.co1) {
			t.Errorf("%s: co1 found %v, want %v", c.name, got, c.co1)
		}
		if !slices.Contains(res.Kinds, c.kind) {
			t.Errorf("%s: searched as %v, want %s among them", c.name, res.Kinds, c.kind)
		}
		for _, h := range res.Hits {
			if !slices.Contains(h.Matched, c.kind) {
				t.Errorf("%s: hit matched by %v, want %s", c.name, h.Matched, c.kind)
			}
		}
		// The intake operator reaches neither (both are handed off).
		if got := found(w.search(t, w.io, sqlstore.SearchQuery{Text: c.text})); len(got) != 0 {
			t.Errorf("%s: intake found %v, want nothing", c.name, got)
		}
	}
	// A supervisor's team grant reaches conversations of no team and no
	// one, not these two (assigned, of no team).
	boss := lifeline.Operator{ID: lifeline.OperatorID(w.boss.ID), Role: lifeline.RoleSupervisor}
	if got := found(w.search(t, boss, sqlstore.SearchQuery{Text: "танк"})); len(got) != 0 {
		t.Errorf("supervisor of another team found %v", got)
	}
	// The other officer finds his own by each kind.
	for _, text := range []string{w.code2, string(w.conv2), handle2, "человека"} {
		if got := found(w.search(t, w.co2, sqlstore.SearchQuery{Text: text})); !slices.Equal(got, []lifeline.ConversationID{w.conv2}) {
			t.Errorf("co2 searching %q found %v, want his own", text, got)
		}
	}
	// Words come with the text around them, in its own case.
	res := w.search(t, w.co1, sqlstore.SearchQuery{Text: "танк"})
	if len(res.Hits) != 1 || !strings.Contains(res.Hits[0].Snippet.Reveal(), "Танк Т-72") {
		t.Errorf("snippet %+v", res.Hits)
	}
	// Filters narrow: co1's is closed.
	if got := found(w.search(t, w.co1, sqlstore.SearchQuery{Text: "танк", State: "open"})); len(got) != 0 {
		t.Errorf("open only: %v, want nothing", got)
	}
	if got := found(w.search(t, w.co1, sqlstore.SearchQuery{Text: "танк", State: "closed", Kind: lifeline.ChannelTelegram})); len(got) != 1 {
		t.Errorf("closed on Telegram: %v, want his", got)
	}
	if got := found(w.search(t, w.co1, sqlstore.SearchQuery{Text: "танк", Kind: lifeline.ChannelSMS})); len(got) != 0 {
		t.Errorf("on SMS: %v, want nothing", got)
	}
}

// TestSearchByHandleThroughBlindIndex: a handle is found through its
// truncated tag, confirmed by decrypting: each officer finds his own
// contact's conversation by the handle, a handle of no contact finds
// nothing, and the filters apply (a Telegram handle is not an SMS one).
func TestSearchByHandleThroughBlindIndex(t *testing.T) {
	w := newSearchWorld(t)
	for _, c := range []struct {
		who  lifeline.Operator
		text string
		kind lifeline.ChannelKind
		want []lifeline.ConversationID
	}{
		{w.co1, handle1, "", []lifeline.ConversationID{w.conv1}},
		{w.co2, " " + handle2 + " ", "", []lifeline.ConversationID{w.conv2}},
		{w.co2, handle2, lifeline.ChannelTelegram, []lifeline.ConversationID{w.conv2}},
		{w.co2, handle2, lifeline.ChannelSMS, nil},
		{w.co1, "100000903", "", nil},
	} {
		res := w.search(t, c.who, sqlstore.SearchQuery{Text: c.text, Kind: c.kind})
		var byHandle []lifeline.ConversationID
		for _, h := range res.Hits {
			if slices.Contains(h.Matched, sqlstore.SearchByHandle) {
				byHandle = append(byHandle, h.ID)
			}
		}
		if !slices.Equal(byHandle, c.want) {
			t.Errorf("handle %q on %q: found %v, want %v", c.text, c.kind, byHandle, c.want)
		}
	}
}

// TestSearchWordsBoundedAndAudited: the words search reads at most the
// newest conversations it is allowed, says when it stopped, and each
// search is one audit entry naming what it found and by what kinds, never
// the words.
func TestSearchWordsBoundedAndAudited(t *testing.T) {
	ctx := context.Background()
	w := newSearchWorld(t)
	boss := lifeline.Operator{ID: lifeline.OperatorID(w.boss.ID), Role: lifeline.RoleSupervisor}
	var newest lifeline.ConversationID
	for i := range 5 {
		w.clock.Add(24 * time.Hour) // a day apart: newest first is unambiguous
		newest, _ = newConversationOn(t, w.db, "20000000"+string(rune('1'+i)), "пароль сирень")
	}
	res := w.search(t, boss, sqlstore.SearchQuery{Text: "сирень", Scan: 2})
	if res.Scanned != 2 || !res.Partial || len(res.Hits) != 2 || res.Hits[0].ID != newest {
		t.Errorf("bounded to 2: scanned %d, partial %v, hits %v; want the 2 newest", res.Scanned, res.Partial, found(res))
	}
	res = w.search(t, boss, sqlstore.SearchQuery{Text: "сирень"})
	// He reaches the five new ones (of no one yet), not the officers'.
	if res.Scanned != 5 || res.Partial || len(res.Hits) != 5 {
		t.Errorf("unbounded: scanned %d, partial %v, hits %d; want all 5 in reach read and found", res.Scanned, res.Partial, len(res.Hits))
	}

	before := len(w.audited(t))
	res = w.search(t, boss, sqlstore.SearchQuery{Text: "сирень", State: "open"})
	var entries []audit.Entry
	if err := w.db.AuditLog().Entries(ctx, func(e audit.Entry, _ tlog.Hash) error {
		entries = append(entries, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	entries = entries[before:]
	if len(entries) != 1 {
		t.Fatalf("one search wrote %d audit entries, want 1", len(entries))
	}
	e := entries[0]
	if e.Action != "conversation.search" || e.Actor != w.boss.ID || !strings.Contains(e.Reason, "kinds=words") || !strings.Contains(e.Reason, "filters=state") {
		t.Errorf("audit entry %+v", e)
	}
	for _, h := range res.Hits {
		object, err := w.db.AuditObject(string(h.ID))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(e.Object, object) {
			t.Errorf("audit object %q lacks hit %s", e.Object, h.ID)
		}
	}
	if strings.Contains(e.Reason+e.Object, "сирень") {
		t.Errorf("the audit entry holds the words: %+v", e)
	}
	// Bad input is refused and changes nothing.
	for _, q := range []sqlstore.SearchQuery{{Text: strings.Repeat("я", 300)}, {State: "lost"}, {Kind: "pigeon"},
		{From: lifeline.DayOf(epoch), To: lifeline.DayOf(epoch).AddDays(-1)}} {
		q.Who = lifeline.Reacher{Role: boss.Role, ID: boss.ID, At: w.clock.Now()}
		if _, err := w.db.Search(ctx, w.boss, q); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("query %+v: %v, want EINVALID", q, err)
		}
	}
}
