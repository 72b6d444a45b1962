// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

// Canary strings, one per class of data, planted where that class lives.
// A response may carry a canary only if its reader may read that class
// of that object; without a step-up nobody reads identity (C2).
const (
	canaryC1Own   = "CANARYCONVOWN"   // a message in the conversation of the intake operator "io"
	canaryC1Free  = "CANARYCONVFREE"  // a message in an unassigned conversation
	canaryC1CO    = "CANARYCONVCO"    // a message in the conversation assigned to the case officer "co"
	canaryC1Other = "CANARYCONVOTHER" // a message in another intake operator's conversation
	canaryC1Fresh = "CANARYCONVFRESH" // a message in the intake operator's conversation not yet handed off (S-02)
	canaryC2Own   = "CANARYIDOWN"     // the applicant's name in the case of co and vo
	canaryC2Other = "CANARYIDOTHER"   // the applicant's name in another team's case
	canaryC3Own   = "CANARYINTELOWN"  // the meeting point of an operation on the case of co and vo
	canaryC3Other = "CANARYINTELOTHER"
	canaryTask    = "CANARYTASKNOTE" // a task's note (identity)
)

// worldSeed is the TOTP seed of every account of the world (160 bits), for
// step-ups.
const worldSeed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// policyWorld is the objects and actors of the route matrix.
type policyWorld struct {
	f       *fixture
	ops     map[string]lifeline.Operator // by username
	cookies map[string]string            // actor → session cookie ("" for anonymous)
	convs   map[string]lifeline.ConversationID
	cases   map[string]lifeline.CaseID
}

func (w *policyWorld) operator(name string, role lifeline.Role) lifeline.Operator {
	w.f.t.Helper()
	op := lifeline.Operator{ID: lifeline.NewOperatorID(), Username: "op-" + name, Role: role}
	err := w.f.db.CreateOperator(context.Background(), lifeline.CLIActor, &op, sqlstore.Credentials{PasswordHash: "$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", TOTPSecret: []byte(worldSeed), Enrolled: true})
	if err != nil {
		w.f.t.Fatal(err)
	}
	w.ops[name] = op
	return op
}

func (w *policyWorld) session(actor string, op lifeline.Operator) {
	w.f.t.Helper()
	plain, hash, err := auth.NewSessionID()
	if err != nil {
		w.f.t.Fatal(err)
	}
	if err := w.f.db.CreateSession(context.Background(), lifeline.Actor{ID: string(op.ID), Role: op.Role}, hash, sqlstore.StageFull); err != nil {
		w.f.t.Fatal(err)
	}
	w.cookies[actor] = plain
}

