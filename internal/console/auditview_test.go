// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// auditWorld is a console whose audit viewer verifies its real log, with
// an auditor, an admin, a supervisor and an intake operator of the main
// team, and an intake operator of another team.
func newAuditWorld(t *testing.T) *policyWorld {
	t.Helper()
	_, vkey, err := audit.GenerateKey("lifeline.test/audit")
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := audit.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	var db *sqlstore.DB
	f := newFixture(t, console.Config{DisableBackoff: true, VerifyAudit: func(ctx context.Context) (rep audit.Report, err error) {
		err = db.AuditSnapshot(ctx, func(log *sqlstore.AuditLog) error {
			rep, err = audit.Verify(ctx, log, verifier)
			return err
		})
		return rep, err
	}})
	db = f.db
	w := &policyWorld{f: f, ops: map[string]lifeline.Operator{}, cookies: map[string]string{"anonymous": ""},
		convs: map[string]lifeline.ConversationID{}, cases: map[string]lifeline.CaseID{}}
	for _, r := range []struct {
		name string
		role lifeline.Role
	}{{"au", lifeline.RoleAuditor}, {"ad", lifeline.RoleAdmin}, {"sv", lifeline.RoleSupervisor}, {"io", lifeline.RoleIntake}, {"south", lifeline.RoleIntake}} {
		w.session(r.name, w.operator(r.name, r.role))
	}
	ctx := context.Background()
	if err := f.db.JoinTeam(ctx, lifeline.CLIActor, w.ops["south"].ID, "south"); err != nil {
		t.Fatal(err)
	}
	if err := f.db.LeaveTeam(ctx, lifeline.CLIActor, w.ops["south"].ID, lifeline.DefaultTeam); err != nil {
		t.Fatal(err)
	}
	return w
}

// auditCSV fetches the viewer's CSV for actor with the query q.
func (w *policyWorld) auditCSV(t *testing.T, actor string, q url.Values) [][]string {
	t.Helper()
	q.Set("format", "csv")
	resp, body := w.request("GET", "/audit?"+q.Encode(), nil, actor, "", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%s CSV %v: %d %s\n%s", actor, q, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || rows[0][0] != "seq" {
		t.Fatalf("CSV without its header: %q", body)
	}
	return rows[1:]
}

// column is one column of CSV rows (2 actor, 5 action, 6 object).
func column(rows [][]string, i int) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r[i])
	}
	return out
}

// TestAuditViewerByRole: the auditor reads every entry and sees the
// verifier's verdict; a supervisor reads his teams' members' entries only
// and no verdict; an admin reads system events only; an intake operator
// gets a page saying no. Every reading is itself audited, as a view or an
// export.
func TestAuditViewerByRole(t *testing.T) {
	w := newAuditWorld(t)
	ctx := context.Background()
	south := lifeline.Actor{ID: string(w.ops["south"].ID), Role: lifeline.RoleIntake}
	conv := lifeline.NewConversationID()
	if err := w.f.db.Audit(ctx, south, "conversation.read", string(conv), ""); err != nil {
		t.Fatal(err)
	}

	resp, page := w.request("GET", "/audit", nil, "au", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `id="audit-verdict" class="verdict ok"`) || !strings.Contains(page, "Журнал цілий") {
		t.Fatalf("auditor's viewer: %d\n%s", resp.StatusCode, page)
	}
	all := w.auditCSV(t, "au", url.Values{})
	if !slicesContain(column(all, 2), string(w.ops["south"].ID)) || !slicesContain(column(all, 2), lifeline.ActorCLI) {
		t.Errorf("the auditor does not read every actor's entries: %v", column(all, 2))
	}

	sv := w.auditCSV(t, "sv", url.Values{})
	if len(sv) == 0 {
		t.Fatal("the supervisor reads nothing")
	}
	for _, r := range sv {
		if r[2] != string(w.ops["sv"].ID) && r[2] != string(w.ops["au"].ID) && r[2] != string(w.ops["ad"].ID) && r[2] != string(w.ops["io"].ID) {
			t.Errorf("the supervisor reads an entry of %s (%s), outside his team", r[3], r[5])
		}
	}
	if _, page := w.request("GET", "/audit", nil, "sv", "", nil); strings.Contains(page, "audit-verdict") || !strings.Contains(page, "членів своїх команд") {
		t.Errorf("the supervisor's viewer shows a verdict or hides his reach:\n%s", page)
	}

	for _, r := range w.auditCSV(t, "ad", url.Values{}) {
		if !strings.HasPrefix(r[5], "session.") && !strings.HasPrefix(r[5], "user.") && !strings.HasPrefix(r[5], "team.") &&
			!strings.HasPrefix(r[5], "audit.") && !strings.HasPrefix(r[5], "login.") && !strings.HasPrefix(r[5], "token.") {
			t.Errorf("the admin reads %s, not a system event", r[5])
		}
	}

	if resp, page := w.request("GET", "/audit", nil, "io", "", nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "Ваша роль цього не дозволяє.") {
		t.Errorf("intake on the viewer: %d", resp.StatusCode)
	}

	var views, exports int
	for _, a := range w.f.auditActions("allow") {
		views += btoi(strings.HasPrefix(a, "audit.read:view"))
		exports += btoi(strings.HasPrefix(a, "audit.read:export"))
	}
	if views != 2 || exports != 3 {
		t.Errorf("readings audited: %d views and %d exports, want 2 and 3", views, exports)
	}
}

