// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// exportsPage lists export requests: a supervisor asks, a second one
// approves, and one of the two downloads the file once.
func (c *Console) exportsPage(w http.ResponseWriter, r *http.Request, s *session) {
	xs, err := c.store.Exports(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	// Minutes left to download again, for the exports this operator made.
	again := map[string]int{}
	now := c.cfg.Now()
	for _, x := range xs {
		if x.CanRedownload(s.Operator.ID, now) {
			again[x.ID] = int((x.DownloadedAt.Add(sqlstore.RedownloadWindow).Sub(now) + time.Minute - 1) / time.Minute) // rounded up
		}
	}
	c.render(w, r, s, "exports", http.StatusOK, map[string]any{"Exports": xs, "SteppedUp": c.steppedUp(s), "Again": again})
}

// requestExport asks for an export, after a fresh step-up (SECURITY.md
// §2.6), taken from the form's code if the session has none.
func (c *Console) requestExport(w http.ResponseWriter, r *http.Request, s *session) {
	if f := r.PostFormValue("format"); f != "csv" && f != "json" {
		c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "An export is CSV or JSON."))
		return
	}
	if !c.steppedUp(s) {
		if err := c.stepUp(r, s, "export"); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	if _, err := c.store.RequestExport(context.WithoutCancel(r.Context()), s.actor(r), r.PostFormValue("format")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/exports", http.StatusSeeOther)
}

// approveExport is the second person's approval, after a fresh step-up
// of his own.
func (c *Console) approveExport(w http.ResponseWriter, r *http.Request, s *session) {
	if !lifeline.ID(r.PathValue("id")).Valid() {
		c.fail(w, r, s, lifeline.Errorf(lifeline.ENOTFOUND, "No such export."))
		return
	}
	if !c.steppedUp(s) {
		if err := c.stepUp(r, s, r.PathValue("id")); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	if err := c.store.ApproveExport(context.WithoutCancel(r.Context()), s.actor(r), r.PathValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/exports", http.StatusSeeOther)
}

// downloadExport makes the exchange list once, watermarked with who asked,
// who approved and when, as CSV or JSON; the one who made it may make it
// again for a short while (sqlstore.RedownloadWindow), if it broke off.
func (c *Console) downloadExport(w http.ResponseWriter, r *http.Request, s *session) {
	x, rows, err := c.store.ExchangeList(context.WithoutCancel(r.Context()), s.actor(r), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	mark := fmt.Sprintf("Lifeline exchange list %s, asked by %s, approved by %s, made %s UTC. Confidential: for the exchange negotiators only.",
		x.ID, x.RequestedName, x.ApprovedName, c.cfg.Now().UTC().Format(time.DateTime))
	w.Header().Set("Cache-Control", "no-store")
	name := "exchange-list-" + x.ID
	if x.Format == "json" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.json"`)
		type person struct {
			CodeName  string `json:"code_name"`
			Name      string `json:"name"`
			BirthDate string `json:"birth_date"`
			Rank      string `json:"rank"`
			Unit      string `json:"unit"`
		}
		out := struct {
			Watermark string   `json:"watermark"`
			Persons   []person `json:"persons"`
		}{Watermark: mark, Persons: []person{}}
		for _, p := range rows {
			out.Persons = append(out.Persons, person(p))
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"# " + mark})
	cw.Write([]string{"code_name", "name", "birth_date", "rank", "unit"})
	for _, p := range rows {
		cw.Write([]string{csvSafe(p.CodeName), csvSafe(p.Name), csvSafe(p.BirthDate), csvSafe(p.Rank), csvSafe(p.Unit)})
	}
	cw.Flush()
}

// csvSafe defuses a cell a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

// requestErasure asks for the case to be erased; a second supervisor
// confirms on the case list.
func (c *Console) requestErasure(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	person := lifeline.PersonID(r.PostFormValue("person"))
	if _, err := c.store.RequestErasure(context.WithoutCancel(r.Context()), s.actor(r), v.Case.ID, person, strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		return err
	}
	http.Redirect(w, r, "/cases", http.StatusSeeOther)
	return nil
}

// confirmErasure is the second supervisor's confirmation: the case is
// crypto-shredded.
func (c *Console) confirmErasure(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.store.ConfirmErasure(context.WithoutCancel(r.Context()), s.actor(r), r.PathValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/cases", http.StatusSeeOther)
}
