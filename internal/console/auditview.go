// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// auditPageSize is how many entries the audit viewer shows at once.
const auditPageSize = 200

// systemEvents are the families of actions an admin reads in the audit
// log: the system's (accounts, sessions, keys, channels), never a case's.
var systemEvents = []string{"login.", "session.", "user.", "token.", "channel.", "team.", "keys.", "key.", "audit.", "approval."}

// auditVerdict is the latest verdict of the in-process verifier, kept a
// minute: the viewer may be reloaded often, and a verification reads the
// whole log.
type auditVerdict struct {
	mu     sync.Mutex
	at     time.Time
	report audit.Report
	err    error
}

const verdictTTL = time.Minute

func (c *Console) auditVerdictNow(ctx context.Context) (audit.Report, time.Time, error) {
	v := &c.verdicts
	v.mu.Lock()
	defer v.mu.Unlock()
	now := c.cfg.Now()
	if v.at.IsZero() || now.Sub(v.at) >= verdictTTL || now.Before(v.at) {
		v.report, v.err = c.cfg.VerifyAudit(ctx)
		v.at = now
	}
	return v.report, v.at, v.err
}

// auditReach is what of the audit log the session's role reads: all of it
// (auditor), the entries of his teams' members (supervisor), or the
// system's events (admin).
func (c *Console) auditReach(ctx context.Context, s *session, f *sqlstore.AuditFilter) error {
	switch lifeline.Allowed(s.Operator.Role, lifeline.ActionAuditRead) {
	case lifeline.GrantAll:
		return nil
	case lifeline.GrantTeam:
		mates, err := c.store.TeamMates(ctx, s.Operator.ID)
		if err != nil {
			return err
		}
		f.Actors = make([]string, len(mates))
		for i, m := range mates {
			f.Actors[i] = string(m)
		}
		return nil
	case lifeline.GrantSystemEvents:
		f.ActionPrefixes = systemEvents
		return nil
	}
	return lifeline.Errorf(lifeline.EFORBIDDEN, "Your role does not allow this.")
}

// auditPage is the audit viewer: entries filtered by actor, action,
// object and day (in the reader's zone), within his reach, newest first;
// the verifier's verdict for those who may verify; CSV of the same
// selection with ?format=csv. Reading it is itself audited.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	v := c.view(r, s, nil)
	q := r.URL.Query()
	f := sqlstore.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Object: q.Get("object"), Limit: auditPageSize}
	if b, err := strconv.ParseInt(q.Get("before"), 10, 64); err == nil && b > 0 {
		f.Before = b
	}
	for _, d := range []struct {
		field string
		into  *time.Time
		next  bool
	}{{"from", &f.From, false}, {"to", &f.To, true}} {
		if q.Get(d.field) == "" {
			continue
		}
		day, err := time.ParseInLocation("2006-01-02", q.Get(d.field), v.Zone)
		if err != nil {
			c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "Invalid date."))
			return
		}
		if d.next {
			day = day.AddDate(0, 0, 1) // to the end of the day named
		}
		*d.into = day
	}
	csvOut := q.Get("format") == "csv"
	if csvOut {
		f.Limit = sqlstore.MaxAuditPage
	}
	if err := c.auditReach(r.Context(), s, &f); err != nil {
		c.fail(w, r, s, err)
		return
	}
	entries, err := c.store.AuditEntries(r.Context(), f)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	// The reading is audited: what was asked (ids and codes only), not
	// what was shown.
	reason := "view"
	if csvOut {
		reason = "export"
	}
	if err := c.store.Audit(context.WithoutCancel(r.Context()), s.actor(r), "audit.read", f.Object, reason+" "+auditQuery(f)); err != nil {
		c.fail(w, r, s, err)
		return
	}
	ops, err := c.store.Operators(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	names := map[string]string{lifeline.ActorCLI: translate(v.L, "audit.cli"), lifeline.ActorSystem: translate(v.L, "audit.system"), "anonymous": translate(v.L, "audit.anonymous")}
	for _, o := range ops {
		names[string(o.ID)] = o.Username
	}
	if csvOut {
		c.auditCSV(w, entries, names)
		return
	}
	data := map[string]any{"Entries": entries, "Names": names, "Operators": ops, "Query": q, "Filter": f}
	if len(entries) == auditPageSize {
		next := url.Values{}
		for k, vs := range q {
			next[k] = vs
		}
		next.Set("before", strconv.FormatInt(entries[len(entries)-1].Seq, 10))
		data["Older"] = "/audit?" + next.Encode()
	}
	exp := url.Values{}
	for k, vs := range q {
		if k != "before" {
			exp[k] = vs
		}
	}
	exp.Set("format", "csv")
	data["CSV"] = "/audit?" + exp.Encode()
	if c.cfg.VerifyAudit != nil && lifeline.Allowed(s.Operator.Role, lifeline.ActionAuditVerify).Permitted() {
		rep, at, err := c.auditVerdictNow(r.Context())
		data["Verified"], data["VerifiedAt"] = true, at
		var p *audit.Problem
		switch {
		case err == nil:
			data["Report"] = rep
			data["Root"] = base64.StdEncoding.EncodeToString(rep.Root[:])
		case errors.As(err, &p):
			data["Problem"] = p.Error()
		default:
			c.logger.Error("audit verify", "error", err.Error())
			data["Unreadable"] = true
		}
	}
	c.render(w, r, s, "audit", http.StatusOK, data)
}

// auditQuery is a filter as the audit entry of its reading records it.
func auditQuery(f sqlstore.AuditFilter) string {
	q := url.Values{}
	for k, v := range map[string]string{"actor": f.Actor, "action": f.Action} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.From.IsZero() {
		q.Set("from", f.From.UTC().Format(time.RFC3339))
	}
	if !f.To.IsZero() {
		q.Set("to", f.To.UTC().Format(time.RFC3339))
	}
	return q.Encode()
}

// auditCSV writes entries as CSV, times in UTC (RFC 3339), each cell made
// safe for spreadsheets.
func (c *Console) auditCSV(w http.ResponseWriter, entries []audit.Entry, names map[string]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write([]string{"seq", "time_utc", "actor", "actor_name", "role", "action", "object", "decision", "reason", "request_id"})
	for _, e := range entries {
		cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), csvSafe(e.Actor), csvSafe(names[e.Actor]),
			csvSafe(e.Role), csvSafe(e.Action), csvSafe(e.Object), csvSafe(e.Decision), csvSafe(e.Reason), csvSafe(e.RequestID)})
	}
	cw.Flush()
}
