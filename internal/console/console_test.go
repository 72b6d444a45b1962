// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
	"golang.org/x/mod/sumdb/tlog"
)

// cheap are Argon2id parameters for tests: thousands of logins in seconds,
// still a real hash on both the known and the unknown path.
var cheap = auth.Params{Memory: 4 * 1024, Time: 1, Threads: 1}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	t       *testing.T
	db      *sqlstore.DB
	keeper  *keys.Keeper
	clock   *clock
	handler http.Handler
	con     *console.Console
	srv     *web.Server
}

func newFixture(t *testing.T, cfg console.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	unseal := filepath.Join(dir, "unseal")
	if _, err := keys.Init(filepath.Join(dir, "keys"), keys.Options{DevFile: unseal}); err != nil {
		t.Fatal(err)
	}
	k, err := keys.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "db"), sqlstore.Options{Sealer: k, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Keys, cfg.Now = db, k, clk.Now
	if cfg.Params == (auth.Params{}) {
		cfg.Params = cheap
	}
	con, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer(nil, web.Config{Routes: con.WebRoutes()}, nil, nil)
	return &fixture{t: t, db: db, keeper: k, clock: clk, handler: srv.Handler(), con: con, srv: srv}
}

// do sends one request as a browser on the same origin would.
func (f *fixture) do(method, path string, form url.Values, cookie string) *http.Response {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, "https://console.example"+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: console.CookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec.Result()
}

func cookieOf(resp *http.Response) string {
	for _, c := range resp.Cookies() {
		if c.Name == console.CookieName {
			return c.Value
		}
	}
	return ""
}

func bodyOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var secretRE = regexp.MustCompile(`<code id="secret">([A-Z2-7]+)</code>`)

const password = "seven quiet rivers under snow"

