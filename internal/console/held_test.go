// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/telegram"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/outbox"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

const (
	riskyReply    = "Встреча завтра в 6 утра у моста, точка сбора 3, позывной Сокол"
	harmlessReply = "Мы получили ваше сообщение, оператор на связи."
	chatID        = "100000301"
)

// heldWorld is a console whose outbox sends through the real Telegram
// adapter to the fake Bot API, with a contact's conversation, an intake
// operator who answers it and two supervisors.
type heldWorld struct {
	*fixture
	fake    *channeltest.TelegramFake
	worker  *outbox.Worker
	conv    lifeline.ConversationID
	secrets map[string]string
	cookies map[string]string
}

func newHeldWorld(t *testing.T) *heldWorld {
	t.Helper()
	f := newFixture(t, console.Config{DisableBackoff: true})
	fake := channeltest.NewTelegramFake("123456:test-token-abcdef")
	t.Cleanup(fake.Close)
	a, err := telegram.New(telegram.Config{Name: "bot", BotToken: "123456:test-token-abcdef", WebhookSecret: "secret", APIURL: fake.URL()}, channeltest.LoopbackClient())
	if err != nil {
		t.Fatal(err)
	}
	w := &heldWorld{fixture: f, fake: fake, secrets: map[string]string{}, cookies: map[string]string{},
		worker: &outbox.Worker{DB: f.db, Senders: channel.NewRegistry(a), Refs: f.keeper, Limits: map[lifeline.ChannelKind]float64{}, ChatLimits: map[lifeline.ChannelKind]float64{}}}
	for _, u := range []struct {
		name string
		role lifeline.Role
	}{{"oksana", lifeline.RoleIntake}, {"sveta", lifeline.RoleSupervisor}, {"sasha", lifeline.RoleSupervisor}} {
		w.secrets[u.name], _ = f.enrolled(u.name, u.role)
	}
	w.conv = f.inbound(lifeline.ChannelTelegram, "bot", chatID, "Здравствуйте, хочу сдаться")
	f.clock.Add(30 * time.Second)
	for name := range w.secrets {
		w.signIn(name)
	}
	return w
}

// signIn signs an operator in with the TOTP code of the clock's step.
func (w *heldWorld) signIn(name string) {
	w.t.Helper()
	st, ck := w.login(name, password, code(w.t, w.secrets[name], w.clock.Now()))
	if st != http.StatusSeeOther || ck == "" {
		w.t.Fatalf("sign-in of %s: %d", name, st)
	}
	w.cookies[name] = ck
}

// sent runs the outbox once and returns the texts the fake Bot API got.
func (w *heldWorld) sent() []string {
	w.t.Helper()
	if _, err := w.worker.RunOnce(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, m := range w.fake.Sent() {
		out = append(out, m.Text)
	}
	return out
}

func (w *heldWorld) reply(who, text string) *http.Response {
	w.t.Helper()
	return w.do("POST", "/c/"+string(w.conv)+"/reply", url.Values{"text": {text}}, w.cookies[who])
}

// heldID returns the id of the only held reply.
func (w *heldWorld) heldID() lifeline.MessageID {
	w.t.Helper()
	held, err := w.db.HeldReplies(context.Background())
	if err != nil || len(held) != 1 {
		w.t.Fatalf("held replies %+v %v, want one", held, err)
	}
	return held[0].ID
}

// verify opens the contact's case and records a verified verdict.
func (w *heldWorld) verify() {
	w.t.Helper()
	ctx := context.Background()
	k, err := w.db.OpenCase(ctx, lifeline.CLIActor, w.conv)
	if err != nil {
		w.t.Fatal(err)
	}
	vo := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: "vera", Role: lifeline.RoleVerification}
	if err := w.db.CreateOperator(ctx, lifeline.CLIActor, vo, sqlstore.Credentials{PasswordHash: "$argon2id$test", TOTPSecret: []byte("seed")}); err != nil {
		w.t.Fatal(err)
	}
	if err := w.db.RecordVerdict(ctx, lifeline.Actor{ID: string(vo.ID), Role: vo.Role}, k.ID, sqlstore.VerdictVerified, "checked"); err != nil {
		w.t.Fatal(err)
	}
}

