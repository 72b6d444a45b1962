// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
)

// closeWithWrapUp closes the open conversation with a wrap-up: the form
// behind "Close…", a category, an outcome.
func (b *browser) closeWithWrapUp(category, outcome string) {
	b.t.Helper()
	if !get(b, "wrap-up open?", chromedp.Evaluate[bool](`document.querySelector('#wrapup').open`)) {
		b.do("open the wrap-up", chromedp.Click(chromedp.ID("close")), chromedp.WaitVisible(chromedp.ID("wrapup-category")))
	}
	b.do("fill the wrap-up", chromedp.SetValue(chromedp.ID("wrapup-category"), b.optionValue("#wrapup-category", category)),
		chromedp.SetValue(chromedp.ID("wrapup-outcome"), outcome))
	b.submit("close with a wrap-up", "wrapup-close")
	if got := b.text("#wrapup-done"); !strings.Contains(got, category) {
		b.t.Fatalf("closed conversation shows %q, want its wrap-up", got)
	}
}

// TestSearchAndWrapUpInBrowser: a supervisor keeps the wrap-up
// categories; an intake operator closes a soldier's conversation with a
// wrap-up, later finds it among the closed ones by a word the soldier
// wrote, closes a second soldier's with a wrap-up and undoes that within
// the minute: the conversation is open again, the wrap-up form back.
func TestSearchAndWrapUpInBrowser(t *testing.T) {
	chromium(t)
	dir := filepath.Join(t.TempDir(), "data")
	unseal := mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	fake := channeltest.NewTelegramFake(testBotToken)
	t.Cleanup(fake.Close)
	const secret = "webhook-secret-for-tests"
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot",
		"--bot-token", testBotToken, "--webhook-secret", secret, "--api-url", fake.URL())
	otp := map[string]string{}
	for name, role := range map[string]string{"ivan": "intake", "maria": "supervisor"} {
		otp[name] = oneTimePassword.FindStringSubmatch(mustRun(t, nil, "user", "add", "--data", dir, "--username", name, "--role", role))[1]
	}
	mustApprove(t, dir, "maria", "ivan")
	srv := mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal)
	base := "http://" + srv.addr
	hook := "http://" + srv.public + "/hooks/telegram/bot"
	write := func(update, chat int64, text string) {
		t.Helper()
		resp, err := channeltest.PostTelegram(hook, secret, channeltest.TelegramUpdate(update, chat, text))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("webhook: %v %v", resp, err)
		}
		resp.Body.Close()
	}

	maria := newBrowser(t)
	maria.firstLogin(base, "maria", otp["maria"], "long enough password for maria")
	ivan := maria.another()
	ivan.firstLogin(base, "ivan", otp["ivan"], "long enough password for ivan")

	// The supervisor's list of wrap-up categories.
	maria.do("labels", chromedp.Navigate(base+"/labels"), chromedp.WaitVisible(chromedp.ID("category-name")))
	maria.do("category", chromedp.SendKeys(chromedp.ID("category-name"), "Перший контакт"))
	maria.submit("add a category", "category-add")
	if got := maria.text("#category-list"); !strings.Contains(got, "Перший контакт") {
		t.Fatalf("categories %q", got)
	}

	// openWaiting opens the one conversation waiting unassigned, and
	// takes it.
	openWaiting := func() {
		t.Helper()
		ivan.do("inbox", chromedp.Navigate(base+"/inbox"), chromedp.WaitVisible(chromedp.CSS("#list a.open-conv")))
		get(ivan, "open conversation", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("#list a.open-conv"))))
		ivan.submit("take", "take")
	}

	// Soldier A writes, is answered and closed with a wrap-up.
	const word = "бронетранспортёр"
	write(9301, 100000601, "Здравствуйте. Со мной исправный "+word+", хочу сдаться.")
	openWaiting()
	convA := get(ivan, "conversation id", chromedp.Evaluate[string](`document.querySelector('[data-conversation]').dataset.conversation`))
	ivan.closeWithWrapUp("Перший контакт", "referred")

	// Soldier B writes. The operator looks for A by the word he wrote.
	write(9302, 100000602, "Добрый вечер, можно вопрос?")
	ivan.do("search", chromedp.Navigate(base+"/search"), chromedp.WaitVisible(chromedp.ID("search-q")))
	ivan.do("search text", chromedp.SetValue(chromedp.ID("search-q"), "БРОНЕТРАНСПОРТЁР"), chromedp.SetValue(chromedp.ID("search-state"), "closed"))
	ivan.submit("search", "search-go")
	if got := ivan.text("#search-results"); !strings.Contains(got, word) || !strings.Contains(got, "слова") || !strings.Contains(got, "закрита") {
		t.Fatalf("search results %q, want A's closed conversation found by words", got)
	}
	ivan.screenshot("search")
	get(ivan, "open the hit", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("#search-results a.open-conv"))))
	if got := get(ivan, "hit", chromedp.Evaluate[string](`document.querySelector('[data-conversation]').dataset.conversation`)); got != convA {
		t.Fatalf("the hit opened %s, want %s", got, convA)
	}
	if got := ivan.text("#wrapup-done"); !strings.Contains(got, "Перший контакт") || !strings.Contains(got, "передано далі") {
		t.Errorf("A's wrap-up: %q", got)
	}

	// B is closed with a wrap-up, and the close undone within the minute.
	openWaiting()
	ivan.do("open the wrap-up", chromedp.Click(chromedp.ID("close")), chromedp.WaitVisible(chromedp.ID("wrapup-category")))
	ivan.screenshot("wrapup")
	ivan.closeWithWrapUp("Перший контакт", "informed")
	ivan.submit("undo the close", "undo-close")
	ivan.do("open again", chromedp.WaitReady(chromedp.ID("wrapup-form")))
	if n := get(ivan, "wrap-up shown?", chromedp.Evaluate[int](`document.querySelectorAll('#wrapup-done, #undo-close').length`)); n != 0 {
		t.Errorf("after undo the page still shows the close")
	}
	ivan.checkTraffic(word, "100000601", "100000602")
}
