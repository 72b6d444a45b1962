// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

// Issue 11, item 4: identity stays in its compartment.

// apiWorld is a policy world with the JSON API and the console on one
// server, and bearer tokens by actor.
type apiWorld struct {
	*policyWorld
	srv *web.Server
}

func newAPIWorld(t *testing.T) *apiWorld {
	w := newPolicyWorld(t)
	srv := web.NewServer(nil, web.Config{Routes: w.f.con.WebRoutes(), API: &web.API{Store: w.f.db, Now: w.f.clock.Now}}, nil, nil)
	return &apiWorld{w, srv}
}

func (w *apiWorld) token(actor string) string {
	w.f.t.Helper()
	plain, hash, err := auth.NewToken()
	if err != nil {
		w.f.t.Fatal(err)
	}
	id, _ := auth.TokenID(plain)
	if err := w.f.db.CreateToken(context.Background(), lifeline.CLIActor, "op-"+actor, id, hash); err != nil {
		w.f.t.Fatal(err)
	}
	return plain
}

// get calls the server as a console session (cookie) or an API client
// (bearer).
func (w *apiWorld) get(path, cookie, bearer string) (int, string) {
	req := httptest.NewRequest("GET", "https://console.example"+path, nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: console.CookieName, Value: cookie})
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	w.srv.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// stream opens actor's live event stream, runs publish once it listens,
// and returns what the stream carried in the time it was open.
func stream(w *policyWorld, actor string, publish func()) string {
	req := httptest.NewRequest("GET", "https://console.example/events", nil)
	req.AddCookie(&http.Cookie{Name: console.CookieName, Value: w.cookies[actor]})
	ctx, cancel := context.WithTimeout(req.Context(), 400*time.Millisecond)
	defer cancel()
	req = req.WithContext(ctx)
	n := w.f.con.Hub().Listeners()
	go func() {
		for w.f.con.Hub().Listeners() == n {
			time.Sleep(5 * time.Millisecond)
		}
		publish()
	}()
	rec := httptest.NewRecorder()
	w.f.handler.ServeHTTP(rec, req)
	return rec.Body.String()
}