// TestRiskyReplyHeldBeforeVerification: before the contact is verified, a
// reply that names a time, a place and a call sign is not sent: the
// operator's conversation shows it, his text kept, held for a supervisor
// with the reasons; a harmless reply goes at once.
func TestRiskyReplyHeldBeforeVerification(t *testing.T) {
	w := newHeldWorld(t)
	resp := w.reply("oksana", riskyReply)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/c/"+string(w.conv)+"#m-") {
		t.Fatalf("risky reply: %d → %q, want 303 to the held message", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := w.sent(); len(got) != 0 {
		t.Fatalf("the fake Bot API got %q before any approval", got)
	}
	page := bodyOf(t, w.do("GET", "/c/"+string(w.conv), nil, w.cookies["oksana"]))
	if !strings.Contains(page, riskyReply) || !strings.Contains(page, "утримано для супервізора: час, дата, місце, позивний або пароль") {
		t.Errorf("the author's page does not show his reply held with its reasons:\n%s", page)
	}
	if strings.Contains(page, `action="/held/`) {
		t.Errorf("the intake operator is offered to decide on a held reply")
	}
	if resp := w.reply("oksana", harmlessReply); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("harmless reply: %d", resp.StatusCode)
	}
	if got := w.sent(); !slices.Equal(got, []string{harmlessReply}) {
		t.Errorf("the fake Bot API got %q, want the harmless reply only", got)
	}
	// Not a supervisor: no list, no decision.
	if resp := w.do("GET", "/held", nil, w.cookies["oksana"]); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /held as intake: %d, want 403", resp.StatusCode)
	}
	if resp := w.do("POST", "/held/"+string(w.heldID())+"/approve", url.Values{"note": {"ok"}}, w.cookies["oksana"]); resp.StatusCode != http.StatusForbidden {
		t.Errorf("approval by intake: %d, want 403", resp.StatusCode)
	}
}

// TestSupervisorApprovalSendsHeldReplyOnce: a supervisor sees the held
// reply with its reasons on the list and on the conversation; releasing it
// needs a note and a fresh TOTP code; then it is sent once, and a second
// release changes nothing.
func TestSupervisorApprovalSendsHeldReplyOnce(t *testing.T) {
	w := newHeldWorld(t)
	w.reply("oksana", riskyReply)
	id := w.heldID()
	list := bodyOf(t, w.do("GET", "/held", nil, w.cookies["sveta"]))
	if !strings.Contains(list, riskyReply) || !strings.Contains(list, "час, дата, місце, позивний або пароль") || !strings.Contains(list, `action="/held/`+string(id)+`/approve"`) {
		t.Errorf("the held list lacks the reply:\n%s", list)
	}
	if page := bodyOf(t, w.do("GET", "/c/"+string(w.conv), nil, w.cookies["sveta"])); !strings.Contains(page, `action="/held/`+string(id)+`/reject"`) {
		t.Errorf("the conversation does not offer the supervisor a decision:\n%s", page)
	}
	approve := "/held/" + string(id) + "/approve"
	if resp := w.do("POST", approve, url.Values{"note": {"проверен по телефону"}}, w.cookies["sveta"]); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("release without a code: %d, want 401", resp.StatusCode)
	}
	w.clock.Add(30 * time.Second)
	resp := w.do("POST", approve, url.Values{"note": {"проверен по телефону"}, "code": {code(t, w.secrets["sveta"], w.clock.Now())}, "back": {"conversation"}}, w.cookies["sveta"])
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/c/"+string(w.conv) {
		t.Fatalf("release: %d → %q\n%s", resp.StatusCode, resp.Header.Get("Location"), bodyOf(t, resp))
	}
	if got := w.sent(); !slices.Equal(got, []string{riskyReply}) {
		t.Fatalf("the fake Bot API got %q, want the released reply", got)
	}
	if resp := w.do("POST", approve, url.Values{"note": {"ещё раз"}}, w.cookies["sasha"]); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a second release: %d, want 404", resp.StatusCode)
	}
	if got := w.sent(); len(got) != 1 {
		t.Errorf("the fake Bot API got %q, want the reply once", got)
	}
	page := bodyOf(t, w.do("GET", "/c/"+string(w.conv), nil, w.cookies["oksana"]))
	if !strings.Contains(page, "Дозволив sveta: проверен по телефону") {
		t.Errorf("the author does not see who released his reply and why:\n%s", page)
	}
	if !slices.Contains(w.auditActions("allow"), "conversation.reply_release:held_for=time,date,place,callsign") {
		t.Errorf("the release is not audited: %q", w.auditActions("allow"))
	}
}

