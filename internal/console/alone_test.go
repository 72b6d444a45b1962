// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

// TestSignInBackoffNotRacedByParallelGuesses: guesses at one account sent
// all at once are checked one at a time: exactly one is tried, the others
// are told to wait, and only one failure is audited.
func TestSignInBackoffNotRacedByParallelGuesses(t *testing.T) {
	// A hash that takes a while, so that the guesses overlap.
	f := newFixture(t, console.Config{Params: auth.Params{Memory: 32 * 1024, Time: 2, Threads: 1}})
	f.enrolled("olena", lifeline.RoleCaseOfficer)
	before := len(f.auditActions("deny"))
	const guesses = 6
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make(chan int, guesses)
	for i := range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp := f.do("POST", "/login", url.Values{"username": {"olena"}, "password": {"wrong guess number " + strings.Repeat("x", i)}, "code": {"000000"}}, "")
			codes <- resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	close(codes)
	tried := 0
	for c := range codes {
		switch c {
		case http.StatusUnauthorized:
			tried++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("a guess answered %d, want 401 or 429", c)
		}
	}
	if tried != 1 {
		t.Errorf("%d of %d parallel guesses were tried, want 1", tried, guesses)
	}
	if fails := len(f.auditActions("deny")) - before; fails != 1 {
		t.Errorf("%d failed logins audited, want 1", fails)
	}
}

