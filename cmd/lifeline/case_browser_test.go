// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
)

// staff is an enrolled account, signed in at a desk of its own.
type staff struct {
	name, password, secret string
	step                   time.Time // the latest TOTP step used
	b                      *browser
}

// submit clicks a form's button and waits for the page it loads.
func (b *browser) submit(what, button string) {
	b.t.Helper()
	get(b, what, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID(button))))
	if msg := get(b, what+": error?", chromedp.Evaluate[string](`(document.querySelector('#error') || {}).textContent || ''`)); msg != "" {
		b.t.Fatalf("%s: the console says %q", what, msg)
	}
}

// openCase goes to a case page by its code name, from the case list.
func (b *browser) openCase(base, code string) {
	b.t.Helper()
	b.do("cases", chromedp.Navigate(base+"/cases"), chromedp.WaitVisible(chromedp.ID("case-table")))
	get(b, "open "+code, chromedp.WaitEvent(page.LoadEventFired, nil,
		chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('#case-table a')].find(a => a.textContent === '`+code+`')`))))
}

// move changes the open case's status with a reason.
func (b *browser) move(to, reason string) {
	b.t.Helper()
	b.do("status "+to, chromedp.SetValue(chromedp.ID("status-to"), to), chromedp.SendKeys(chromedp.ID("status-reason"), reason))
	b.submit("move to "+to, "status-save")
	if got := get(b, "status", chromedp.Evaluate[string](`document.querySelector('#case-status').textContent`)); got == "" {
		b.t.Fatal("no status shown")
	}
}

// TestCaseInBrowser follows one invented soldier from his first Telegram
// message to a closed case: the bot's registration questionnaire (his wife
// among his family, to be relocated) makes the case; then, in the console,
// as each role: the supervisor
// assigns a case officer and a verification officer; screening and a
// verdict by the verification officer; waiting; contact again from the
// front; an extraction operation together with a second soldier, approved
// by the supervisor; captured, in custody; his choice to stay off the
// exchange lists and emigrate; his wife's relocation; closed.
func TestCaseInBrowser(t *testing.T) {
	chromium(t)
	dir := filepath.Join(t.TempDir(), "data")
	unseal := mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	fake := channeltest.NewTelegramFake(testBotToken)
	t.Cleanup(fake.Close)
	const secret = "webhook-secret-for-tests"
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot",
		"--bot-token", testBotToken, "--webhook-secret", secret, "--api-url", fake.URL())
	roles := map[string]string{"ivan": "intake", "maria": "supervisor", "kira": "case-officer", "vera": "verification"}
	otp := map[string]string{}
	for name, role := range roles {
		otp[name] = oneTimePassword.FindStringSubmatch(mustRun(t, nil, "user", "add", "--data", dir, "--username", name, "--role", role))[1]
	}
	for _, name := range []string{"ivan", "kira", "vera"} {
		mustApprove(t, dir, "maria", name) // the console's approval, taken directly
	}
	srv := mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal, "--questionnaire")
	base := "http://" + srv.addr
	hook := "http://" + srv.public + "/hooks/telegram/bot" // the fake provider posts to the public door
	// Four people at four desks, each signed in once: a TOTP code is
	// good once, so a second sign-in would wait for the next step.
	first := newBrowser(t)
	people := map[string]*staff{}
	for _, name := range []string{"ivan", "maria", "kira", "vera"} {
		u := &staff{name: name, password: "long enough password for " + name, b: first}
		if name != "ivan" {
			u.b = first.another()
		}
		u.secret, u.step = u.b.firstLogin(base, name, otp[name], u.password)
		people[name] = u
	}
	ivan, maria, kira, vera := people["ivan"], people["maria"], people["kira"], people["vera"]
	var b *browser
	as := func(u *staff) { b = u.b }

	write := func(update int64, chat int64, text string) {
		t.Helper()
		resp, err := channeltest.PostTelegram(hook, secret, channeltest.TelegramUpdate(update, chat, text))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("webhook: %v %v", resp, err)
		}
		resp.Body.Close()
	}

	// answer writes to the bot as the soldier and waits for its next
	// message (one holding want, if given).
	update := int64(8000)
	answer := func(chat int64, text, want string) {
		t.Helper()
		seen := 0
		for _, m := range fake.Sent() {
			if m.ChatID == chat {
				seen++
			}
		}
		update++
		write(update, chat, text)
		waitFor(t, "the bot's answer to "+text, srv.done, func() bool {
			n := 0
			for _, m := range fake.Sent() {
				if m.ChatID == chat {
					n++
					if n > seen && strings.Contains(m.Text, want) {
						return true
					}
				}
			}
			return false
		})
	}

	// verifyAndActivate: the supervisor assigns the officers; screening,
	// a verdict, waiting; contact again from the front; active.
	verifyAndActivate := func(code string, chat int64, name, service string) {
		t.Helper()
		as(maria)
		b.openCase(base, code)
		b.do("assign", chromedp.SetValue(chromedp.ID("assign-officer"), b.optionValue("#assign-officer", "kira")),
			chromedp.SetValue(chromedp.ID("assign-verifier"), b.optionValue("#assign-verifier", "vera")))
		b.submit("assign", "assign-save")
		as(kira)
		b.openCase(base, code)
		b.move("screening", "questionnaire complete")
		as(vera)
		b.openCase(base, code)
		// A fresh code shows identity fields for five minutes (step-up).
		if get(b, "reveal form?", chromedp.Evaluate[bool](`!!document.querySelector("#reveal-form")`)) {
			vera.step = vera.step.Add(30 * time.Second)
			b.do("reveal", chromedp.SendKeys(chromedp.ID("reveal-code"), totpCode(t, vera.secret, vera.step)))
			b.submit("reveal", "reveal")
		}
		if got := b.text("#persons"); !strings.Contains(got, name) || !strings.Contains(got, service) {
			t.Fatalf("revealed persons %q lack the applicant", got)
		}
		b.do("checklist", js(`[...document.querySelectorAll('#screening-form input[name=checked]')].forEach(i => i.checked = true) || true`))
		b.submit("screening", "screening-save")
		b.do("verdict", chromedp.SetValue(chromedp.ID("verdict"), "verified"), chromedp.SendKeys(chromedp.ID("verdict-reason"), "unit and number confirmed"))
		b.submit("verdict", "verdict-save")
		as(kira)
		b.openCase(base, code)
		b.move("waiting", "verified; waits for deployment")
		update++
		write(update, chat, "Нас перебросили. Я на передовой, готов.")
		b.move("active", "contact from the front")
	}

	// Soldier A registers with the bot: the questionnaire, in Russian,
	// his wife among his family; the answers become a case.
	const chatA = 100000501
	answer(chatA, "Здравствуйте. Хочу сдаться.", "Якою мовою")
	for _, qa := range [][2]string{
		{"1", "Кто вы?"}, {"1", "фамилия, имя"}, {"Тестов Олег Петрович", "Дата рождения"}, {"17.05.1994", "воинская часть"},
		{"в/ч 00000 (invented)", "звание"}, {"рядовой", "личный номер"}, {"ЖЕТ-100501", "Где вы сейчас"},
		{"Белгородская область (invented)", ""}, {"только Telegram, ночью", "члены семьи"}, {"1", "Кем он или она"},
		{"1", "Фамилия"}, {"Тестова Анна Сергеевна", "Дата рождения"}, {"пропустить", "Где он или она живёт"},
		{"Курская область (invented)", "переезд"}, {"Да", "ещё одного"}, {"2", "зарегистрирована"},
	} {
		answer(chatA, qa[0], qa[1])
	}
	as(maria)
	b.do("cases", chromedp.Navigate(base+"/cases"), chromedp.WaitVisible(chromedp.CSS("#case-table a")))
	codeA := b.text("#case-table a")
	if got := b.text("#case-table tbody"); !strings.Contains(got, "зареєстровано") {
		t.Fatalf("the bot's case: %q, want registered", got)
	}
	verifyAndActivate(codeA, chatA, "Тестов Олег Петрович", "ЖЕТ-100501")
	as(vera) // identity fields still revealed to her (five minutes)
	b.openCase(base, codeA)
	if got := b.text("#persons"); !strings.Contains(got, "Тестова Анна Сергеевна") || !strings.Contains(got, "потребує переселення") {
		t.Errorf("the wife, to be relocated, is not on the case: %q", got)
	}

	// A second soldier writes; the intake operator takes over from the
	// bot, opens a case from the conversation and records him.
	{
		const update, chat, name, service = 9101, 100000502, "Примеров Илья", "ЖЕТ-100502"
		write(update, chat, "Здравствуйте, хочу сдаться. Меня зовут "+name+".")
		as(ivan)
		// His conversation is the one without a case yet.
		b.do("inbox", chromedp.Navigate(base+"/inbox"), chromedp.WaitVisible(chromedp.CSS("#list tr:not([data-case]) a.open-conv")))
		get(b, "open conversation", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("#list tr:not([data-case]) a.open-conv"))))
		b.submit("open a case", "open-case")
		code := strings.Fields(b.text("#case-code"))[0]
		b.do("applicant", chromedp.SetValue(chromedp.ID("person-relation"), "applicant"), chromedp.SendKeys(chromedp.ID("person-name"), name),
			chromedp.SendKeys(chromedp.ID("person-birth"), "1994-05-17"), chromedp.SendKeys(chromedp.ID("person-rank"), "рядовой"),
			chromedp.SendKeys(chromedp.ID("person-unit"), "в/ч 00000 (invented)"), chromedp.SendKeys(chromedp.ID("person-service"), service))
		b.submit("add applicant", "person-save")
		// Append-only: the intake operator never reads back what he wrote.
		if got := b.text("[data-case]"); strings.Contains(got, name) {
			t.Errorf("the intake operator reads back the applicant's name")
		}
		verifyAndActivate(code, chat, name, service)
	}

	// The verification officer plans one operation for both.
	as(vera)
	b.openCase(base, codeA)
	b.do("plan", js(`document.querySelector('#operation-form').closest('details').open = true`),
		chromedp.SendKeys(chromedp.ID("op-time"), "night of the 20th, 04:30"), chromedp.SendKeys(chromedp.ID("op-point"), "48.0000 37.0000 (invented)"),
		chromedp.SendKeys(chromedp.ID("op-unit"), "test brigade"),
		js(`document.querySelectorAll('#operation-form input[name=with]').forEach(i => i.checked = true) || true`))
	b.submit("plan operation", "op-save")
	as(maria)
	b.openCase(base, codeA)
	// He reads intel as a team reader: the plan is his to approve.
	if got := b.text("#operations"); !strings.Contains(got, "48.0000") {
		t.Errorf("the supervisor approving the meeting does not see its plan: %q", got)
	}
	b.submit("approve meeting", "op-approve")
	as(vera)
	b.openCase(base, codeA)
	b.submit("start operation", "op-start")
	for range 2 {
		b.do("outcome", js(`document.querySelector('.operation select[name=outcome]').value = 'captured'`))
		get(b, "record outcome", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(".operation button.outcome"))))
	}
	b.submit("finish operation", "op-done")

	// Custody, his choices, his wife's relocation, emigration, closed.
	as(kira)
	b.openCase(base, codeA)
	if got := b.text("#case-status"); !strings.Contains(got, "у полоні") {
		t.Fatalf("after the operation case A is %q, want captured", got)
	}
	b.move("in_custody", "handed over to the custody service")
	b.do("choices", chromedp.SetValue(chromedp.ID("choice-exchange"), "no_exchange"), chromedp.SetValue(chromedp.ID("choice-future"), "emigrate"),
		chromedp.SendKeys(chromedp.ID("choice-where"), "Canada"))
	b.submit("choices", "choices-save")
	b.do("task", chromedp.SetValue(chromedp.ID("task-kind"), "relocate_relative"),
		chromedp.SetValue(chromedp.ID("task-due"), time.Now().AddDate(0, 0, 14).Format("2006-01-02")))
	b.submit("task", "task-save")
	get(b, "task done", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("#tasks button.task-done"))))
	b.move("emigrated", "resettled with his wife")
	// The case officer proposes closing; the supervisor approves by closing.
	b.do("propose", chromedp.SendKeys(chromedp.ID("propose-reason"), "resettled; protection handed over"))
	b.submit("propose closing", "propose-save")
	b.screenshot("case")
	as(maria)
	b.openCase(base, codeA)
	if got := b.text("#close-proposed"); got == "" {
		t.Error("the supervisor does not see the proposal to close")
	}
	b.move("closed", "approved: resettled; protection handed over")
	tl := b.text("#timeline")
	// (each status move, and the proposal to close, is on the timeline, in
	// words: registered, screening, waiting, active, extraction, captured,
	// in custody, emigrated, closed)
	for _, want := range []string{"зареєстровано", "перевірка", "очікування", "на зв'язку з фронту", "виведення", "у полоні", "під вартою", "емігрував", "закрито"} {
		if !strings.Contains(tl, "→ "+want) {
			t.Errorf("timeline lacks the move to %s:\n%s", want, tl)
		}
	}
	for _, u := range people {
		u.b.checkTraffic("Тестов Олег", "ЖЕТ-100501", "Canada", "100000501", "Тестова Анна")
	}
	channeltest.MustContainNone(t, "server log", srv.stderr.String(), "Тестов", "Тестова", "ЖЕТ-100501", "Canada", "100000501", "48.0000", "Белгородская")
}

// optionValue returns the value of the option of a select whose text
// starts with label.
func (b *browser) optionValue(sel, label string) string {
	b.t.Helper()
	v := get(b, "option "+label, chromedp.Evaluate[string](`([...document.querySelectorAll('`+sel+` option')].find(o => o.textContent.startsWith('`+label+`')) || {}).value || ''`))
	if v == "" {
		b.t.Fatalf("no option %q in %s", label, sel)
	}
	return v
}

// js runs a script in the page for its effect.
func js(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](expr)(ctx, t)
		return err
	})
}