// newPolicyWorld builds: one account of each role (and a second intake
// operator, case officer and verification officer: "another team"), a
// disabled account and an expired session; four conversations (the intake
// operator's, the case officer's, an unassigned one, another's) and two
// cases (of co/vo, and of co2/vo2), each active with an operation and a
// task; canaries in every class.
func newPolicyWorld(t *testing.T) *policyWorld {
	ctx := context.Background()
	f := newFixture(t, console.Config{DisableBackoff: true})
	w := &policyWorld{f: f, ops: map[string]lifeline.Operator{}, cookies: map[string]string{"anonymous": ""},
		convs: map[string]lifeline.ConversationID{}, cases: map[string]lifeline.CaseID{}}
	for _, r := range []struct {
		name string
		role lifeline.Role
	}{
		{"io", lifeline.RoleIntake}, {"co", lifeline.RoleCaseOfficer}, {"vo", lifeline.RoleVerification},
		{"fo", lifeline.RoleFinance}, {"sv", lifeline.RoleSupervisor}, {"au", lifeline.RoleAuditor}, {"ad", lifeline.RoleAdmin},
		{"io2", lifeline.RoleIntake}, {"co2", lifeline.RoleCaseOfficer}, {"vo2", lifeline.RoleVerification},
		{"gone", lifeline.RoleSupervisor}, {"late", lifeline.RoleSupervisor},
	} {
		op := w.operator(r.name, r.role)
		w.session(r.name, op)
	}
	if err := f.db.DisableOperator(ctx, lifeline.CLIActor, "op-gone", "left"); err != nil {
		t.Fatal(err)
	}
	// late's session has been idle for 16 minutes.
	if err := f.db.Write(ctx, func(tx *sqlstore.Tx) error {
		_, err := tx.Exec(`UPDATE sessions SET last_seen_at = ? WHERE operator_id = ?`, f.clock.Now().Add(-16*time.Minute).Format("2006-01-02T15:04:05.000000000Z"), w.ops["late"].ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ name, canary, to string }{
		{"own", canaryC1Own, "io"}, {"co", canaryC1CO, "co"}, {"free", canaryC1Free, ""}, {"other", canaryC1Other, "io2"},
	} {
		conv := f.inbound(lifeline.ChannelTelegram, "bot", fmt.Sprint(100000700+len(w.convs)), c.canary)
		if c.to != "" {
			if err := f.db.Assign(ctx, lifeline.CLIActor, conv, w.ops[c.to].ID); err != nil {
				t.Fatal(err)
			}
		}
		w.convs[c.name] = conv
	}
	sv := lifeline.Actor{ID: string(w.ops["sv"].ID), Role: lifeline.RoleSupervisor}
	for _, k := range []struct{ name, conv, co, vo, id, intel string }{
		{"own", "own", "co", "vo", canaryC2Own, canaryC3Own},
		{"other", "other", "co2", "vo2", canaryC2Other, canaryC3Other},
	} {
		c, err := f.db.OpenCase(ctx, lifeline.CLIActor, w.convs[k.conv])
		if err != nil {
			t.Fatal(err)
		}
		w.cases[k.name] = c.ID
		p := &lifeline.Person{ID: lifeline.NewPersonID(), CaseID: c.ID, Relation: lifeline.RelationApplicant, Name: lifeline.Sensitive(k.id), ServiceNumber: "ZZ-" + lifeline.Sensitive(k.name)}
		if err := f.db.AddPerson(ctx, lifeline.CLIActor, p); err != nil {
			t.Fatal(err)
		}
		if err := f.db.AssignCase(ctx, sv, c.ID, w.ops[k.co].ID, w.ops[k.vo].ID); err != nil {
			t.Fatal(err)
		}
		co := lifeline.Actor{ID: string(w.ops[k.co].ID), Role: lifeline.RoleCaseOfficer}
		for _, st := range []lifeline.CaseStatus{lifeline.CaseScreening, lifeline.CaseWaiting, lifeline.CaseActive} {
			if err := f.db.TransitionCase(ctx, co, c.ID, st, "setup"); err != nil {
				t.Fatal(err)
			}
		}
		vo := lifeline.Actor{ID: string(w.ops[k.vo].ID), Role: lifeline.RoleVerification}
		if _, err := f.db.CreateOperation(ctx, vo, sqlstore.OperationPlan{Time: "soon", MeetingPoint: k.intel, Unit: "u"}, []lifeline.PersonID{p.ID}); err != nil {
			t.Fatal(err)
		}
		if err := f.db.AddTask(ctx, co, &sqlstore.Task{Case: c.ID, Kind: "call_back", Due: lifeline.DayOf(f.clock.Now()), Note: canaryTask}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// handedOff names the world's conversations handed to a case officer:
// those of the two cases (each has one) and the case officer's own.
var handedOff = map[string]bool{"own": true, "other": true, "co": true}

// convGrant is the matrix's rule for a conversation, written out here
// independently of the console's code: the intake desk reaches its own and
// the unassigned conversations until they are handed off (the world's
// contacts all wrote just now); every account and case of the world is in
// one team, so team grants reach everything.
func convGrant(role lifeline.Role, a lifeline.Action, me, assigned lifeline.OperatorID, handed bool) bool {
	switch lifeline.Allowed(role, a) {
	case lifeline.GrantAll, lifeline.GrantTeam:
		return true
	case lifeline.GrantOwn:
		return assigned == me
	case lifeline.GrantOwnUnassigned:
		return (assigned == me || assigned == "") && !handed
	}
	return false
}

// TestRouteMatrix is SECURITY.md S-01 for the console: every route of the
// router, called as every role, anonymous, a disabled account and an
// expired session, on objects of their own, their team's and others',
// answers as the matrix says; no route lacks a policy; and no response
// carries a canary of a class its reader may not read.
func TestRouteMatrix(t *testing.T) {
	w := newPolicyWorld(t)
	access := map[string]console.Access{}
	for _, r := range w.f.con.Routes() {
		access[r.Pattern] = r.Access
	}
	patterns := w.f.srv.Patterns()
	for _, p := range patterns {
		a, ok := access[p]
		if !strings.HasPrefix(p, "GET /healthz") && !strings.HasPrefix(p, "GET /readyz") && !strings.HasPrefix(p, "GET /metrics") &&
			(!ok || (!a.Public && !a.Enrol && !a.Any && a.Action == "")) {
			t.Errorf("route %q has no policy", p)
		}
	}

	actors := []string{"anonymous", "gone", "late", "io", "co", "vo", "fo", "sv", "au", "ad", "io2"}
	// The objects each {id} of a pattern takes, by kind.
	objects := func(p string) map[string]string {
		switch {
		case strings.HasPrefix(p, "GET /c/"), strings.HasPrefix(p, "POST /c/"):
			out := map[string]string{}
			for k, v := range w.convs {
				out["conv:"+k] = string(v)
			}
			return out
		case strings.Contains(p, "/cases/{id}"):
			return map[string]string{"case:own": string(w.cases["own"]), "case:other": string(w.cases["other"])}
		case strings.Contains(p, "/staff/{id}"):
			return map[string]string{"staff:io": string(w.ops["io"].ID)}
		case strings.Contains(p, "{id}"):
			return map[string]string{"none": string(lifeline.NewID())}
		}
		return map[string]string{"": ""}
	}
	// Routes whose allowed call would change the world for the cells that
	// follow: only their refusals are checked.
	mutating := []string{"POST /c/{id}/take", "POST /c/{id}/close", "POST /c/{id}/reopen", "POST /c/{id}/case", "POST /c/{id}/assign",
		"POST /cases/{id}/assign", "POST /logout", "POST /login", "POST /unseal", "POST /enrol"}

	cells := 0
	for _, p := range patterns {
		a, ok := access[p]
		if !ok || a.Public {
			continue // public routes (login, unseal, assets) carry no object
		}
		method, path, _ := strings.Cut(p, " ")
		for objName, objID := range objects(p) {
			for _, actor := range actors {
				cells++
				op, known := w.ops[actor]
				live := known && actor != "gone" && actor != "late"
				// Break-glass is a grant the console does not offer: a route
				// that only it would open is closed.
				g := lifeline.Allowed(op.Role, a.Action)
				routeOK := live && (a.Any || a.Enrol || g.Permitted() && g != lifeline.GrantBreakGlass)
				objOK := routeOK
				if routeOK && strings.HasPrefix(objName, "conv:") {
					action := a.Action
					if action == lifeline.ActionWriteIdentity { // opening a case: the conversation must be readable
						action = lifeline.ActionReadConversation
					}
					name := strings.TrimPrefix(objName, "conv:")
					ci, err := w.f.db.Conversation(context.Background(), w.convs[name])
					if err != nil {
						t.Fatal(err)
					}
					objOK = convGrant(op.Role, action, op.ID, ci.AssignedTo, handedOff[name])
					if strings.HasSuffix(p, "/reply") || strings.HasSuffix(p, "/template") || strings.HasSuffix(p, "/take") ||
						strings.HasSuffix(p, "/close") || strings.HasSuffix(p, "/reopen") {
						objOK = convGrant(op.Role, lifeline.ActionReplyConversation, op.ID, ci.AssignedTo, handedOff[name])
					}
				}
				if routeOK && strings.HasPrefix(objName, "case:") {
					objOK = caseReach(w, op, strings.TrimPrefix(objName, "case:"))
				}
				if !routeOK || !objOK || !slices.Contains(mutating, p) {
					w.checkCell(t, method, strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(path, "{$}", ""), "{id}", objID), "{task}", "x"), "{doc}", "x"),
						p, objName, actor, op, live, routeOK, objOK)
				}
			}
		}
	}
	t.Logf("checked %d cells over %d routes", cells, len(patterns))
	if cells < 400 {
		t.Errorf("only %d cells: the enumeration is broken", cells)
	}
}

// caseReach is the matrix's scope of a case for the route-level "search"
// grant: all for supervisors, own (case officer or verification officer)
// for the officers, the cases of his conversations for the intake operator
// until they are handed off (both cases of the world have been).
func caseReach(w *policyWorld, op lifeline.Operator, which string) bool {
	switch lifeline.Allowed(op.Role, lifeline.ActionSearchContact) {
	case lifeline.GrantAll:
		return true
	case lifeline.GrantOwn:
		mine := map[string][]string{"own": {"co", "vo"}, "other": {"co2", "vo2"}}
		return slices.Contains(mine[which], short(op))
	case lifeline.GrantPseudonymOnly:
		return false
	}
	return false
}

func (w *policyWorld) checkCell(t *testing.T, method, path, pattern, obj, actor string, op lifeline.Operator, live, routeOK, objOK bool) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(url.Values{}.Encode())
	}
	req := httptest.NewRequest(method, "https://console.example"+path, body)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c := w.cookies[actor]; c != "" {
		req.AddCookie(&http.Cookie{Name: console.CookieName, Value: c})
	}
	if pattern == "GET /events" {
		// A live stream: it sends its first event at once, then waits;
		// the cell ends it.
		ctx, cancel := context.WithTimeout(req.Context(), 200*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
	}
	rec := httptest.NewRecorder()
	w.f.handler.ServeHTTP(rec, req)
	got := rec.Code
	cell := fmt.Sprintf("%s on %s as %s", pattern, obj, actor)
	switch {
	case !live:
		if got != http.StatusSeeOther && got != http.StatusUnauthorized {
			t.Errorf("%s: %d, want a sign-in (303 or 401)", cell, got)
		}
	case !routeOK:
		if got != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", cell, got)
		}
	case !objOK:
		if got != http.StatusNotFound && got != http.StatusForbidden {
			t.Errorf("%s: %d, want 404 (or 403)", cell, got)
		}
	case pattern == "GET /cases/{id}/documents/{doc}":
		// Past the policy, a document needs a fresh step-up, which no
		// session of this world has.
		if got != http.StatusForbidden {
			t.Errorf("%s: %d, want 403 without a step-up", cell, got)
		}
	case pattern == "GET /enrol/qr.png":
		// Only an enrolment session has a key to draw.
		if got != http.StatusNotFound {
			t.Errorf("%s: %d, want 404 outside enrolment", cell, got)
		}
	case method == http.MethodGet:
		if got == http.StatusForbidden || got == http.StatusUnauthorized || (got == http.StatusNotFound && !strings.HasPrefix(obj, "none")) ||
			(got == http.StatusSeeOther && strings.HasPrefix(rec.Header().Get("Location"), "/login")) {
			t.Errorf("%s: %d, want it allowed", cell, got)
		}
	default:
		// An allowed POST with an empty form passes the policy and then
		// fails validation or a narrower rule of its own (a supervisor
		// closes cases, the officers move them): any answer but a sign-in.
		if got == http.StatusSeeOther && strings.HasPrefix(rec.Header().Get("Location"), "/login") {
			t.Errorf("%s: %d, want it past the sign-in", cell, got)
		}
	}
	// Canaries: nobody reads identity without a step-up; intel is the
	// verification officer's (own) and the supervisor's; conversations by
	// the conversation rule.
	b := rec.Body.String()
	forbidden := []string{canaryC2Own, canaryC2Other, canaryTask}
	if !(short(op) == "vo" || op.Role == lifeline.RoleSupervisor && live) {
		forbidden = append(forbidden, canaryC3Own)
	}
	if !(short(op) == "vo2" || op.Role == lifeline.RoleSupervisor && live) {
		forbidden = append(forbidden, canaryC3Other)
	}
	for name, canary := range map[string]string{"own": canaryC1Own, "co": canaryC1CO, "free": canaryC1Free, "other": canaryC1Other} {
		ci, _ := w.f.db.Conversation(context.Background(), w.convs[name])
		if !live || !convGrant(op.Role, lifeline.ActionReadConversation, op.ID, ci.AssignedTo, handedOff[name]) {
			forbidden = append(forbidden, canary)
		}
	}
	for _, c := range forbidden {
		if strings.Contains(b, c) {
			t.Errorf("%s: the response carries %s", cell, c)
		}
	}
}