// TestRejectedHeldReplyNeverSent: a rejection needs a note, which the
// author then reads on his conversation; the reply is never sent, not even
// after a later attempt to release it.
func TestRejectedHeldReplyNeverSent(t *testing.T) {
	w := newHeldWorld(t)
	w.reply("oksana", riskyReply)
	id := w.heldID()
	reject := "/held/" + string(id) + "/reject"
	if resp := w.do("POST", reject, url.Values{}, w.cookies["sveta"]); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("rejection without a note: %d, want 400", resp.StatusCode)
	}
	if resp := w.do("POST", reject, url.Values{"note": {"не называйте место до проверки"}}, w.cookies["sveta"]); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rejection: %d", resp.StatusCode)
	}
	w.clock.Add(30 * time.Second)
	if resp := w.do("POST", "/held/"+string(id)+"/approve", url.Values{"note": {"передумал"}, "code": {code(t, w.secrets["sasha"], w.clock.Now())}}, w.cookies["sasha"]); resp.StatusCode != http.StatusNotFound {
		t.Errorf("release after the rejection: %d, want 404", resp.StatusCode)
	}
	if got := w.sent(); len(got) != 0 {
		t.Fatalf("the fake Bot API got %q after a rejection", got)
	}
	page := bodyOf(t, w.do("GET", "/c/"+string(w.conv), nil, w.cookies["oksana"]))
	if !strings.Contains(page, "Відхилив sveta: не называйте место до проверки") || !strings.Contains(page, "відхилено супервізором") {
		t.Errorf("the author does not see the rejection and its reason:\n%s", page)
	}
}

// TestAuthorCannotReleaseOwnHeldReply: an operator promoted to supervisor
// cannot release the reply he wrote, on the list or by a crafted post,
// and the refusal is audited; another supervisor can.
func TestAuthorCannotReleaseOwnHeldReply(t *testing.T) {
	w := newHeldWorld(t)
	w.reply("oksana", riskyReply)
	id := w.heldID()
	oksana, err := w.db.OperatorByUsername(context.Background(), "oksana")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.db.SetRole(context.Background(), lifeline.CLIActor, oksana.ID, lifeline.RoleSupervisor); err != nil {
		t.Fatal(err)
	}
	w.clock.Add(30 * time.Second)
	w.signIn("oksana")
	if list := bodyOf(t, w.do("GET", "/held", nil, w.cookies["oksana"])); !strings.Contains(list, "Ваша відповідь: вирішує інший супервізор") || strings.Contains(list, `action="/held/`) {
		t.Errorf("the author is offered his own reply:\n%s", list)
	}
	w.clock.Add(30 * time.Second)
	resp := w.do("POST", "/held/"+string(id)+"/approve", url.Values{"note": {"моё"}, "code": {code(t, w.secrets["oksana"], w.clock.Now())}}, w.cookies["oksana"])
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("the author's release: %d, want 403", resp.StatusCode)
	}
	if got := w.sent(); len(got) != 0 {
		t.Fatalf("the fake Bot API got %q", got)
	}
	if denied := w.auditActions("deny"); !slices.Contains(denied, "conversation.reply_release:own reply") {
		t.Errorf("the refusal is not audited: %q", denied)
	}
	resp = w.do("POST", "/held/"+string(id)+"/approve", url.Values{"note": {"ок"}, "code": {code(t, w.secrets["sasha"], w.clock.Now())}}, w.cookies["sasha"])
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("another supervisor's release: %d", resp.StatusCode)
	}
	if got := w.sent(); len(got) != 1 {
		t.Errorf("the fake Bot API got %q, want the reply once", got)
	}
}

