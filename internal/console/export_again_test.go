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
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// TestExportDownloadsAgainOnlyForItsMakerWithinTheWindow: an export whose
// download broke off can be made again by the person who made it, for ten
// minutes from the first download, each time audited; the other person of
// the export cannot, and nobody can after the window.
func TestExportDownloadsAgainOnlyForItsMakerWithinTheWindow(t *testing.T) {
	ctx := context.Background()
	w := newPolicyWorld(t)
	w.session("sv2", w.operator("sv2", lifeline.RoleSupervisor))
	co := lifeline.Actor{ID: string(w.ops["co"].ID), Role: lifeline.RoleCaseOfficer}
	if err := w.f.db.SetChoices(ctx, co, w.cases["own"], sqlstore.ChoiceExchange, "", ""); err != nil {
		t.Fatal(err)
	}
	post := func(actor, path string, form url.Values) int {
		return w.f.do("POST", path, form, w.cookies[actor]).StatusCode
	}
	download := func(actor string) (int, string) {
		resp := w.f.do("GET", "/exports/"+w.exportID(t)+"/download", nil, w.cookies[actor])
		return resp.StatusCode, bodyOf(t, resp)
	}
	if got := post("sv", "/exports", url.Values{"format": {"csv"}, "code": {code(t, worldSeed, w.f.clock.Now())}}); got != http.StatusSeeOther {
		t.Fatalf("request: %d", got)
	}
	if got := post("sv2", "/exports/"+w.exportID(t)+"/approve", url.Values{"code": {code(t, worldSeed, w.f.clock.Now())}}); got != http.StatusSeeOther {
		t.Fatalf("approval: %d", got)
	}
	status, first := download("sv")
	if status != http.StatusOK || !strings.Contains(first, canaryC2Own) {
		t.Fatalf("first download: %d\n%s", status, first)
	}
	page := bodyOf(t, w.f.do("GET", "/exports", nil, w.cookies["sv"]))
	if !strings.Contains(page, `class="download again"`) || !strings.Contains(page, "10 min left") && !strings.Contains(page, "ще 10 хв") {
		t.Errorf("the exports page offers its maker no second download:\n%s", page)
	}
	if page := bodyOf(t, w.f.do("GET", "/exports", nil, w.cookies["sv2"])); strings.Contains(page, `class="download again"`) {
		t.Error("the exports page offers a second download to the one who did not make the first")
	}

	w.f.clock.Add(9 * time.Minute)
	if status, _ := download("sv2"); status != http.StatusConflict {
		t.Errorf("the approver, within the window: %d, want 409", status)
	}
	status, again := download("sv")
	if status != http.StatusOK || !strings.Contains(again, canaryC2Own) {
		t.Fatalf("the maker, 9 minutes after: %d, want 200 and the list", status)
	}
	w.f.clock.Add(90 * time.Second) // the window runs from the first download
	status, body := download("sv")
	if status != http.StatusConflict || strings.Contains(body, canaryC2Own) {
		t.Errorf("the maker, 10½ minutes after: %d, want 409 and no list", status)
	}
	if page := bodyOf(t, w.f.do("GET", "/exports", nil, w.cookies["sv"])); strings.Contains(page, `class="download again"`) {
		t.Error("the exports page still offers a second download after the window")
	}
	allowed := w.f.auditActions("allow")
	if n := slices.Index(allowed, "export.download:rows=1"); n < 0 || !slices.Contains(allowed[n:], "export.redownload:rows=1") {
		t.Errorf("audit log %v: want export.download then export.redownload, each with its row count", allowed)
	}
	if strings.Count(strings.Join(allowed, " "), "export.redownload") != 1 {
		t.Errorf("audit log %v: want one export.redownload", allowed)
	}
}

// exportID is the world's only export.
func (w *policyWorld) exportID(t *testing.T) string {
	t.Helper()
	xs, err := w.f.db.Exports(context.Background())
	if err != nil || len(xs) != 1 {
		t.Fatalf("exports: %v %v", xs, err)
	}
	return xs[0].ID
}
