// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
)

// chromium finds Debian's headless Chromium, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser tests need Chromium (Debian: apt-get install chromium); .ci/run installs it")
	return ""
}

// browser is a headless Chromium on a fresh profile, with a watch on every
// request it makes and every document it receives.
type browser struct {
	ctx context.Context
	t   *testing.T

	mu       sync.Mutex
	requests []string          // every URL requested
	csp      map[string]string // document URL → its Content-Security-Policy
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	return watch(t, ctx)
}

// another opens a tab of the same browser with a browser context of its
// own (its own cookies): a second person at a second desk.
func (b *browser) another() *browser {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	return watch(b.t, ctx)
}

// watch starts the tab of ctx and records its requests and documents.
func watch(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	b := &browser{ctx: ctx, t: t, csp: map[string]string{}}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.mu.Lock()
			b.requests = append(b.requests, ev.Request.URL)
			b.mu.Unlock()
		case *network.EventResponseReceived:
			if ev.Type == network.ResourceTypeDocument {
				csp, _ := ev.Response.Headers["Content-Security-Policy"].(string)
				b.mu.Lock()
				b.csp[ev.Response.URL] = csp
				b.mu.Unlock()
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// do runs actions with a time limit, failing the test with what.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		b.t.Fatalf("%s: %v (at %s, showing:\n%s)", what, err, loc, page)
	}
}

// get runs one action that returns a value.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		b.t.Fatalf("%s: %v (at %s, showing:\n%s)", what, err, loc, page)
	}
	return v
}

// text reads an element's text. A page that a form post or a live update
// replaces under the read makes it try again, a few times.
func (b *browser) text(sel string) string {
	b.t.Helper()
	for range 4 {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return v
		}
		time.Sleep(250 * time.Millisecond)
	}
	return get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// screenshot saves the page as docs/screenshots/name.png when
// LIFELINE_SCREENSHOTS is set (the README links them).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("LIFELINE_SCREENSHOTS") == "" {
		return
	}
	png := get(b, "screenshot", chromedp.FullScreenshot(100))
	dir := filepath.Join("..", "..", "docs", "screenshots")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// checkTraffic fails on any request that left 127.0.0.1, any document
// without a CSP, and any URL that carries one of the personal strings.
func (b *browser) checkTraffic(personal ...string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		b.t.Fatal("no requests recorded: the watch is broken")
	}
	for _, raw := range b.requests {
		u, err := url.Parse(raw)
		if err != nil {
			b.t.Errorf("unparsable request URL %q", raw)
			continue
		}
		if u.Scheme != "data" && u.Hostname() != "127.0.0.1" {
			b.t.Errorf("request left 127.0.0.1: %s", raw)
		}
		for _, p := range personal {
			if strings.Contains(raw, p) || strings.Contains(raw, url.QueryEscape(p)) {
				b.t.Errorf("personal data %q in URL %s", p, raw)
			}
		}
	}
	for doc, csp := range b.csp {
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			b.t.Errorf("document %s: CSP %q", doc, csp)
		}
	}
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

var oneTimePassword = regexp.MustCompile(`One-time password:\s+(\S+)`)

// firstLogin signs in with the one-time password, sets a new password and
// enrols a TOTP key from the page, and returns the key's secret and the
// time step the enrolment used.
func (b *browser) firstLogin(base, username, otpw, password string) (secret string, used time.Time) {
	b.t.Helper()
	b.do("first login",
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.ID("username"), username),
		chromedp.SendKeys(chromedp.ID("password"), otpw),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("secret")),
	)
	secret = strings.TrimSpace(b.text("#secret"))
	b.screenshot("enrol")
	used = time.Now()
	b.do("enrol",
		chromedp.SendKeys(chromedp.ID("newpassword"), password),
		chromedp.SendKeys(chromedp.ID("newpassword2"), password),
		chromedp.SendKeys(chromedp.ID("code"), totpCode(b.t, secret, used)),
		chromedp.Click(chromedp.ID("enrol")),
		chromedp.WaitVisible(chromedp.ID("logout")),
	)
	return secret, used
}

func (b *browser) login(base, username, password, code string) {
	b.t.Helper()
	b.do("login "+username,
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.ID("username"), username),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.SendKeys(chromedp.ID("code"), code),
	)
	// Wait for the page the form loads (the answer, or where it leads),
	// not the page the click left.
	get(b, "sign in "+username, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("signin"))))
}