// TestAuditViewerFilters: by actor, by a family of actions, by an object
// id (whole ids only, also one of several in an entry), by days in the
// reader's zone; a filter that is not an id is refused with a page.
func TestAuditViewerFilters(t *testing.T) {
	w := newAuditWorld(t)
	ctx := context.Background()
	io := lifeline.Actor{ID: string(w.ops["io"].ID), Role: lifeline.RoleIntake}
	conv, other := lifeline.NewConversationID(), lifeline.NewConversationID()
	if err := w.f.db.Audit(ctx, io, "conversation.read", string(conv), ""); err != nil {
		t.Fatal(err)
	}
	if err := w.f.db.Audit(ctx, lifeline.CLIActor, "conversation.assign", string(other)+" "+string(conv), ""); err != nil {
		t.Fatal(err)
	}

	rows := w.auditCSV(t, "au", url.Values{"actor": {string(w.ops["io"].ID)}})
	if len(rows) == 0 {
		t.Fatal("no entries of io")
	}
	for _, r := range rows {
		if r[2] != string(w.ops["io"].ID) {
			t.Errorf("actor filter let through %s", r[2])
		}
	}
	rows = w.auditCSV(t, "au", url.Values{"action": {"session."}})
	if len(rows) < 5 {
		t.Errorf("session. family: %d entries, want the five sign-ins at least", len(rows))
	}
	for _, r := range rows {
		if !strings.HasPrefix(r[5], "session.") {
			t.Errorf("action family let through %s", r[5])
		}
	}
	rows = w.auditCSV(t, "au", url.Values{"object": {string(conv)}})
	if got := column(rows, 5); len(got) != 2 || !slicesContain(got, "conversation.read") || !slicesContain(got, "conversation.assign") {
		t.Errorf("object filter: %v, want the read and the assignment naming it", got)
	}
	if rows := w.auditCSV(t, "au", url.Values{"object": {string(conv)[:10]}}); len(rows) != 0 {
		t.Errorf("part of an id matched %d entries", len(rows))
	}
	kyiv, _ := time.LoadLocation("Europe/Kyiv")
	today := w.f.clock.Now().In(kyiv)
	if rows := w.auditCSV(t, "au", url.Values{"from": {today.AddDate(0, 0, 1).Format("2006-01-02")}}); len(rows) != 0 {
		t.Errorf("from tomorrow: %d entries", len(rows))
	}
	if rows := w.auditCSV(t, "au", url.Values{"to": {today.AddDate(0, 0, -1).Format("2006-01-02")}}); len(rows) != 0 {
		t.Errorf("to yesterday: %d entries", len(rows))
	}
	if rows := w.auditCSV(t, "au", url.Values{"from": {today.Format("2006-01-02")}, "to": {today.Format("2006-01-02")}, "actor": {string(w.ops["io"].ID)}}); len(rows) == 0 {
		t.Error("today's entries of io not found by day")
	}
	for _, bad := range []string{"a b", "x' OR 1=1 --", "%"} {
		if resp, page := w.request("GET", "/audit?object="+url.QueryEscape(bad), nil, "au", "", nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Фільтруйте журнал аудиту") {
			t.Errorf("object %q: %d", bad, resp.StatusCode)
		}
	}
}

// TestAuditViewerShowsTampering: an entry edited in the database behind
// the server's back turns the viewer's verdict to "NOT intact", naming
// the entry, once the minute the last verdict is kept has passed.
func TestAuditViewerShowsTampering(t *testing.T) {
	w := newAuditWorld(t)
	if _, page := w.request("GET", "/audit", nil, "au", "", nil); !strings.Contains(page, "Журнал цілий") {
		t.Fatalf("fresh log not intact:\n%s", page)
	}
	if err := w.f.db.Write(context.Background(), func(tx *sqlstore.Tx) error {
		if _, err := tx.Exec(`DROP TRIGGER audit_entries_no_update`); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE audit_entries SET reason = 'rewritten' WHERE seq = 2`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	w.f.clock.Add(2 * time.Minute)
	_, page := w.request("GET", "/audit", nil, "au", "", nil)
	if !strings.Contains(page, `class="verdict bad"`) || !strings.Contains(page, "Журнал НЕ цілий") || !strings.Contains(page, "audit entry 2") {
		t.Errorf("tampering not shown:\n%s", page)
	}
}

func slicesContain(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