// enrolled adds an operator and completes the first login through the
// console: the one-time password, a new password, a TOTP key proven by a
// code. It returns the key's secret and the step the enrolment used.
func (f *fixture) enrolled(username string, role lifeline.Role) (secret string, step time.Time) {
	f.t.Helper()
	ctx := context.Background()
	h := &auth.Hasher{Params: cheap}
	otpw := "one-time-password-for-" + username
	hash, err := h.Hash(otpw)
	if err != nil {
		f.t.Fatal(err)
	}
	enr, err := auth.NewTOTPSecret("Lifeline", username)
	if err != nil {
		f.t.Fatal(err)
	}
	op := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: username, Role: role}
	if err := f.db.CreateOperator(ctx, lifeline.CLIActor, op, sqlstore.Credentials{PasswordHash: hash, TOTPSecret: []byte(enr.Secret)}); err != nil {
		f.t.Fatal(err)
	}
	resp := f.do("POST", "/login", url.Values{"username": {username}, "password": {otpw}}, "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/enrol" {
		f.t.Fatalf("first login: %d → %q, want 303 → /enrol", resp.StatusCode, resp.Header.Get("Location"))
	}
	enrol := cookieOf(resp)
	// The enrolment session reaches the enrolment page and nothing else.
	if resp := f.do("GET", "/inbox", nil, enrol); resp.Header.Get("Location") != "/enrol" {
		f.t.Fatalf("enrolment session on /inbox: %d → %q, want → /enrol", resp.StatusCode, resp.Header.Get("Location"))
	}
	page := bodyOf(f.t, f.do("GET", "/enrol", nil, enrol))
	m := secretRE.FindStringSubmatch(page)
	if m == nil {
		f.t.Fatalf("enrolment page shows no secret:\n%s", page)
	}
	if resp := f.do("GET", "/enrol/qr.png", nil, enrol); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		f.t.Fatalf("QR: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	step = f.clock.Now()
	resp = f.do("POST", "/enrol", url.Values{"password": {password}, "password2": {password}, "code": {code(f.t, m[1], step)}}, enrol)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || cookieOf(resp) == "" || cookieOf(resp) == enrol {
		f.t.Fatalf("enrol: %d → %q, want 303 → / with a new session\n%s", resp.StatusCode, resp.Header.Get("Location"), bodyOf(f.t, resp))
	}
	return m[1], step
}

// login posts the login form and returns the status and the new cookie.
func (f *fixture) login(username, pw, totpCode string) (int, string) {
	f.t.Helper()
	resp := f.do("POST", "/login", url.Values{"username": {username}, "password": {pw}, "code": {totpCode}}, "")
	return resp.StatusCode, cookieOf(resp)
}

func (f *fixture) auditActions(decision string) []string {
	f.t.Helper()
	var out []string
	err := f.db.AuditLog().Entries(context.Background(), func(e audit.Entry, _ tlog.Hash) error {
		if e.Decision == decision {
			out = append(out, e.Action+":"+e.Reason)
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// TestLoginTOTP (S-13): a code is accepted once; the same code, an older
// step and a step outside the skew are refused; a later step is accepted.
// Every failure is audited as a denial with its reason, and the cookie has
// the attributes SECURITY.md §2.6 asks for.
func TestLoginTOTP(t *testing.T) {
	f := newFixture(t, console.Config{DisableBackoff: true})
	secret, step := f.enrolled("ivan", lifeline.RoleIntake)

	if st, _ := f.login("ivan", password, code(t, secret, step)); st != http.StatusUnauthorized {
		t.Errorf("the enrolment's code again: %d, want 401", st)
	}
	if st, _ := f.login("ivan", password, code(t, secret, step.Add(-60*time.Second))); st != http.StatusUnauthorized {
		t.Errorf("a stale step: %d, want 401", st)
	}
	if st, _ := f.login("ivan", password, code(t, secret, step.Add(90*time.Second))); st != http.StatusUnauthorized {
		t.Errorf("a step beyond the skew: %d, want 401", st)
	}
	if st, _ := f.login("ivan", "wrong password entirely", code(t, secret, step.Add(30*time.Second))); st != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", st)
	}
	resp := f.do("POST", "/login", url.Values{"username": {"ivan"}, "password": {password}, "code": {code(t, secret, step.Add(30*time.Second))}}, "")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("next step: %d, want 303", resp.StatusCode)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == console.CookieName {
			ck = c
		}
	}
	if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" || len(ck.Value) < 40 {
		t.Errorf("session cookie %+v", ck)
	}
	// That code, now used, is refused too.
	if st, _ := f.login("ivan", password, code(t, secret, step.Add(30*time.Second))); st != http.StatusUnauthorized {
		t.Errorf("a used code: %d, want 401", st)
	}
	denied := f.auditActions(audit.DecisionDeny)
	for _, want := range []string{"login.fail:totp-replay", "login.fail:totp", "login.fail:password"} {
		if !slices.Contains(denied, want) {
			t.Errorf("audit denials %q lack %q", denied, want)
		}
	}
}

// TestSessions (S-13): idle and absolute expiry, logout, and a logged-out
// cookie replayed.
func TestSessions(t *testing.T) {
	f := newFixture(t, console.Config{DisableBackoff: true})
	secret, _ := f.enrolled("olena", lifeline.RoleIntake)
	next := func() string {
		f.clock.Add(30 * time.Second) // a fresh step, and the code of the clock's time
		st, ck := f.login("olena", password, code(t, secret, f.clock.Now()))
		if st != http.StatusSeeOther || ck == "" {
			t.Fatalf("login: %d", st)
		}
		return ck
	}
	inbox := func(ck string) int { return f.do("GET", "/inbox", nil, ck).StatusCode }

	// Idle: 14 minutes of quiet is fine; 15 ends the session for good.
	ck := next()
	if st := inbox(ck); st != http.StatusOK {
		t.Fatalf("fresh session: %d", st)
	}
	f.clock.Add(14 * time.Minute)
	if st := inbox(ck); st != http.StatusOK {
		t.Errorf("after 14 idle minutes: %d, want 200", st)
	}
	f.clock.Add(15 * time.Minute)
	if st := inbox(ck); st != http.StatusSeeOther {
		t.Errorf("after 15 idle minutes: %d, want 303 to the login", st)
	}
	f.clock.Add(-15 * time.Minute) // even back in time, an ended session stays ended
	if st := inbox(ck); st != http.StatusSeeOther {
		t.Errorf("expired cookie replayed: %d, want 303", st)
	}

	// Absolute: active every 10 minutes, still out after 8 hours.
	ck = next()
	for range 47 {
		f.clock.Add(10 * time.Minute)
		if st := inbox(ck); st != http.StatusOK {
			t.Fatalf("active session at %s: %d", f.clock.Now(), st)
		}
	}
	f.clock.Add(10 * time.Minute) // 480 minutes in
	if st := inbox(ck); st != http.StatusSeeOther {
		t.Errorf("after 8 hours: %d, want 303", st)
	}

	// Logout ends it; replaying the cookie opens nothing.
	ck = next()
	resp := f.do("POST", "/logout", url.Values{}, ck)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Clear-Site-Data"), "cookies") {
		t.Errorf("logout: %d, Clear-Site-Data %q", resp.StatusCode, resp.Header.Get("Clear-Site-Data"))
	}
	if st := inbox(ck); st != http.StatusSeeOther {
		t.Errorf("logged-out cookie replayed: %d, want 303", st)
	}
	// A new login ends the previous session (one per operator).
	a := next()
	b := next()
	if inbox(a) != http.StatusSeeOther || inbox(b) != http.StatusOK {
		t.Errorf("second login: old session %d, new %d; want 303, 200", inbox(a), inbox(b))
	}
	// Disabling the account ends its sessions.
	if err := f.db.DisableOperator(context.Background(), lifeline.CLIActor, "olena", "left the program"); err != nil {
		t.Fatal(err)
	}
	if st := inbox(b); st != http.StatusSeeOther {
		t.Errorf("session of a disabled account: %d, want 303", st)
	}
}

// TestCrossSitePostRefused (S-13): a state change from another site is
// refused before it reaches the handler, with or without the cookie.
func TestCrossSitePostRefused(t *testing.T) {
	f := newFixture(t, console.Config{DisableBackoff: true})
	secret, step := f.enrolled("petro", lifeline.RoleSupervisor)
	_, ck := f.login("petro", password, code(t, secret, step.Add(30*time.Second)))
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "https://evil.example"},
	} {
		form := url.Values{"language": {"ru"}, "title": {"x"}, "body": {"y"}}
		req := httptest.NewRequest("POST", "https://console.example/canned", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		req.AddCookie(&http.Cookie{Name: console.CookieName, Value: ck})
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("POST with %v: %d, want 403", h, rec.Code)
		}
	}
	canned, err := f.db.CannedAnswers(context.Background())
	if err != nil || len(canned) != 0 {
		t.Errorf("canned answers after refused posts: %v %v", canned, err)
	}
	// The same post from the console's own page goes through.
	resp := f.do("POST", "/canned", url.Values{"language": {"ru"}, "title": {"Привет"}, "body": {"Здравствуйте."}}, ck)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin POST: %d, want 303", resp.StatusCode)
	}
}