// TestExportNeedsStepUp: asking for an export and approving one each need
// a fresh TOTP code (SECURITY.md §2.6); without one nothing changes, and a
// step-up older than five minutes is no longer fresh.
func TestExportNeedsStepUp(t *testing.T) {
	ctx := context.Background()
	w := newPolicyWorld(t)
	w.session("sv2", w.operator("sv2", lifeline.RoleSupervisor))
	post := func(actor, path string, form url.Values) int {
		resp := w.f.do("POST", path, form, w.cookies[actor])
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, form := range []url.Values{{"format": {"csv"}}, {"format": {"csv"}, "code": {"000000"}}} {
		if got := post("sv", "/exports", form); got != http.StatusUnauthorized {
			t.Errorf("request with code %q: %d, want 401", form.Get("code"), got)
		}
	}
	if xs, err := w.f.db.Exports(ctx); err != nil || len(xs) != 0 {
		t.Fatalf("exports after refused requests: %v %v, want none", xs, err)
	}
	if got := post("sv", "/exports", url.Values{"format": {"csv"}, "code": {code(t, worldSeed, w.f.clock.Now())}}); got != http.StatusSeeOther {
		t.Fatalf("request with a fresh code: %d, want 303", got)
	}
	xs, err := w.f.db.Exports(ctx)
	if err != nil || len(xs) != 1 {
		t.Fatalf("exports: %v %v", xs, err)
	}
	id := xs[0].ID
	if got := post("sv2", "/exports/"+id+"/approve", url.Values{}); got != http.StatusUnauthorized {
		t.Errorf("approval without a code: %d, want 401", got)
	}
	if xs, _ := w.f.db.Exports(ctx); xs[0].State != "requested" {
		t.Fatalf("export %s after an approval without a code, want requested", xs[0].State)
	}
	if got := post("sv2", "/exports/"+id+"/approve", url.Values{"code": {code(t, worldSeed, w.f.clock.Now())}}); got != http.StatusSeeOther {
		t.Fatalf("approval with a fresh code: %d, want 303", got)
	}
	// Within five minutes the step-up holds; after them it does not.
	w.f.clock.Add(4 * time.Minute)
	if got := post("sv", "/exports", url.Values{"format": {"json"}}); got != http.StatusSeeOther {
		t.Errorf("a second request within five minutes of the step-up: %d, want 303", got)
	}
	w.f.clock.Add(2 * time.Minute)
	if got := post("sv", "/exports", url.Values{"format": {"json"}}); got != http.StatusUnauthorized {
		t.Errorf("a request six minutes after the step-up: %d, want 401", got)
	}
	if page := bodyOf(t, w.f.do("GET", "/exports", nil, w.cookies["sv"])); !strings.Contains(page, `name="code"`) {
		t.Error("the exports page asks for no code once the step-up is stale")
	}
}

var tokenRE = regexp.MustCompile(`llt_[a-z2-7]{52}`)

// TestNoOneAloneTokenOnlyFromConsole: an operator makes his own API token
// in the console after a fresh code, with a scope and an expiry, shown
// once; the API holds it to both; he revokes only his own; no token is
// made for an account that has not enrolled, nor by anyone but the
// operator himself.
func TestNoOneAloneTokenOnlyFromConsole(t *testing.T) {
	ctx := context.Background()
	w := newPolicyWorld(t)
	srv := web.NewServer(nil, web.Config{Routes: w.f.con.WebRoutes(), API: &web.API{Store: w.f.db, Now: w.f.clock.Now}}, nil, nil)
	api := func(method, path, token, body string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	mk := func(form url.Values) (int, string) {
		resp := w.f.do("POST", "/tokens", form, w.cookies["io"])
		return resp.StatusCode, bodyOf(t, resp)
	}
	if st, _ := mk(url.Values{"scope": {"read"}, "days": {"7"}}); st != http.StatusUnauthorized {
		t.Errorf("a token without a code: %d, want 401", st)
	}
	if ts, _ := w.f.db.Tokens(ctx, "op-io"); len(ts) != 0 {
		t.Fatalf("tokens after a refusal: %+v", ts)
	}
	st, page := mk(url.Values{"scope": {"read"}, "days": {"7"}, "code": {code(t, worldSeed, w.f.clock.Now())}})
	readToken := tokenRE.FindString(page)
	if st != http.StatusCreated || readToken == "" {
		t.Fatalf("a token with a fresh code: %d, shown %q", st, readToken)
	}
	if strings.Contains(bodyOf(t, w.f.do("GET", "/tokens", nil, w.cookies["io"])), readToken) {
		t.Error("the token is shown a second time")
	}
	// The unassigned conversation: the intake desk reaches it (his own has a
	// case officer since, which ends the desk's reach).
	own := "/api/v1/conversations/" + string(w.convs["free"]) + "/messages"
	if got := api("GET", own, readToken, ""); got != http.StatusOK {
		t.Errorf("read token reading: %d, want 200", got)
	}
	if got := api("POST", own, readToken, `{"text": "Здравствуйте"}`); got != http.StatusForbidden {
		t.Errorf("read token replying: %d, want 403", got)
	}
	for _, bad := range []url.Values{{"scope": {"reply"}, "days": {"91"}}, {"scope": {"admin"}, "days": {"1"}}, {"scope": {"reply"}, "days": {"0"}}} {
		if st, _ := mk(bad); st != http.StatusBadRequest {
			t.Errorf("token %v: %d, want 400", bad, st)
		}
	}
	// Within the step-up's five minutes no new code is needed.
	st, page = mk(url.Values{"scope": {"reply"}, "days": {"1"}})
	replyToken := tokenRE.FindString(page)
	if st != http.StatusCreated || replyToken == "" {
		t.Fatalf("reply token: %d", st)
	}
	if got := api("POST", own, replyToken, `{"unknown": true}`); got != http.StatusBadRequest {
		t.Errorf("reply token replying: %d, want past the policy (400 for the bad body)", got)
	}
	// Revocation: his own only.
	ts, err := w.f.db.Tokens(ctx, "op-io")
	if err != nil || len(ts) != 2 {
		t.Fatalf("tokens: %+v %v", ts, err)
	}
	readID := ts[0].ID
	if ts[0].Scope != lifeline.ScopeRead {
		readID = ts[1].ID
	}
	if !strings.HasPrefix(readToken, readID) {
		t.Fatalf("the read token %s is not listed", readID)
	}
	if resp := w.f.do("POST", "/tokens/"+readID+"/revoke", url.Values{}, w.cookies["io2"]); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoking another's token: %d, want 404", resp.StatusCode)
	}
	if got := api("GET", own, readToken, ""); got != http.StatusOK {
		t.Errorf("read token after another's revocation attempt: %d, want 200", got)
	}
	if resp := w.f.do("POST", "/tokens/"+readID+"/revoke", url.Values{}, w.cookies["io"]); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("revoking his own: %d, want 303", resp.StatusCode)
	}
	if got := api("GET", own, readToken, ""); got != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", got)
	}
	// Expiry.
	w.f.clock.Add(25 * time.Hour)
	if got := api("GET", own, replyToken, ""); got != http.StatusUnauthorized {
		t.Errorf("expired token: %d, want 401", got)
	}

	// Only the operator himself, enrolled, gets one.
	_, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	fresh := lifeline.Operator{ID: lifeline.NewOperatorID(), Username: "op-fresh", Role: lifeline.RoleIntake}
	if err := w.f.db.CreateOperator(ctx, lifeline.CLIActor, &fresh, sqlstore.Credentials{PasswordHash: "x", TOTPSecret: []byte(worldSeed)}); err != nil {
		t.Fatal(err)
	}
	expires := w.f.clock.Now().Add(24 * time.Hour)
	if err := w.f.db.IssueToken(ctx, lifeline.Actor{ID: string(fresh.ID), Role: fresh.Role}, "llt_fresh", hash, lifeline.ScopeRead, expires); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("a token for an account that has not enrolled: %v, want ECONFLICT", err)
	}
	if err := w.f.db.IssueToken(ctx, lifeline.CLIActor, "llt_cli", hash, lifeline.ScopeRead, expires); lifeline.ErrorCode(err) != lifeline.EFORBIDDEN {
		t.Errorf("a token made by the command line: %v, want EFORBIDDEN", err)
	}
}