func (b *browser) logout() {
	b.t.Helper()
	b.do("logout", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("signin")))
}

// TestConsoleInBrowser drives the console in a real headless Chromium: a
// supervisor's and an operator's first login (new password, TOTP key from
// the page's QR secret), a reused code refused, a canned answer written by
// the supervisor, a fake-Telegram message arriving live in the inbox, the
// operator's reply with the canned answer reaching the fake Bot API, and
// the delivery status updating. Every page is checked: no request leaves
// 127.0.0.1, every document has the CSP, no URL carries personal data.
func TestConsoleInBrowser(t *testing.T) {
	chromium(t)
	dir := filepath.Join(t.TempDir(), "data")
	unseal := mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	fake := channeltest.NewTelegramFake(testBotToken)
	t.Cleanup(fake.Close)
	const secret = "webhook-secret-for-tests"
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot",
		"--bot-token", testBotToken, "--webhook-secret", secret, "--api-url", fake.URL())
	out := mustRun(t, nil, "user", "add", "--data", dir, "--username", "ivan", "--role", "intake")
	ivanOTP := oneTimePassword.FindStringSubmatch(out)
	if ivanOTP == nil {
		t.Fatalf("user add printed no one-time password:\n%s", out)
	}
	out = mustRun(t, nil, "user", "add", "--data", dir, "--username", "maria", "--role", "supervisor")
	mariaOTP := oneTimePassword.FindStringSubmatch(out)
	mustApprove(t, dir, "maria", "ivan") // the console's approval, taken directly
	srv := mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal)
	base := "http://" + srv.addr
	hook := "http://" + srv.public + "/hooks/telegram/bot" // the fake provider posts to the public door

	b := newBrowser(t)
	b.do("login page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("signin")))
	b.screenshot("login")

	// The supervisor writes a canned answer with a placeholder.
	const mariaPW, ivanPW = "quiet river under grey birches", "tired operator night shift tea"
	b.firstLogin(base, "maria", mariaOTP[1], mariaPW)
	b.do("canned answer",
		chromedp.Navigate(base+"/canned"),
		chromedp.SetValue(chromedp.ID("canned-language"), "ru"),
		chromedp.SendKeys(chromedp.ID("canned-title"), "Первый ответ"),
		chromedp.SendKeys(chromedp.ID("canned-body"), "Здравствуйте, {имя}. Вы в безопасности, оператор на связи."),
		chromedp.Click(chromedp.ID("canned-save")),
		chromedp.WaitVisible(chromedp.CSS(".canned-list pre")),
	)
	b.screenshot("canned")
	// She puts the operator on shift from now, for eight hours, and the
	// coverage page shows the rest of the week's gaps.
	b.do("shift",
		chromedp.Navigate(base+"/shifts"),
		chromedp.SetValue(chromedp.ID("shift-start"), time.Now().In(kyiv(t)).Format("2006-01-02T15:04")), // her zone's wall clock
		chromedp.SetValue(chromedp.ID("shift-hours"), "8"),
		chromedp.Click(chromedp.ID("shift-save")),
		chromedp.WaitVisible(chromedp.CSS("#shift-table tbody td form")),
	)
	if got := b.text("#shift-table tbody"); !strings.Contains(got, "ivan") {
		t.Fatalf("shift table %q lacks ivan", got)
	}
	b.screenshot("shifts")
	b.do("coverage", chromedp.Navigate(base+"/coverage"), chromedp.WaitVisible(chromedp.CSS(".strip")))
	if got := b.text("#gap-list"); got == "" {
		t.Error("coverage shows no gaps beyond the one eight-hour shift")
	}
	b.screenshot("coverage")
	b.logout()

	// The operator enrols, signs out, and signs in again: the code of the
	// enrolment's step is refused (replay), the next step's is accepted.
	ivanSecret, used := b.firstLogin(base, "ivan", ivanOTP[1], ivanPW)
	b.logout()
	b.login(base, "ivan", ivanPW, totpCode(t, ivanSecret, used))
	if got := b.text(".error"); !strings.Contains(got, "Неправильне ім'я користувача, пароль або код") {
		t.Fatalf("reused TOTP code: page says %q, want a refusal", got)
	}
	// A failure costs a second's backoff (no lock-out): wait it out.
	time.Sleep(1100 * time.Millisecond)
	b.login(base, "ivan", ivanPW, totpCode(t, ivanSecret, used.Add(30*time.Second)))
	b.do("inbox", chromedp.WaitVisible(chromedp.ID("logout")), chromedp.Navigate(base+"/inbox?q=mine"), chromedp.WaitVisible(chromedp.ID("list")), chromedp.WaitVisible(chromedp.CSS(`body[data-live="on"]`)))
	// The interface switches to English for this operator, and back.
	b.do("to English", chromedp.Click(chromedp.CSS(`form[action="/settings/language"] button`)), chromedp.WaitVisible(chromedp.CSS(`body[data-lang="en"]`)))
	if got := b.text("header nav"); !strings.Contains(got, "Inbox") {
		t.Errorf("English navigation reads %q", got)
	}
	b.screenshot("inbox-en")
	b.do("to Ukrainian", chromedp.Click(chromedp.CSS(`form[action="/settings/language"] button`)), chromedp.WaitVisible(chromedp.CSS(`body[data-lang="uk"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-live="on"]`)))
	if got := get(b, "location", chromedp.Location()); !strings.HasSuffix(got, "/inbox?q=mine") {
		t.Errorf("after the switch the page is %s, want the same queue", got)
	}
	// Mark the page: if it reloads, the mark is gone.
	get(b, "mark page", chromedp.Evaluate[bool](`window.__noReload = true`))

	// A soldier writes; the message appears in the open inbox, live.
	const soldierText = "Здравствуйте. Я из 5-й роты, хочу сдаться."
	resp, err := channeltest.PostTelegram(hook, secret, channeltest.TelegramUpdate(7001, 100000991, soldierText))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	arrived := time.Now()
	b.do("message arrives live", chromedp.WaitVisible(chromedp.CSS("#list tr[data-conversation]")))
	if d := time.Since(arrived); d > 3*time.Second {
		t.Errorf("the message took %s to appear", d)
	}
	if !get(b, "no reload", chromedp.Evaluate[bool](`window.__noReload === true`)) {
		t.Fatal("the inbox reloaded instead of updating live")
	}
	b.screenshot("inbox")

	// The router gave it to the operator on shift: it is in his own queue.
	// He opens it and replies with the canned answer, filling in the
	// placeholder.
	b.do("open conversation",
		chromedp.Click(chromedp.CSS("#list a.open-conv")),
		chromedp.WaitVisible(chromedp.ID("reply-text")),
	)
	if got := b.text("#conv-assigned"); got != "ivan" {
		t.Errorf("conversation assigned to %q, want ivan (the router)", got)
	}
	if got := b.text("ol.history"); !strings.Contains(got, soldierText) {
		t.Fatalf("history %q lacks the soldier's message", got)
	}
	get(b, "choose canned", chromedp.Evaluate[bool](`(() => { const s = document.querySelector('#canned');
		s.value = s.querySelector('option[data-body]').value; return s.dispatchEvent(new Event('change')); })()`))
	draft := get(b, "draft", chromedp.Evaluate[string](`document.querySelector('#reply-text').value`))
	if !strings.Contains(draft, "{имя}") {
		t.Fatalf("canned answer not inserted: %q", draft)
	}
	// Sending with the placeholder unfilled is stopped in the page.
	b.do("send unfilled", chromedp.Click(chromedp.ID("send")), chromedp.WaitVisible(chromedp.ID("fill-hint")))
	reply := strings.Replace(draft, "{имя}", "Алексей", 1)
	b.do("send",
		chromedp.SetValue(chromedp.ID("reply-text"), reply),
		chromedp.Click(chromedp.ID("send")),
	)
	waitFor(t, "reply at the fake Telegram", srv.done, func() bool {
		for _, s := range fake.Sent() {
			if s.Text == reply && s.ChatID == 100000991 {
				return true
			}
		}
		return false
	})
	b.do("status sent", chromedp.WaitVisible(chromedp.CSS(`ol.history li:last-child [data-status="sent"]`)))

	// An internal note stays inside.
	b.do("note",
		chromedp.SendKeys(chromedp.ID("note-text"), "Проверить номер части."),
		chromedp.Click(chromedp.ID("add-note")),
		chromedp.WaitVisible(chromedp.CSS(".msg.note")),
	)
	for _, s := range fake.Sent() {
		if strings.Contains(s.Text, "Проверить") {
			t.Fatalf("a note reached the contact: %+v", s)
		}
	}

	// A photo arrives in the same conversation: the console shows it redrawn
	// (a PNG made from the stored JPEG), live.
	photo, err := os.ReadFile(filepath.Join("..", "..", "internal", "channel", "telegram", "testdata", "photo.json"))
	if err != nil {
		t.Fatal(err)
	}
	photo = []byte(strings.ReplaceAll(strings.ReplaceAll(string(photo), "6100000001", "100000991"), "700000103", "7002"))
	for _, id := range []string{"AgACAgIAAxkBAAIBZ2ZsmallAAFAKE_photo_s", "AgACAgIAAxkBAAIBZ2ZlargeAAFAKE_photo_y", "AgACAgIAAxkBAAIBZ2ZmedAAFAKE_photo_m"} {
		fake.AddFile(id, testJPEG(t))
	}
	resp, err = channeltest.PostTelegram(hook, secret, photo)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("photo webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	b.do("photo shown", chromedp.WaitVisible(chromedp.CSS("ol.history img.media")))
	// It loads, as a picture 64 pixels wide (Poll waits for a true answer).
	get(b, "photo decoded", chromedp.Poll[bool](`(() => { const i = document.querySelector('ol.history img.media'); return i.complete && i.naturalWidth === 64; })()`))
	b.screenshot("conversation")

	// On a phone: the conversation fits the screen's width, nothing to
	// scroll sideways.
	b.do("phone", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("reply-text")))
	if wide := get(b, "width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); wide > 392 {
		t.Errorf("on a 390-pixel phone the page is %d pixels wide", wide)
	}
	b.screenshot("conversation-phone")
	b.do("desktop", chromedp.ResetViewport())

	b.checkTraffic(soldierText, "100000991", "Алексей", ivanPW, mariaPW)
	channeltest.MustContainNone(t, "server log", srv.stderr.String(), "100000991", "хочу сдаться", ivanPW, mariaPW, "Алексей")
}

