// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
)

// request sends one request with extra headers and a language cookie.
func (w *policyWorld) request(method, path string, form url.Values, actor, lang string, headers map[string]string) (*http.Response, string) {
	w.f.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, "https://console.example"+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if ck := w.cookies[actor]; ck != "" {
		req.AddCookie(&http.Cookie{Name: "__Host-lifeline", Value: ck})
	}
	if lang != "" {
		req.AddCookie(&http.Cookie{Name: "__Host-lifeline-lang", Value: lang})
	}
	rec := httptest.NewRecorder()
	w.f.handler.ServeHTTP(rec, req)
	resp := rec.Result()
	return resp, bodyOf(w.f.t, resp)
}

// TestErrorsArePagesInOperatorsLanguage: every refusal a person can meet
// (400, 401, 403 by role and by cross-site form, 404, 409, 503 sealed) is a
// whole page with the console's stylesheet, a title in words in his
// language, the reason in his language, and a link back to where he came
// from; never a bare status text, an English sentence on a Ukrainian page,
// nor "Помилка 409".
func TestErrorsArePagesInOperatorsLanguage(t *testing.T) {
	w := newPolicyWorld(t)
	ctx := context.Background()
	if err := w.f.db.SetUILanguage(ctx, w.ops["co"].ID, "en"); err != nil {
		t.Fatal(err)
	}
	free := string(w.convs["free"])
	cases := []struct {
		name          string
		method, path  string
		form          url.Values
		actor, lang   string
		headers       map[string]string
		seal          bool
		status        int
		title, reason string
		back          string
	}{
		{name: "400 shift start", method: "POST", path: "/shifts", form: url.Values{"operator": {string(w.ops["io"].ID)}, "stream": {"surrender"}, "start": {"tomorrow"}, "hours": {"8"}},
			actor: "sv", status: 400, title: "Запит не прийнято", reason: "Вкажіть початок як дату й час.", back: `href="/shifts" data-history-back`},
		{name: "401 reply after the session ended", method: "POST", path: "/c/" + free + "/reply", form: url.Values{"text": {"Добрый вечер"}},
			actor: "late", status: 401, title: "Потрібно ввійти", reason: "Ваш сеанс завершився", back: `href="/login"`},
		{name: "401 in English by the browser's language", method: "POST", path: "/c/" + free + "/note", form: url.Values{"text": {"n"}},
			actor: "anonymous", lang: "en", status: 401, title: "Please sign in", reason: "Your session has ended", back: `href="/login"`},
		{name: "403 role", method: "GET", path: "/inbox", actor: "au", status: 403, title: "Недоступно для вас", reason: "Ваша роль цього не дозволяє.", back: `href="/"`},
		{name: "403 cross-site form", method: "POST", path: "/canned", form: url.Values{"language": {"ru"}, "title": {"x"}, "body": {"y"}},
			actor: "sv", headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403, title: "Недоступно для вас", reason: "Запит прийшов з іншого сайту", back: `href="/canned" data-history-back`},
		{name: "404 conversation, English", method: "GET", path: "/c/00000000000000000000000000", actor: "co", status: 404, title: "Not found", reason: "No such conversation.", back: `href="/inbox" data-history-back`},
		{name: "404 case", method: "GET", path: "/cases/nosuchcase", actor: "sv", status: 404, title: "Не знайдено", reason: "Немає такої справи.", back: `href="/cases" data-history-back`},
		{name: "409 taken", method: "POST", path: "/c/" + string(w.convs["co"]) + "/take", actor: "co", status: 409, title: "Things have changed", reason: "Someone has taken this conversation already.", back: `href="/c/` + string(w.convs["co"]) + `" data-history-back`},
		{name: "503 sealed", method: "POST", path: "/c/" + free + "/note", form: url.Values{"text": {"n"}}, actor: "sv", seal: true, status: 503, title: "Тимчасово недоступно", reason: "Сервер запечатано", back: `href="/unseal"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.seal {
				w.f.keeper.Seal()
			}
			resp, body := w.request(c.method, c.path, c.form, c.actor, c.lang, c.headers)
			if resp.StatusCode != c.status {
				t.Fatalf("%d, want %d\n%s", resp.StatusCode, c.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q", ct)
			}
			for _, want := range []string{`<link rel="stylesheet" href="/static/app.css">`, "<h1>" + c.title + "</h1>", c.reason, c.back} {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks %q:\n%s", want, body)
				}
			}
			for _, bare := range []string{"Unauthorized", "Forbidden", "Помилка 4", "Помилка 5", "Error 4", "Status Conflict", "Internal Server Error"} {
				if strings.Contains(body, bare) {
					t.Errorf("the page shows %q", bare)
				}
			}
		})
	}
	// The cross-site refusal is audited as a denial, and changed nothing.
	if canned, err := w.f.db.CannedAnswers(ctx); err != nil || len(canned) != 0 {
		t.Errorf("canned answers after the refused post: %v %v", canned, err)
	}
	var found bool
	for _, a := range w.f.auditActions("deny") {
		found = found || strings.HasPrefix(a, "console.cross_origin:")
	}
	if !found {
		t.Errorf("cross-site refusal not audited: %v", w.f.auditActions("deny"))
	}
	_ = lifeline.CLIActor
}
