// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

// named is a name of the program's own lists (a label, a category) in
// lang: one written "Ukrainian · English" (as the seeded categories are)
// shows the half of the operator's language; any other as written.
func named(lang, name string) string {
	uk, en, ok := strings.Cut(name, " · ")
	if !ok || strings.Contains(en, " · ") {
		return name
	}
	if lang == "en" {
		return en
	}
	return uk
}

// coords is a location's coordinates: the first line of its text.
func coords(s lifeline.Sensitive) string {
	first, _, _ := strings.Cut(s.Reveal(), "\n")
	return first
}

// geoCoords is a latitude and a longitude as channel.Location.Text writes
// them: nothing else goes into a geo: link.
var geoCoords = regexp.MustCompile(`^-?[0-9]{1,3}(\.[0-9]+)?, -?[0-9]{1,3}(\.[0-9]+)?$`)

// parsePages parses each page template together with the layout and the
// partials, so that a page can name its blocks and a fragment handler can
// render one block alone.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"t":           translate,
		"named":       named,
		"mediaReason": mediaReason,
		"clock":       func(t time.Time) string { return t.UTC().Format("15:04:05") },
		"day":         func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"ms":          func(t time.Time) int64 { return t.UnixMilli() },
		"undoUntil":   func(t time.Time) time.Time { return t.Add(lifeline.UndoWindow) },
		"langs":       lifeline.Languages,
		// coords is a location's coordinates, the first line of its text
		// (channel.Location.Text); geo is them as a geo: URI, which opens
		// the operator's own map application and no map from any host.
		"coords": coords,
		"geo": func(s lifeline.Sensitive) template.URL {
			if c := coords(s); geoCoords.MatchString(c) {
				return template.URL("geo:" + strings.ReplaceAll(c, " ", ""))
			}
			return ""
		},
		"relations": func() []lifeline.Relation {
			return []lifeline.Relation{lifeline.RelationApplicant, lifeline.RelationSpouse, lifeline.RelationChild, lifeline.RelationParent, lifeline.RelationSibling, lifeline.RelationOther}
		},
		"flags": func() []string {
			return []string{sqlstore.FlagProvocation, sqlstore.FlagInconsistent, sqlstore.FlagDuplicate}
		},
		"outcomes": func() []string {
			return []string{sqlstore.OutcomeCaptured, sqlstore.OutcomeNotArrived, sqlstore.OutcomeWithdrew}
		},
		"pseudonym": func(id lifeline.ContactID) string {
			return pseudonym(id)
		},
	}
	for k, f := range zoneFuncs() {
		funcs[k] = f
	}
	funcs["n"] = plural
	funcs["word"] = word
	funcs["code"] = argWord
	names, err := templateFS.ReadDir("templates")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, e := range names {
		name := e.Name()
		if name == "layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		pages[name[:len(name)-len(path.Ext(name))]] = t
	}
	return pages, nil
}

// view is what every page template gets.
type view struct {
	L        string // the interface language: uk or en
	Me       *session
	Floor    bool // the operator runs the floor: canned answers, shifts, coverage
	Cases    bool // the operator works on cases
	Exports  bool // the operator may ask for and approve exports
	Held     bool // the operator releases or rejects replies held for a supervisor
	Accounts bool // the operator sees accounts and role changes waiting for approval
	Tokens   bool // the operator may make API tokens of his own
	Search   bool // the operator may search the conversations he may read
	Data     map[string]any
	Request  string // the request id, to quote to the admin
	Audit    bool   // the operator reads the audit log
	Inbox    bool   // the operator works the inbox

	Zone      *time.Location // the operator's time zone
	ZoneLabel string         // its name, in his language
}

func (c *Console) view(r *http.Request, s *session, data map[string]any) view {
	v := view{L: "uk", Me: s, Data: data, Request: web.RequestID(r.Context())}
	switch {
	case s != nil && (s.UILanguage == "en" || s.UILanguage == "uk"):
		v.L = s.UILanguage
	case s == nil:
		if ck, err := r.Cookie(langCookie); err == nil && (ck.Value == "en" || ck.Value == "uk") {
			v.L = ck.Value
		}
	}
	tz := ""
	if s != nil {
		tz = s.TimeZone
	}
	v.Zone, v.ZoneLabel = zoneOf(v.L, tz)
	v.Audit = s != nil && permit(s, Access{Action: lifeline.ActionAuditRead})
	v.Inbox = s != nil && permit(s, Access{Action: lifeline.ActionSeeNewContacts})
	v.Floor = s != nil && permit(s, Access{Action: lifeline.ActionFloorManage})
	v.Cases = s != nil && permit(s, Access{Action: lifeline.ActionSearchContact}) && s.Operator.Role != lifeline.RoleIntake
	v.Exports = s != nil && permit(s, Access{Action: lifeline.ActionExport})
	v.Held = s != nil && s.Stage == sqlstore.StageFull && canDecideHeld(s)
	v.Accounts = s != nil && permit(s, Access{Action: lifeline.ActionUserCreate})
	v.Tokens = s != nil && permit(s, Access{Action: lifeline.ActionReadConversation})
	v.Search = s != nil && permit(s, Access{Action: lifeline.ActionReadConversation})
	return v
}