// TestLoginTimingUnknownUser (S-13): an unknown username and a known one
// with a wrong password take the same time: medians within 5 ms over
// 1,000 tries each, interleaved. Both run a real Argon2id (at a test cost),
// so a path that skipped it would stand out.
func TestLoginTimingUnknownUser(t *testing.T) {
	// A cost of several milliseconds: a path without the hash would differ
	// by more than the 5 ms allowed.
	f := newFixture(t, console.Config{DisableBackoff: true, Params: auth.Params{Memory: 12 * 1024, Time: 1, Threads: 1}})
	f.enrolled("known", lifeline.RoleIntake)
	const tries = 1000
	var known, unknown []time.Duration
	for i := range 2 * tries {
		user := "known"
		if i%2 == 1 {
			user = "nobody-here"
		}
		start := time.Now()
		st, _ := f.login(user, "not the password at all", "123456")
		d := time.Since(start)
		if st != http.StatusUnauthorized {
			t.Fatalf("%s: %d, want 401", user, st)
		}
		if i%2 == 0 {
			known = append(known, d)
		} else {
			unknown = append(unknown, d)
		}
	}
	slices.Sort(known)
	slices.Sort(unknown)
	mk, mu := known[tries/2], unknown[tries/2]
	t.Logf("median login failure: known user %s, unknown user %s", mk, mu)
	if diff := (mk - mu).Abs(); diff > 5*time.Millisecond {
		t.Errorf("medians differ by %s (known %s, unknown %s), want ≤ 5ms", diff, mk, mu)
	}
}