// testJPEG is a small invented picture, 64×48.
func testJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 120, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestConsoleUnsealInBrowser: a sealed server's console shows the unseal
// page whatever is asked; a mistyped share is refused by name; three
// custodians' shares unseal it, and the console moves on to the sign-in.
func TestConsoleUnsealInBrowser(t *testing.T) {
	chromium(t)
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"LIFELINE_INTAKE_KEY_FILE": filepath.Join(t.TempDir(), "intake")}
	shares := shareLine.FindAllStringSubmatch(mustRun(t, env, "init", "--data", dir), -1)
	if len(shares) != 5 {
		t.Fatalf("init printed %d shares, want 5", len(shares))
	}
	mustRun(t, env, "migrate", "--data", dir)
	srv := mustStartServe(t, env, "serve", "--data", dir, "--listen", "127.0.0.1:0")
	base := "http://" + srv.addr

	b := newBrowser(t)
	b.do("sealed", chromedp.Navigate(base+"/inbox"), chromedp.WaitVisible(chromedp.ID("share")))
	b.screenshot("unseal")
	typo := []byte(shares[0][1])
	typo[len(typo)-6] ^= 1 // one character off
	b.do("typo", chromedp.SendKeys(chromedp.ID("share"), string(typo)), chromedp.Submit(chromedp.ID("share")), chromedp.WaitVisible(chromedp.CSS(".error")))
	for i, sh := range shares[1:4] {
		// Each share is one form post: wait for the page it loads.
		b.do(fmt.Sprintf("type share %d", i+1), chromedp.SendKeys(chromedp.ID("share"), sh[1]))
		get(b, fmt.Sprintf("post share %d", i+1), chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Submit(chromedp.ID("share"))))
		if i < 2 {
			if got := b.text("#have"); got != fmt.Sprint(i+1) {
				t.Errorf("after share %d the page counts %q", i+1, got)
			}
		}
	}
	b.do("unsealed", chromedp.WaitVisible(chromedp.ID("signin")))
	if _, body := mustGet(t, base+"/readyz"); !strings.Contains(body, "keys: unsealed") {
		t.Errorf("readyz after the console's unseal: %q", body)
	}
	b.checkTraffic(shares[1][1], shares[2][1], shares[3][1])
	channeltest.MustContainNone(t, "server log", srv.stderr.String(), shares[1][1], shares[2][1], shares[3][1])
}