// short is the actor name of an operator of the world.
func short(op lifeline.Operator) string { return strings.TrimPrefix(op.Username, "op-") }

// TestSameFieldHiddenEverywhere is SECURITY.md S-02 for conversations: a
// message of a conversation an operator may not read is hidden the same
// way in the console page, the JSON API's list and messages, and the live
// event stream (which carries ids only, and only to those who may see the
// conversation), while its own reader sees it everywhere.
func TestSameFieldHiddenEverywhere(t *testing.T) {
	ctx := context.Background()
	w := newPolicyWorld(t)
	// The intake operator's conversation that has not been handed off.
	fresh := w.f.inbound(lifeline.ChannelTelegram, "bot", "100000799", canaryC1Fresh)
	if err := w.f.db.Assign(ctx, lifeline.CLIActor, fresh, w.ops["io"].ID); err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer(nil, web.Config{Routes: w.f.con.WebRoutes(), API: &web.API{Store: w.f.db}}, nil, nil)
	token := func(user string) string {
		plain, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := auth.TokenID(plain)
		if err := w.f.db.CreateToken(ctx, lifeline.CLIActor, "op-"+user, id, hash); err != nil {
			t.Fatal(err)
		}
		return plain
	}
	get := func(path, cookie, bearer string) (int, string) {
		req := httptest.NewRequest("GET", "https://console.example"+path, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: console.CookieName, Value: cookie})
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if strings.HasPrefix(path, "/events") {
			c, cancel := context.WithTimeout(req.Context(), 300*time.Millisecond)
			defer cancel()
			req = req.WithContext(c)
			go func() { // an event about the conversation while the stream is open
				time.Sleep(100 * time.Millisecond)
				w.f.con.Hub().Publish(console.Event{Type: "message", Conversation: fresh})
			}()
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	own := string(fresh)
	for _, tc := range []struct {
		user string
		may  bool
	}{{"io", true}, {"io2", false}, {"co", false}} {
		tok := token(tc.user)
		views := map[string][2]any{}
		code, body := get("/c/"+own, w.cookies[tc.user], "")
		views["console page"] = [2]any{code, body}
		code, body = get("/api/v1/conversations/"+own+"/messages", "", tok)
		views["API messages"] = [2]any{code, body}
		code, body = get("/api/v1/conversations", "", tok)
		views["API list"] = [2]any{code, strings.Contains(body, own)}
		code, body = get("/events", w.cookies[tc.user], "")
		views["live events"] = [2]any{code, body}
		for view, v := range views {
			code, body := v[0].(int), v[1]
			switch view {
			case "API list":
				if listed := body.(bool); listed != tc.may {
					t.Errorf("%s as %s: listed %v, want %v", view, tc.user, listed, tc.may)
				}
			case "live events":
				// Ids only, and only to those who may see the conversation:
				// the canary never travels.
				if strings.Contains(body.(string), canaryC1Fresh) || code != http.StatusOK {
					t.Errorf("%s as %s: %d, carries the message: %v", view, tc.user, code, strings.Contains(body.(string), canaryC1Fresh))
				}
				if got := strings.Contains(body.(string), own); got != tc.may {
					t.Errorf("%s as %s: the event about the conversation arrived %v, want %v", view, tc.user, got, tc.may)
				}
			default:
				has := strings.Contains(body.(string), canaryC1Fresh)
				if has != tc.may || (!tc.may && code != http.StatusNotFound) {
					t.Errorf("%s as %s: %d, shows the message %v; want %v (404 when hidden)", view, tc.user, code, has, tc.may)
				}
			}
		}
	}
}

// TestOneAuditEntryPerSensitiveCall is SECURITY.md S-03: a read of a case
// that opens identity or intel fields writes exactly one audit entry,
// naming the fields, never their values; a refused one writes exactly one
// denial.
func TestOneAuditEntryPerSensitiveCall(t *testing.T) {
	ctx := context.Background()
	w := newPolicyWorld(t)
	entries := func() []string {
		var out []string
		err := w.f.db.AuditLog().Entries(ctx, func(e audit.Entry, _ tlog.Hash) error {
			out = append(out, e.Actor+"|"+e.Action+"|"+e.Object+"|"+e.Decision+"|"+e.Reason)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	call := func(actor, path string) []string {
		before := len(entries())
		resp := w.f.do("GET", path, nil, w.cookies[actor])
		resp.Body.Close()
		return entries()[before:]
	}
	caseOwn := "/cases/" + string(w.cases["own"])
	// The verification officer reads screening and operation plans.
	got := call("vo", caseOwn)
	if len(got) != 1 || !strings.Contains(got[0], "|case.read|") || !strings.Contains(got[0], "fields=screening,operation_plans") {
		t.Errorf("verification officer's read: %q, want one case.read entry naming the fields", got)
	}
	// Another team's verification officer is refused, once.
	got = call("vo2", caseOwn)
	if len(got) != 1 || !strings.Contains(got[0], "|console.denied|") || !strings.Contains(got[0], "|deny|") {
		t.Errorf("refused read: %q, want one denial", got)
	}
	// A case officer (verdict only, no step-up) opens nothing sensitive.
	if got = call("co", caseOwn); len(got) != 0 {
		t.Errorf("case officer's read without step-up: %q, want no entry", got)
	}
	for _, e := range entries() {
		for _, c := range []string{canaryC2Own, canaryC2Other, canaryC3Own, canaryC3Other, canaryTask, canaryC1Own} {
			if strings.Contains(e, c) {
				t.Errorf("audit entry %q holds a value", e)
			}
		}
	}
}

// TestAPIRouteMatrix is S-01 for the JSON API: its routes, called with the
// token of every role, a revoked token (the disabled account's) and none,
// on every conversation, answer as the matrix says, through the same rule
// (lifeline.Reaches) as the console.
func TestAPIRouteMatrix(t *testing.T) {
	ctx := context.Background()
	w := newPolicyWorld(t)
	srv := web.NewServer(nil, web.Config{API: &web.API{Store: w.f.db}}, nil, nil)
	tokens := map[string]string{"anonymous": ""}
	for _, actor := range []string{"io", "co", "vo", "fo", "sv", "au", "ad", "io2", "gone"} {
		plain, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := auth.TokenID(plain)
		err = w.f.db.CreateToken(ctx, lifeline.CLIActor, "op-"+actor, id, hash)
		if actor == "gone" {
			// A disabled account gets no token; one from before is revoked:
			// either way it is refused.
			err = nil
			plain = "llt_" + strings.Repeat("a", 52)
		}
		if err != nil {
			t.Fatal(err)
		}
		tokens[actor] = plain
	}
	apiRoutes := 0
	for _, p := range srv.Patterns() {
		if !strings.Contains(p, "/api/") {
			continue
		}
		apiRoutes++
		method, path, _ := strings.Cut(p, " ")
		action := lifeline.ActionReadConversation
		if method == http.MethodPost {
			action = lifeline.ActionReplyConversation
		}
		for name, conv := range w.convs {
			if !strings.Contains(path, "{id}") && name != "own" {
				continue // the list has no object
			}
			ci, err := w.f.db.Conversation(ctx, conv)
			if err != nil {
				t.Fatal(err)
			}
			for actor, tok := range tokens {
				op, known := w.ops[actor]
				live := known && actor != "gone"
				g := lifeline.Allowed(op.Role, action)
				routeOK := live && g.Permitted()
				objOK := routeOK && (!strings.Contains(path, "{id}") || convGrant(op.Role, action, op.ID, ci.AssignedTo, handedOff[name]))
				var body io.Reader
				if method == http.MethodPost {
					body = strings.NewReader(`{"unknown": true}`) // past the policy, a 400
				}
				req := httptest.NewRequest(method, strings.ReplaceAll(path, "{id}", string(conv)), body)
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				rec := httptest.NewRecorder()
				srv.Handler().ServeHTTP(rec, req)
				cell := fmt.Sprintf("%s on %s as %s", p, name, actor)
				want := map[bool]int{true: http.StatusOK, false: http.StatusNotFound}[objOK]
				switch {
				case !live:
					want = http.StatusUnauthorized
				case !routeOK:
					want = http.StatusForbidden
				case objOK && method == http.MethodPost:
					want = http.StatusBadRequest
				}
				if rec.Code != want {
					t.Errorf("%s: %d, want %d", cell, rec.Code, want)
				}
				if !objOK || !live {
					for _, c := range []string{canaryC1Own, canaryC1Other, canaryC1CO, canaryC1Free} {
						if strings.Contains(rec.Body.String(), c) {
							t.Errorf("%s: the answer carries %s", cell, c)
						}
					}
				}
			}
		}
	}
	if apiRoutes != 4 {
		t.Errorf("found %d API routes, want 4", apiRoutes)
	}
}

// TestNotificationsFollowThePolicy: a live escalation reaches the consoles
// of the supervisors it names (or, naming none, of those who run the
// floor), never an intake operator's; every event carries ids only.
func TestNotificationsFollowThePolicy(t *testing.T) {
	w := newPolicyWorld(t)
	stream := func(actor string, publish func()) string {
		req := httptest.NewRequest("GET", "https://console.example/events", nil)
		req.AddCookie(&http.Cookie{Name: console.CookieName, Value: w.cookies[actor]})
		ctx, cancel := context.WithTimeout(req.Context(), 400*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
		go func() {
			for w.f.con.Hub().Listeners() == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			publish()
		}()
		rec := httptest.NewRecorder()
		w.f.handler.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	conv := w.convs["own"]
	named := func() {
		w.f.con.Hub().Publish(console.Event{Type: "escalate", Conversation: conv, To: []lifeline.OperatorID{w.ops["sv"].ID}})
	}
	unnamed := func() { w.f.con.Hub().Publish(console.Event{Type: "escalate", Conversation: conv}) }
	for _, c := range []struct {
		actor   string
		publish func()
		want    bool
	}{
		{"sv", named, true}, {"io", named, false}, {"co", named, false},
		{"sv", unnamed, true}, {"io", unnamed, false}, {"au", unnamed, false},
	} {
		body := stream(c.actor, c.publish)
		if got := strings.Contains(body, "event: escalate"); got != c.want {
			t.Errorf("escalation to %s: delivered %v, want %v\n%s", c.actor, got, c.want, body)
		}
		if strings.Contains(body, canaryC1Own) {
			t.Errorf("an event to %s carries message text", c.actor)
		}
	}
}

// TestExchangeListExport: one supervisor asks, the same one cannot
// approve, a second one does; the list comes once, watermarked with both,
// with the applicants who chose exchange and formula-safe cells; a second
// download is refused.
func TestExchangeListExport(t *testing.T) {
	ctx := context.Background()
	w := newPolicyWorld(t)
	w.session("sv2", w.operator("sv2", lifeline.RoleSupervisor))
	co := lifeline.Actor{ID: string(w.ops["co"].ID), Role: lifeline.RoleCaseOfficer}
	if err := w.f.db.SetChoices(ctx, co, w.cases["own"], sqlstore.ChoiceExchange, "", ""); err != nil {
		t.Fatal(err)
	}
	post := func(actor, path string, form url.Values) *http.Response {
		return w.f.do("POST", path, form, w.cookies[actor])
	}
	if resp := post("sv", "/exports", url.Values{"format": {"csv"}, "code": {code(t, worldSeed, w.f.clock.Now())}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d", resp.StatusCode)
	}
	xs, err := w.f.db.Exports(ctx)
	if err != nil || len(xs) != 1 {
		t.Fatalf("exports: %v %v", xs, err)
	}
	id := xs[0].ID
	if resp := post("sv", "/exports/"+id+"/approve", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("self-approval: %d, want 403", resp.StatusCode)
	}
	if resp := w.f.do("GET", "/exports/"+id+"/download", nil, w.cookies["sv"]); resp.StatusCode != http.StatusConflict {
		t.Errorf("download before approval: %d, want 409", resp.StatusCode)
	}
	if resp := post("sv2", "/exports/"+id+"/approve", url.Values{"code": {code(t, worldSeed, w.f.clock.Now())}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approval: %d", resp.StatusCode)
	}
	if resp := w.f.do("GET", "/exports/"+id+"/download", nil, w.cookies["co"]); resp.StatusCode != http.StatusForbidden {
		t.Errorf("download by a case officer: %d, want 403", resp.StatusCode)
	}
	resp := w.f.do("GET", "/exports/"+id+"/download", nil, w.cookies["sv"])
	body := bodyOf(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "asked by op-sv, approved by op-sv2") || !strings.Contains(lines[2], canaryC2Own) || strings.Contains(body, canaryC2Other) {
		t.Errorf("the list:\n%s", body)
	}
	if resp := w.f.do("GET", "/exports/"+id+"/download", nil, w.cookies["sv2"]); resp.StatusCode != http.StatusConflict {
		t.Errorf("second download: %d, want 409", resp.StatusCode)
	}
}