// render writes a whole page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, page string, status int, data map[string]any) {
	c.renderBlock(w, r, s, page, "layout.html", status, data)
}

// renderBlock writes one named template of a page: the layout for a whole
// page, a block for a fragment that live updates fetch.
func (c *Console) renderBlock(w http.ResponseWriter, r *http.Request, s *session, page, block string, status int, data map[string]any) {
	t, ok := c.pages[page]
	if !ok {
		panic("console: no page " + page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, c.view(r, s, data)); err != nil {
		c.logger.Error("render", "page", page, "error", err.Error())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, renderFailed)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers an error with a page that says what went wrong in words
// an operator can act on, in his language, with a way back; internal
// details go to the log only.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status := map[string]int{
		lifeline.EINVALID:      http.StatusBadRequest,
		lifeline.ENOTFOUND:     http.StatusNotFound,
		lifeline.ECONFLICT:     http.StatusConflict,
		lifeline.EUNAUTHORIZED: http.StatusUnauthorized,
		lifeline.EFORBIDDEN:    http.StatusForbidden,
		lifeline.EUNAVAILABLE:  http.StatusServiceUnavailable,
	}[lifeline.ErrorCode(err)]
	if status == 0 {
		status = http.StatusInternalServerError
		c.logger.Error("console", "route", r.Pattern, "error", err.Error())
	}
	c.errorPage(w, r, s, status, errorText(c.view(r, s, nil).L, err))
}

// errorPage writes an error page: a title for the status in words (never
// its number alone), the message, and a link back where the operator came
// from (the page's script goes back in the history, which keeps a form's
// text) or, signed out or sealed, to where he can go on.
func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, text string) {
	back, label := backOf(r), "back"
	switch {
	case status == http.StatusServiceUnavailable && c.cfg.Keys.Sealed():
		back, label = "/unseal", "unseal.submit"
	case s == nil && status == http.StatusUnauthorized:
		back, label = "/login", "error.signin"
	case s != nil && s.Stage == sqlstore.StageEnrol:
		back, label = "/enrol", "enrol.go"
	}
	c.render(w, r, s, "error", status, map[string]any{"Error": text, "Status": status, "Back": back, "BackLabel": label})
}

// backOf is the page a failed request came from, or the nearest page
// that lists what it was about: the conversation or case of a form posted
// on it, the list of a page that failed, else the start page.
func backOf(r *http.Request) string {
	id := r.PathValue("id")
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	first := parts[0]
	post := r.Method != http.MethodGet
	switch {
	case first == "c" && id != "" && post:
		return "/c/" + url.PathEscape(id)
	case first == "cases" && id != "" && post:
		return "/cases/" + url.PathEscape(id)
	case first == "c" || first == "media":
		return "/inbox"
	case first == "cases" || first == "erasures":
		return "/cases"
	case first == "staff":
		return "/shifts"
	case first == "audit":
		return "/audit"
	}
	switch first {
	case "held", "shifts", "canned", "exports", "approvals", "tokens", "questionnaire", "coverage", "inbox", "settings":
		if post || len(parts) > 1 {
			return "/" + first
		}
	}
	return "/"
}

// renderFailed is the page of a template that failed: a bug, so words in
// both languages and nothing that could fail again.
const renderFailed = `<!doctype html><html lang="uk"><head><meta charset="utf-8"><title>Лінія життя · Lifeline</title>` +
	`<link rel="stylesheet" href="/static/app.css"></head><body><main><section class="card narrow">` +
	`<h1>Сторінку не вдалося показати · The page could not be shown</h1>` +
	`<p class="error" role="alert">Спробуйте ще раз або поверніться до вхідних. · Try again, or go back to the inbox.</p>` +
	`<p><a href="/inbox">Вхідні · Inbox</a></p></section></main></body></html>`
