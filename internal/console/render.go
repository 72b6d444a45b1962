// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

// parsePages parses each page template together with the layout and the
// partials, so that a page can name its blocks and a fragment handler can
// render one block alone.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"t":           translate,
		"mediaReason": mediaReason,
		"clock":       func(t time.Time) string { return t.UTC().Format("15:04:05") },
		"day":         func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"ms":          func(t time.Time) int64 { return t.UnixMilli() },
		"undoUntil":   func(t time.Time) time.Time { return t.Add(lifeline.UndoWindow) },
		"langs":       lifeline.Languages,
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
}

func (c *Console) view(r *http.Request, s *session, data map[string]any) view {
	v := view{L: "uk", Me: s, Data: data, Request: web.RequestID(r.Context())}
	if s != nil && (s.UILanguage == "en" || s.UILanguage == "uk") {
		v.L = s.UILanguage
	}
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
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers an error with a page that says what went wrong in words
// an operator can act on; internal details go to the log only.
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
	c.render(w, r, s, "error", status, map[string]any{"Error": lifeline.ErrorMessage(err), "Status": status})
}