// say stores a contact's next message in his open conversation, as intake
// does.
func say(t *testing.T, f *fixture, conv lifeline.ConversationID, text string) lifeline.MessageID {
	t.Helper()
	ctx := context.Background()
	ci, err := f.db.Conversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	m := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: ci.ContactID, Direction: lifeline.Inbound, Body: lifeline.Sensitive(text)}
	err = f.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		got, _, err := in.OpenConversation(ci.ContactID, ci.Kind, ci.Channel, "", "")
		if err != nil {
			return err
		}
		if got != conv {
			t.Fatalf("the message went to conversation %s, not %s", got, conv)
		}
		return in.AddMessage(m, conv, "text", nil, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// TestIdentityAnswerNotInConversation: a soldier's answers to the bot's
// identity questions never show in his conversation, to anyone who may
// read it: not in the console page, the API, the live events, nor in the
// conversation's messages as the store keeps them (under the conversation
// key no copy of the answer is left, edits included). The conversation
// shows that an answer was recorded, with a link to the case for those
// who may open it; before the bot takes the answer it shows it as awaiting
// the bot. The answers are in the case's persons (identity).
func TestIdentityAnswerNotInConversation(t *testing.T) {
	ctx := context.Background()
	w := newAPIWorld(t)
	f := w.f
	bot := &questionnaire.Worker{DB: f.db, Now: f.clock.Now}
	run := func() {
		t.Helper()
		if _, err := bot.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const (
		name  = "Сидоренко Кирило Петрович" // invented
		born  = "07.03.1994"
		unit  = "в/ч 00000, 3-я рота"
		where = "Сумская область, село Тестове"
	)
	secrets := []string{name, born, unit, where}
	conv := f.inbound(lifeline.ChannelTelegram, "bot", "100000811", "Здравствуйте")
	run()
	say(t, f, conv, "1") // Russian
	run()
	say(t, f, conv, "1") // a serviceman: the next question is his name
	run()
	if st, err := f.db.QuestionnaireStatus(ctx, conv); err != nil || st.Step != "name" || !st.AwaitsIdentity {
		t.Fatalf("the bot waits on %+v (%v), want the name, an identity question", st, err)
	}
	if err := f.db.Assign(ctx, lifeline.CLIActor, conv, w.ops["io"].ID); err != nil {
		t.Fatal(err)
	}
	ioTok, svTok := w.token("io"), w.token("sv")

	// Between its arrival and the bot's step, the answer awaits the bot.
	nameMsg := say(t, f, conv, name)
	code, page := w.get("/c/"+string(conv), w.cookies["io"], "")
	if code != http.StatusOK || strings.Contains(page, name) || !strings.Contains(page, `data-awaiting-bot="1"`) {
		t.Fatalf("console page before the bot's step: %d, shows the name %v, awaiting-bot %v", code, strings.Contains(page, name), strings.Contains(page, "awaiting-bot"))
	}
	code, body := w.get("/api/v1/conversations/"+string(conv)+"/messages", "", ioTok)
	if code != http.StatusOK || strings.Contains(body, name) || !strings.Contains(body, `"awaiting_bot":true`) {
		t.Fatalf("API before the bot's step: %d %s", code, body)
	}

	// The bot takes it; the live stream of the operator meanwhile carries
	// ids only.
	bot.Changed = func(id lifeline.ConversationID) {
		f.con.Hub().Publish(console.Event{Type: "message", Conversation: id})
	}
	events := stream(w.policyWorld, "io", run)
	if !strings.Contains(events, string(conv)) {
		t.Errorf("the live stream did not tell the operator the conversation changed:\n%s", events)
	}
	for _, answer := range []string{born, unit, "пропустить", "пропустить", where, "этот чат", "2"} {
		say(t, f, conv, answer)
		run()
	}
	if st, err := f.db.QuestionnaireStatus(ctx, conv); err != nil || st.State != sqlstore.QuestionnaireDone || st.Outcome != sqlstore.QuestionnaireRegistered {
		t.Fatalf("the questionnaire did not register: %+v %v", st, err)
	}
	// An edit of the answer after the bot took it stays a marker too.
	if err := f.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		return in.AddEdit(sqlstore.StoredInbound{ID: nameMsg, Contact: mustConv(t, f, conv).ContactID, Conversation: conv}, "Сидоренко Кирилл Петрович", time.Time{})
	}); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, "Сидоренко Кирилл Петрович")

	views := map[string]string{}
	_, views["console page (intake)"] = w.get("/c/"+string(conv), w.cookies["io"], "")
	_, views["console history (supervisor)"] = w.get("/c/"+string(conv)+"/history", w.cookies["sv"], "")
	_, views["API messages (intake)"] = w.get("/api/v1/conversations/"+string(conv)+"/messages", "", ioTok)
	_, views["API messages (supervisor)"] = w.get("/api/v1/conversations/"+string(conv)+"/messages", "", svTok)
	views["live events"] = events
	for view, b := range views {
		for _, s := range secrets {
			if strings.Contains(b, s) {
				t.Errorf("%s shows the identity answer %q", view, s)
			}
		}
	}
	if !strings.Contains(views["console page (intake)"], `data-answer="applicant.name"`) {
		t.Errorf("the console page does not show that the name was recorded:\n%s", views["console page (intake)"])
	}
	caseID, err := f.db.CaseOfConversation(ctx, conv)
	if err != nil || caseID == "" {
		t.Fatalf("no case: %v", err)
	}
	if !strings.Contains(views["console page (intake)"], `<a href="/cases/`+string(caseID)+`">`) {
		t.Errorf("the recorded answer does not link to the case for the operator who may open it")
	}
	if !strings.Contains(views["API messages (intake)"], `"identity_answer":"applicant.name"`) ||
		!strings.Contains(views["API messages (intake)"], `"text":"`+sqlstore.AnswerMarker("applicant.birth_date")+`"`) {
		t.Errorf("the API does not show the markers:\n%s", views["API messages (intake)"])
	}

	// Under the conversation key nothing of the answers is left: every
	// body and version of the conversation's messages, opened.
	msgs, err := f.db.Messages(ctx, mustConv(t, f, conv).ContactID)
	if err != nil {
		t.Fatal(err)
	}
	cms, err := f.db.ConversationMessages(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, m := range msgs {
		all = append(all, m.Body.Reveal())
	}
	for _, m := range cms {
		all = append(all, m.Text.Reveal())
		for _, e := range m.Earlier {
			all = append(all, e.Reveal())
		}
	}
	for _, text := range all {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("a message of the conversation still holds %q", s)
			}
		}
	}
	var versions int
	if err := f.db.Read(ctx, func(tx *sqlstore.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM message_versions WHERE message_id = ?`, nameMsg).Scan(&versions)
	}); err != nil || versions != 1 {
		t.Errorf("versions of the answer: %d (%v), want the one marker of the edit", versions, err)
	}

	// The answers are in the identity compartment: the case's applicant.
	persons, err := f.db.Persons(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(persons) != 1 || persons[0].Name.Reveal() != name || persons[0].BirthDate.Reveal() != born || persons[0].Unit.Reveal() != unit {
		t.Errorf("the case's applicant is not the answers: %d persons", len(persons))
	}
}

func mustConv(t *testing.T, f *fixture, id lifeline.ConversationID) *sqlstore.InboxItem {
	t.Helper()
	c, err := f.db.Conversation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEveryConversationReadAudited: every read of a conversation, in the
// console (its page, its history fragment, a file of it) and through the
// API, writes exactly one audit entry naming the conversation and never
// what it holds; a refused read writes a denial and no read.
func TestEveryConversationReadAudited(t *testing.T) {
	w := newAPIWorld(t)
	conv := w.convs["free"]
	entries := func() []audit.Entry {
		var out []audit.Entry
		if err := w.f.db.AuditLog().Entries(context.Background(), func(e audit.Entry, _ tlog.Hash) error {
			out = append(out, e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ioTok := w.token("io")
	for _, c := range []struct {
		view, path, cookie, bearer string
	}{
		{"console page", "/c/" + string(conv), w.cookies["io"], ""},
		{"console history", "/c/" + string(conv) + "/history", w.cookies["io"], ""},
		{"API messages", "/api/v1/conversations/" + string(conv) + "/messages", "", ioTok},
	} {
		before := len(entries())
		code, body := w.get(c.path, c.cookie, c.bearer)
		if code != http.StatusOK || !strings.Contains(body, canaryC1Free) {
			t.Fatalf("%s: %d, want the conversation", c.view, code)
		}
		got := entries()[before:]
		object, err := w.f.db.AuditObject(string(conv))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Action != "conversation.read" || got[0].Object != object || got[0].Decision != audit.DecisionAllow ||
			got[0].Actor != string(w.ops["io"].ID) {
			t.Errorf("%s: audit entries %+v, want one conversation.read of the conversation by the operator", c.view, got)
		}
		for _, e := range got {
			if strings.Contains(e.Object+e.Reason, "CANARY") {
				t.Errorf("%s: the audit entry holds a value: %+v", c.view, e)
			}
		}
	}
	// A refused read is a denial, not a read.
	before := len(entries())
	if code, _ := w.get("/c/"+string(w.convs["co"]), w.cookies["io"], ""); code != http.StatusNotFound {
		t.Fatalf("intake operator on the case officer's conversation: %d", code)
	}
	for _, e := range entries()[before:] {
		if e.Action == "conversation.read" {
			t.Errorf("a refused read was audited as a read: %+v", e)
		}
	}
}

// TestIntakeReachEndsAtHandoff: in the console and the API the intake
// operator reads and answers his conversation until a supervisor assigns
// its contact's case to a case officer; from then on it answers as if it
// did not exist, while the case officer reads it.
func TestIntakeReachEndsAtHandoff(t *testing.T) {
	ctx := context.Background()
	w := newAPIWorld(t)
	conv := w.f.inbound(lifeline.ChannelTelegram, "bot", "100000821", canaryC1Fresh)
	if err := w.f.db.Assign(ctx, lifeline.CLIActor, conv, w.ops["io"].ID); err != nil {
		t.Fatal(err)
	}
	ioTok := w.token("io")
	page, api := "/c/"+string(conv), "/api/v1/conversations/"+string(conv)+"/messages"
	if code, _ := w.get(page, w.cookies["io"], ""); code != http.StatusOK {
		t.Fatalf("before handoff: console %d", code)
	}
	if code, _ := w.get(api, "", ioTok); code != http.StatusOK {
		t.Fatalf("before handoff: API %d", code)
	}
	k, err := w.f.db.OpenCase(ctx, lifeline.CLIActor, conv)
	if err != nil {
		t.Fatal(err)
	}
	// A case without a case officer is not handed off yet.
	if code, _ := w.get(page, w.cookies["io"], ""); code != http.StatusOK {
		t.Fatalf("case opened, no officer: console %d", code)
	}
	sv := lifeline.Actor{ID: string(w.ops["sv"].ID), Role: lifeline.RoleSupervisor}
	if err := w.f.db.AssignCase(ctx, sv, k.ID, w.ops["co"].ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := w.f.db.Transfer(ctx, sv, conv, w.ops["io"].ID, w.ops["co"].ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{page, ""}, {page + "/history", ""}, {api, ioTok}} {
		cookie := w.cookies["io"]
		if c[1] != "" {
			cookie = ""
		}
		if code, body := w.get(c[0], cookie, c[1]); code != http.StatusNotFound || strings.Contains(body, canaryC1Fresh) {
			t.Errorf("after handoff, intake on %s: %d, want 404 without the message", c[0], code)
		}
	}
	if code, body := w.get(page, w.cookies["co"], ""); code != http.StatusOK || !strings.Contains(body, canaryC1Fresh) {
		t.Errorf("after handoff, the case officer: %d", code)
	}
}

// TestIntakeReachEndsAfter72Hours: 72 hours after the contact's last
// message the intake operator no longer reaches his conversation, nor an
// unassigned one, in the console or the API; the contact writing again
// brings it back.
func TestIntakeReachEndsAfter72Hours(t *testing.T) {
	ctx := context.Background()
	w := newAPIWorld(t)
	mine := w.f.inbound(lifeline.ChannelTelegram, "bot", "100000831", canaryC1Fresh)
	if err := w.f.db.Assign(ctx, lifeline.CLIActor, mine, w.ops["io"].ID); err != nil {
		t.Fatal(err)
	}
	free := w.convs["free"]
	ioTok := w.token("io")
	reach := func(conv lifeline.ConversationID) (console, api int) {
		console, _ = w.get("/c/"+string(conv), w.cookies["io"], "")
		api, _ = w.get("/api/v1/conversations/"+string(conv)+"/messages", "", ioTok)
		return console, api
	}
	// Rather than walking three days of clock (sessions end after 15 idle
	// minutes), move the contacts' last message back: the stored hour is
	// what the rule reads.
	back := func(h time.Duration) {
		if err := w.f.db.Write(ctx, func(tx *sqlstore.Tx) error {
			_, err := tx.Exec(`UPDATE conversations SET last_inbound_hour = ? WHERE id IN (?, ?)`,
				w.f.clock.Now().UTC().Truncate(time.Hour).Add(-h).Format("2006-01-02T15Z"), mine, free)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	back(71 * time.Hour)
	for _, conv := range []lifeline.ConversationID{mine, free} {
		if c, a := reach(conv); c != http.StatusOK || a != http.StatusOK {
			t.Fatalf("71 hours after: console %d, API %d; want 200", c, a)
		}
	}
	back(72 * time.Hour)
	for _, conv := range []lifeline.ConversationID{mine, free} {
		if c, a := reach(conv); c != http.StatusNotFound || a != http.StatusNotFound {
			t.Errorf("72 hours after: console %d, API %d; want 404", c, a)
		}
	}
	// The supervisor (team) still reads it.
	if code, _ := w.get("/c/"+string(mine), w.cookies["sv"], ""); code != http.StatusOK {
		t.Errorf("supervisor after 72 hours: %d", code)
	}
	say(t, w.f, mine, "Вы здесь?")
	if c, a := reach(mine); c != http.StatusOK || a != http.StatusOK {
		t.Errorf("after the contact wrote again: console %d, API %d; want 200", c, a)
	}
}

// TestTeamScopeReachesOnlyOwnTeams: a supervisor's "team" grant reaches
// the conversations of his teams' cases and operators, and new contacts no
// one has taken, never another team's; moving him between teams (the
// store's JoinTeam and LeaveTeam, as lifeline user team does) moves his
// reach.
func TestTeamScopeReachesOnlyOwnTeams(t *testing.T) {
	ctx := context.Background()
	w := newAPIWorld(t)
	sv2 := w.operator("sv2", lifeline.RoleSupervisor)
	w.session("sv2", sv2)
	if err := w.f.db.JoinTeam(ctx, lifeline.CLIActor, sv2.ID, "south"); err != nil {
		t.Fatal(err)
	}
	if err := w.f.db.LeaveTeam(ctx, lifeline.CLIActor, sv2.ID, lifeline.DefaultTeam); err != nil {
		t.Fatal(err)
	}
	tok := w.token("sv2")
	for name, want := range map[string]int{"own": http.StatusNotFound, "co": http.StatusNotFound, "other": http.StatusNotFound, "free": http.StatusOK} {
		if code, _ := w.get("/c/"+string(w.convs[name]), w.cookies["sv2"], ""); code != want {
			t.Errorf("south's supervisor on main's conversation %s: %d, want %d", name, code, want)
		}
		if code, _ := w.get("/api/v1/conversations/"+string(w.convs[name])+"/messages", "", tok); code != want {
			t.Errorf("south's supervisor's API on main's conversation %s: %d, want %d", name, code, want)
		}
		if code, _ := w.get("/c/"+string(w.convs[name]), w.cookies["sv"], ""); code != http.StatusOK {
			t.Errorf("main's supervisor on conversation %s: %d", name, code)
		}
	}
	// A case moved to his team brings its conversation into his reach.
	if err := w.f.db.SetCaseTeam(ctx, lifeline.CLIActor, w.cases["own"], "south"); err != nil {
		t.Fatal(err)
	}
	if code, _ := w.get("/c/"+string(w.convs["own"]), w.cookies["sv2"], ""); code != http.StatusOK {
		t.Errorf("south's supervisor on south's case's conversation: %d", code)
	}
	if code, _ := w.get("/c/"+string(w.convs["own"]), w.cookies["sv"], ""); code != http.StatusNotFound {
		t.Errorf("main's supervisor on south's case's conversation: %d", code)
	}
}

// TestLiveEventsOnlyToThoseWhoMaySee: an event about a conversation goes
// only to the consoles of those who may see it: its case officer and his
// team's supervisor, not an intake operator it is out of reach of, nor
// another team's supervisor; an event about a new contact goes to the
// intake desk too.
func TestLiveEventsOnlyToThoseWhoMaySee(t *testing.T) {
	ctx := context.Background()
	w := newPolicyWorld(t)
	sv2 := w.operator("sv2", lifeline.RoleSupervisor)
	w.session("sv2", sv2)
	if err := w.f.db.JoinTeam(ctx, lifeline.CLIActor, sv2.ID, "south"); err != nil {
		t.Fatal(err)
	}
	if err := w.f.db.LeaveTeam(ctx, lifeline.CLIActor, sv2.ID, lifeline.DefaultTeam); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		conv  string
		actor string
		want  bool
	}{
		{"co", "co", true}, {"co", "sv", true}, {"co", "io", false}, {"co", "io2", false}, {"co", "vo2", false}, {"co", "sv2", false},
		{"free", "io", true}, {"free", "io2", true}, {"free", "sv2", true}, {"free", "vo", false},
		{"other", "io2", false}, {"other", "co2", false}, // handed off: the case's officer reaches the case, the conversation is io2's
	} {
		id := w.convs[c.conv]
		got := stream(w, c.actor, func() { w.f.con.Hub().Publish(console.Event{Type: "message", Conversation: id}) })
		if strings.Contains(got, string(id)) != c.want {
			t.Errorf("event about %s to %s: arrived %v, want %v", c.conv, c.actor, !c.want, c.want)
		}
	}
}

// TestAPICursorFromFilteredPage: the API's pages hold only conversations
// the caller may see, each page full while there are more, and the next
// cursor is always one of them: it never names a conversation out of his
// reach. Walking the pages yields exactly what he may see.
func TestAPICursorFromFilteredPage(t *testing.T) {
	ctx := context.Background()
	w := newAPIWorld(t)
	// More conversations than a page, most of them the other intake
	// operator's, interleaved with the case officer's.
	visible := map[string]bool{string(w.convs["co"]): true}
	for i := range 9 {
		conv := w.f.inbound(lifeline.ChannelTelegram, "bot", "10000090"+string(rune('0'+i)), "hello")
		to := w.ops["io2"].ID
		if i%3 == 0 {
			to = w.ops["co"].ID
			visible[string(conv)] = true
		}
		if err := w.f.db.Assign(ctx, lifeline.CLIActor, conv, to); err != nil {
			t.Fatal(err)
		}
	}
	tok := w.token("co")
	seen := map[string]bool{}
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("the pages do not end")
		}
		code, body := w.get("/api/v1/conversations?limit=2&after="+after, "", tok)
		if code != http.StatusOK {
			t.Fatalf("page %d: %d %s", pages, code, body)
		}
		var p struct {
			Conversations []struct {
				ID string `json:"id"`
			} `json:"conversations"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Conversations {
			if !visible[c.ID] {
				t.Errorf("page %d lists a conversation out of reach", pages)
			}
			seen[c.ID] = true
		}
		if p.Next == "" {
			break
		}
		if !visible[p.Next] {
			t.Fatalf("page %d: the cursor names a conversation out of reach", pages)
		}
		if len(p.Conversations) != 2 || p.Conversations[1].ID != p.Next {
			t.Errorf("page %d: %d conversations, cursor not the last of them", pages, len(p.Conversations))
		}
		after = p.Next
	}
	var want, got []string
	for id := range visible {
		want = append(want, id)
	}
	for id := range seen {
		got = append(got, id)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("walked %d conversations, want the %d he may see", len(got), len(want))
	}
}
