// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// kyiv is the console's default time zone.
func kyiv(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Kyiv")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestErrorPageAndAuditViewerInBrowser: an auditor signs in and opens the
// audit viewer: the verifier's verdict on the real log says it is intact,
// times are labelled with her zone (Kyiv), a filter by a family of actions
// narrows the entries, and her own reading is in the log. A page her role
// may not open is a page in Ukrainian with a way back, which goes back to
// where she was.
func TestErrorPageAndAuditViewerInBrowser(t *testing.T) {
	chromium(t)
	dir := filepath.Join(t.TempDir(), "data")
	unseal := mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	mustRun(t, nil, "user", "add", "--data", dir, "--username", "maria", "--role", "supervisor")
	out := mustRun(t, nil, "user", "add", "--data", dir, "--username", "olena", "--role", "auditor")
	otpw := oneTimePassword.FindStringSubmatch(out)
	if otpw == nil {
		t.Fatalf("user add printed no one-time password:\n%s", out)
	}
	mustApprove(t, dir, "maria", "olena")
	srv := mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal)
	base := "http://" + srv.addr

	b := newBrowser(t)
	b.firstLogin(base, "olena", otpw[1], "an auditor reads the whole ledger")
	b.do("audit viewer", chromedp.Navigate(base+"/audit"), chromedp.WaitVisible(chromedp.ID("audit-verdict")))
	if got := b.text("#audit-verdict"); !strings.Contains(got, "Журнал цілий") || !strings.Contains(got, "(Київ)") {
		t.Errorf("verdict reads %q", got)
	}
	if got := b.text("#audit-table thead"); !strings.Contains(got, "Київ") {
		t.Errorf("the times are not labelled with the zone: %q", got)
	}
	all := b.text("#audit-table tbody")
	if !strings.Contains(all, "user.add") || !strings.Contains(all, "командний рядок") {
		t.Errorf("the entries lack the accounts made at the command line:\n%s", all)
	}
	b.do("filter", chromedp.SendKeys(chromedp.ID("audit-action"), "session."))
	get(b, "show", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("audit-show"))))
	for _, line := range strings.Split(strings.TrimSpace(b.text("#audit-table tbody")), "\n") {
		if !strings.Contains(line, "session.") {
			t.Errorf("the filter let through %q", line)
		}
	}
	b.do("all again", chromedp.Navigate(base+"/audit"), chromedp.WaitVisible(chromedp.ID("audit-verdict")))
	if got := b.text("#audit-table tbody"); !strings.Contains(got, "audit.read") || strings.Contains(got, "console.denied") {
		t.Errorf("her reading is not in the log, or her pages asked for what her role may not see:\n%s", got)
	}
	b.screenshot("audit")

	// The inbox is not hers: a page that says so, in her language, and
	// takes her back.
	b.do("inbox refused", chromedp.Navigate(base+"/inbox"), chromedp.WaitVisible(chromedp.ID("error")))
	if got := b.text("main h1"); got != "Недоступно для вас" {
		t.Errorf("error page title %q", got)
	}
	if got := b.text("#error"); got != "Ваша роль цього не дозволяє." {
		t.Errorf("error page says %q", got)
	}
	b.screenshot("error")
	b.do("back", chromedp.Click(chromedp.ID("error-back")), chromedp.WaitVisible(chromedp.ID("audit-verdict")))
	b.checkTraffic()
}
