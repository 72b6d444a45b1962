// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
)

// TestQuestionnaireFormInBrowser: a supervisor edits the registration
// questionnaire as a form in Chromium: rewords a question, adds an option
// (the page keeps the rewording), removes another, previews it in English
// as the contact will read it, and saves it; the saved version says what
// the form did.
func TestQuestionnaireFormInBrowser(t *testing.T) {
	chromium(t)
	dir := filepath.Join(t.TempDir(), "data")
	unseal := mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	out := mustRun(t, nil, "user", "add", "--data", dir, "--username", "sofia", "--role", "supervisor")
	otp := oneTimePassword.FindStringSubmatch(out)
	if otp == nil {
		t.Fatalf("user add printed no one-time password:\n%s", out)
	}
	srv := mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal)
	base := "http://" + srv.addr

	b := newBrowser(t)
	b.firstLogin(base, "sofia", otp[1], "lantern orchard pebble violin")
	const reworded = "Who are you? Answer with the number."
	b.do("open the editor",
		chromedp.Navigate(base+"/questionnaire"),
		chromedp.WaitVisible(chromedp.ID("questionnaire-form")),
		chromedp.SetValue(chromedp.CSS(`textarea[name="q.steps.1.text.en"]`), reworded),
	)
	get(b, "add an option", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`button[value="add:steps.1.options"]`))))
	if got := get(b, "the reworded question", chromedp.Value(chromedp.CSS(`textarea[name="q.steps.1.text.en"]`))); got != reworded {
		t.Errorf("after adding an option the question reads %q, want the rewording kept", got)
	}
	b.do("fill the new option, remove the old one",
		chromedp.SetValue(chromedp.CSS(`input[name="q.steps.1.options.2.value"]`), "relatives"),
		chromedp.SetValue(chromedp.CSS(`input[name="q.steps.1.options.2.label.ru"]`), "Другой человек"),
		chromedp.SetValue(chromedp.CSS(`input[name="q.steps.1.options.2.label.uk"]`), "Інша людина"),
		chromedp.SetValue(chromedp.CSS(`input[name="q.steps.1.options.2.label.en"]`), "Someone else"),
		chromedp.SetValue(chromedp.CSS(`input[name="q.steps.1.options.2.next"]`), "relatives_end"),
		chromedp.Click(chromedp.CSS(`input[name="q.steps.1.options.1.remove"]`)),
		chromedp.SetValue(chromedp.CSS(`select[name="preview_lang"]`), "en"),
	)
	get(b, "preview", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("questionnaire-preview-button"))))
	preview := b.text("#questionnaire-preview")
	if !strings.Contains(preview, reworded+"\n1. A serviceman") || !strings.Contains(preview, "2. Someone else") || strings.Contains(preview, "A relative looking") {
		t.Errorf("the English preview does not show the edited question:\n%s", preview)
	}
	b.screenshot("questionnaire")
	get(b, "save", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("questionnaire-form-save"))))
	b.do("saved", chromedp.WaitVisible(chromedp.ID("questionnaire-saved")))

	db := mustOpenDB(t, dir)
	v, err := db.Questionnaire(t.Context())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	d, err := questionnaire.Parse(v.Definition)
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Steps[1]; s.Text["en"] != reworded || len(s.Options) != 2 || s.Options[1].Label["en"] != "Someone else" || s.Options[1].Next != "relatives_end" {
		t.Errorf("saved stream question %+v", s)
	}
	b.checkTraffic()
}