// TestNoOneAlonePendingApprovedInConsole: an account the command line
// proposed cannot sign in; an admin sees it waiting and cannot approve it;
// a supervisor approves it only with a fresh code, and then it signs in; a
// role change waits and is refused the same way; the audit log holds every
// step.
func TestNoOneAlonePendingApprovedInConsole(t *testing.T) {
	ctx := context.Background()
	w := newPolicyWorld(t)
	otpw := "one-time password for the newcomer"
	hash, err := (&auth.Hasher{Params: cheap}).Hash(otpw)
	if err != nil {
		t.Fatal(err)
	}
	newbie := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: "op-newbie", Role: lifeline.RoleIntake}
	if boot, err := w.f.db.ProposeOperator(ctx, lifeline.CLIActor, newbie, sqlstore.Credentials{PasswordHash: hash, TOTPSecret: []byte(worldSeed)}); err != nil || boot {
		t.Fatalf("propose: %v %v", boot, err)
	}
	if st, _ := w.f.login("op-newbie", otpw, ""); st != http.StatusUnauthorized {
		t.Errorf("sign-in of a pending account: %d, want 401", st)
	}
	page := bodyOf(t, w.f.do("GET", "/approvals", nil, w.cookies["ad"]))
	if !strings.Contains(page, "op-newbie") || strings.Contains(page, `/approvals/`+string(newbie.ID)+`/approve`) {
		t.Errorf("the admin's approvals page: lists the account %v, offers approval %v", strings.Contains(page, "op-newbie"), strings.Contains(page, "/approve"))
	}
	approve := "/approvals/" + string(newbie.ID) + "/approve"
	if resp := w.f.do("POST", approve, url.Values{"code": {code(t, worldSeed, w.f.clock.Now())}}, w.cookies["ad"]); resp.StatusCode != http.StatusForbidden {
		t.Errorf("approval by the admin: %d, want 403", resp.StatusCode)
	}
	if resp := w.f.do("POST", approve, url.Values{}, w.cookies["sv"]); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("approval without a code: %d, want 401", resp.StatusCode)
	}
	if st, _ := w.f.login("op-newbie", otpw, ""); st != http.StatusUnauthorized {
		t.Errorf("sign-in after a refused approval: %d, want 401", st)
	}
	if resp := w.f.do("POST", approve, url.Values{"code": {code(t, worldSeed, w.f.clock.Now())}}, w.cookies["sv"]); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approval with a fresh code: %d, want 303", resp.StatusCode)
	}
	if st, _ := w.f.login("op-newbie", otpw, ""); st != http.StatusSeeOther {
		t.Errorf("sign-in of the approved account: %d, want 303 to enrolment", st)
	}
	// A role change waits, and a refusal drops it.
	if err := w.f.db.ProposeRole(ctx, lifeline.CLIActor, newbie.ID, lifeline.RoleSupervisor); err != nil {
		t.Fatal(err)
	}
	if page := bodyOf(t, w.f.do("GET", "/approvals", nil, w.cookies["sv"])); !strings.Contains(page, "intake → supervisor") {
		t.Errorf("the pending role change is not listed:\n%s", page)
	}
	if resp := w.f.do("POST", "/approvals/"+string(newbie.ID)+"/refuse", url.Values{}, w.cookies["sv"]); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("refusal within the step-up: %d, want 303", resp.StatusCode)
	}
	if op, err := w.f.db.OperatorByUsername(ctx, "op-newbie"); err != nil || op.Role != lifeline.RoleIntake {
		t.Errorf("role after the refusal: %+v %v, want intake", op, err)
	}
	var steps []string
	for _, e := range w.f.auditActions("allow") {
		if strings.HasPrefix(e, "user.") {
			steps = append(steps, e)
		}
	}
	want := "user.add:role=intake pending user.approve:role=intake user.role_propose:role=supervisor user.role_refuse:role=supervisor"
	if got := strings.Join(steps[len(steps)-4:], " "); got != want {
		t.Errorf("audit steps %q, want %q", got, want)
	}
}