// TestRiskyReplySentAfterVerification: once the contact's case is
// verified, the same reply goes at once, held for nobody.
func TestRiskyReplySentAfterVerification(t *testing.T) {
	w := newHeldWorld(t)
	w.verify()
	if resp := w.reply("oksana", riskyReply); resp.StatusCode != http.StatusSeeOther || strings.Contains(resp.Header.Get("Location"), "#m-") {
		t.Fatalf("risky reply after verification: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := w.sent(); !slices.Equal(got, []string{riskyReply}) {
		t.Errorf("the fake Bot API got %q, want the reply", got)
	}
	if held, err := w.db.HeldReplies(context.Background()); err != nil || len(held) != 0 {
		t.Errorf("held %+v %v", held, err)
	}
}

// TestAPIReplyHeldBeforeVerification: the JSON API answers a risky reply
// before verification with 202, status "held" and the categories, sends
// nothing, and lists the message as held; a supervisor's release sends it;
// a harmless reply and, after verification, a risky one are queued and
// sent at once.
func TestAPIReplyHeldBeforeVerification(t *testing.T) {
	w := newHeldWorld(t)
	ctx := context.Background()
	srv := web.NewServer(nil, web.Config{Routes: w.con.WebRoutes(), API: &web.API{Store: w.db}}, nil, nil)
	plain, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := auth.TokenID(plain)
	if err := w.db.CreateToken(ctx, lifeline.CLIActor, "oksana", tid, hash); err != nil {
		t.Fatal(err)
	}
	api := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		req := httptest.NewRequest(method, "https://console.example/api/v1/conversations/"+string(w.conv)+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+plain)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	code, out := api("POST", "/messages", map[string]string{"text": riskyReply})
	if code != http.StatusAccepted || out["status"] != "held" || !slices.Equal(anyStrings(out["held_for"]), []string{"time", "date", "place", "callsign"}) ||
		!strings.Contains(out["message"].(string), "supervisor") {
		t.Fatalf("risky reply: %d %v, want 202 held with the categories", code, out)
	}
	if got := w.sent(); len(got) != 0 {
		t.Fatalf("the fake Bot API got %q", got)
	}
	_, msgs := api("GET", "/messages", nil)
	list, _ := msgs["messages"].([]any)
	if last := list[len(list)-1].(map[string]any); last["status"] != "held" || last["text"] != riskyReply || len(anyStrings(last["held_for"])) != 4 {
		t.Errorf("the held reply as listed: %v", last)
	}
	sv := lifeline.Actor{ID: string(mustOperator(t, w.db, "sveta").ID), Role: lifeline.RoleSupervisor}
	if _, err := w.db.DecideHeld(ctx, sv, lifeline.MessageID(out["id"].(string)), true, "проверено"); err != nil {
		t.Fatal(err)
	}
	if got := w.sent(); !slices.Equal(got, []string{riskyReply}) {
		t.Fatalf("after the release the fake Bot API got %q", got)
	}
	if code, out := api("POST", "/messages", map[string]string{"text": harmlessReply}); code != http.StatusAccepted || out["status"] != "queued" {
		t.Errorf("harmless reply: %d %v, want 202 queued", code, out)
	}
	w.verify()
	if code, out := api("POST", "/messages", map[string]string{"text": riskyReply}); code != http.StatusAccepted || out["status"] != "queued" {
		t.Errorf("risky reply after verification: %d %v, want 202 queued", code, out)
	}
	if got := w.sent(); !slices.Equal(got, []string{riskyReply, harmlessReply, riskyReply}) {
		t.Errorf("the fake Bot API got %q", got)
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func mustOperator(t *testing.T, db *sqlstore.DB, username string) *lifeline.Operator {
	t.Helper()
	op, err := db.OperatorByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// TestIndependentRunMissesHeldBeforeVerification: the five replies the
// issue-10 black-box run got past the check (a wait from now with a
// transformer box, a time in words, a path along a gully to the power
// line, an English brigade by its ordinal, a code phrase) are each held
// for a supervisor when typed in the console before verification, and
// none reaches the fake Bot API; a reassurance goes at once.
func TestIndependentRunMissesHeldBeforeVerification(t *testing.T) {
	w := newHeldWorld(t)
	misses := []string{
		"Через полчаса будьте у трансформаторной будки.",
		"Выходите в шесть тридцать, не позже.",
		"Ползите по балке до линии ЛЭП.",
		"Our guys from the 3rd Assault Brigade will pick you up.",
		"The code phrase is 'blue river'.",
	}
	for _, text := range misses {
		if resp := w.reply("oksana", text); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%q: %d", text, resp.StatusCode)
		}
	}
	if got := w.sent(); len(got) != 0 {
		t.Fatalf("the fake Bot API got %q before any approval", got)
	}
	held, err := w.db.HeldReplies(context.Background())
	if err != nil || len(held) != len(misses) {
		t.Fatalf("held replies %+v %v, want all %d", held, err, len(misses))
	}
	const reassurance = "Мы понимаем, как вам страшно. Вы не один."
	if resp := w.reply("oksana", reassurance); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("harmless reply: %d", resp.StatusCode)
	}
	if got := w.sent(); !slices.Equal(got, []string{reassurance}) {
		t.Errorf("the fake Bot API got %q, want the reassurance only", got)
	}
}