// TestBackoff: failures slow the next try of that name, known or not,
// without locking it: after the wait, the right credentials work.
func TestBackoff(t *testing.T) {
	f := newFixture(t, console.Config{})
	secret, step := f.enrolled("dmytro", lifeline.RoleIntake)
	for _, user := range []string{"dmytro", "ghost"} {
		if st, _ := f.login(user, "wrong password here", "000000"); st != http.StatusUnauthorized {
			t.Fatalf("%s: first failure %d, want 401", user, st)
		}
		if st, _ := f.login(user, "wrong password here", "000000"); st != http.StatusTooManyRequests {
			t.Errorf("%s: at once again: %d, want 429", user, st)
		}
	}
	f.clock.Add(2 * time.Second)
	if st, _ := f.login("dmytro", password, code(t, secret, step.Add(30*time.Second))); st != http.StatusSeeOther {
		t.Errorf("after the wait, right credentials: %d, want 303", st)
	}
}

// TestSealedConsoleShowsUnsealOnly: while sealed every page leads to the
// unseal page, and the login page is not served.
func TestSealedConsoleShowsUnsealOnly(t *testing.T) {
	f := newFixture(t, console.Config{})
	f.keeper.Seal()
	for _, p := range []string{"/", "/login", "/inbox", "/canned"} {
		resp := f.do("GET", p, nil, "")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/unseal" {
			t.Errorf("GET %s while sealed: %d → %q, want 303 → /unseal", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp := f.do("GET", "/unseal", nil, "")
	if body := bodyOf(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `name="share"`) {
		t.Errorf("unseal page: %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != console.CSP {
		t.Errorf("CSP %q", csp)
	}
}

// inbound stores a contact's message on a new conversation, as intake does,
// and returns the conversation.
func (f *fixture) inbound(kind lifeline.ChannelKind, channelName, sender, text string) lifeline.ConversationID {
	f.t.Helper()
	var conv lifeline.ConversationID
	err := f.db.Ingest(context.Background(), func(in *sqlstore.Ingest) error {
		c := &lifeline.Contact{ID: lifeline.NewContactID(), Channel: kind, Handle: lifeline.Sensitive(sender)}
		if err := in.CreateContact(c); err != nil {
			return err
		}
		var err error
		if conv, _, err = in.OpenConversation(c.ID, kind, channelName, "", lifeline.Sensitive(sender)); err != nil {
			return err
		}
		m := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: c.ID, Direction: lifeline.Inbound, Body: lifeline.Sensitive(text)}
		return in.AddMessage(m, conv, "text", nil, "")
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return conv
}

// TestWhatsAppWindowInConsole: past 24 hours after the contact's last
// message the conversation says so, offers only the approved templates,
// refuses a free-form reply with the reason, and sends a chosen template.
func TestWhatsAppWindowInConsole(t *testing.T) {
	tpl := console.Template{Name: "hotline_followup", Language: "ru", Label: "Напоминание о связи"}
	f := newFixture(t, console.Config{DisableBackoff: true, Templates: []console.Template{tpl}})
	secret, _ := f.enrolled("oksana", lifeline.RoleIntake)
	conv := f.inbound(lifeline.ChannelWhatsApp, "wa", "380501234567", "Добрый день")

	f.clock.Add(25 * time.Hour)
	_, ck := f.login("oksana", password, code(t, secret, f.clock.Now()))
	page := bodyOf(t, f.do("GET", "/c/"+string(conv), nil, ck))
	if !strings.Contains(page, `id="window-closed"`) || !strings.Contains(page, "hotline_followup|ru") || strings.Contains(page, `id="reply-form"`) {
		t.Fatalf("closed window not shown plainly:\n%s", page)
	}
	resp := f.do("POST", "/c/"+string(conv)+"/reply", url.Values{"text": {"Вы на связи?"}}, ck)
	if body := bodyOf(t, resp); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "24-годинне вікно WhatsApp закрите") {
		t.Errorf("free-form reply past the window: %d\n%s", resp.StatusCode, body)
	}
	resp = f.do("POST", "/c/"+string(conv)+"/template", url.Values{"template": {"something_else|ru"}}, ck)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a template not configured: %d, want 400", resp.StatusCode)
	}
	resp = f.do("POST", "/c/"+string(conv)+"/template", url.Values{"template": {"hotline_followup|ru"}}, ck)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("template: %d, want 303", resp.StatusCode)
	}
	msgs, err := f.db.ConversationMessages(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	last := msgs[len(msgs)-1]
	if len(msgs) != 2 || last.Kind != "template" || last.Text.Reveal() != "hotline_followup|ru" || last.Author != "oksana" || last.Status != "queued" {
		t.Errorf("messages %+v, want the template queued by oksana", msgs)
	}
}

// TestConversationScope: an intake operator sees unassigned conversations
// and his own, never another operator's: that one answers exactly like a
// conversation that does not exist, and the refusal is audited.
func TestConversationScope(t *testing.T) {
	f := newFixture(t, console.Config{DisableBackoff: true})
	s1, _ := f.enrolled("anna", lifeline.RoleIntake)
	f.enrolled("boris", lifeline.RoleIntake)
	mine := f.inbound(lifeline.ChannelTelegram, "bot", "100000201", "первое")
	theirs := f.inbound(lifeline.ChannelTelegram, "bot", "100000202", "второе")
	boris, err := f.db.OperatorByUsername(context.Background(), "boris")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.Assign(context.Background(), lifeline.CLIActor, theirs, boris.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(30 * time.Second)
	_, ck := f.login("anna", password, code(t, s1, f.clock.Now()))
	if resp := f.do("GET", "/c/"+string(mine), nil, ck); resp.StatusCode != http.StatusOK {
		t.Errorf("unassigned conversation: %d, want 200", resp.StatusCode)
	}
	for _, p := range []string{"/c/" + string(theirs), "/c/" + string(theirs) + "/history"} {
		resp := f.do("GET", p, nil, ck)
		if body := bodyOf(t, resp); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "второе") {
			t.Errorf("GET %s of another operator's conversation: %d", p, resp.StatusCode)
		}
	}
	resp := f.do("POST", "/c/"+string(theirs)+"/reply", url.Values{"text": {"чужой"}}, ck)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("reply to another's conversation: %d, want 404", resp.StatusCode)
	}
	if resp := f.do("GET", "/c/"+string(lifeline.NewConversationID()), nil, ck); resp.StatusCode != http.StatusNotFound {
		t.Errorf("no such conversation: %d", resp.StatusCode)
	}
	// Taking the unassigned one makes it his; the list of "mine" shows it.
	if resp := f.do("POST", "/c/"+string(mine)+"/take", url.Values{}, ck); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("take: %d", resp.StatusCode)
	}
	if body := bodyOf(t, f.do("GET", "/inbox/list?q=mine", nil, ck)); !strings.Contains(body, string(mine)) || strings.Contains(body, string(theirs)) {
		t.Errorf("mine queue:\n%s", body)
	}
	// The supervisor's pages are not his.
	if resp := f.do("GET", "/canned", nil, ck); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /canned as intake: %d, want 403", resp.StatusCode)
	}
	if denied := f.auditActions(audit.DecisionDeny); !slices.ContainsFunc(denied, func(s string) bool { return strings.HasPrefix(s, "console.denied:conversation.") }) {
		t.Errorf("audit denials %q lack the refused conversation", denied)
	}
}
