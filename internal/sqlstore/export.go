// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Document is a document or piece of evidence on a case. Original and
// Rendition are filled only by Document, and only as asked.
type Document struct {
	ID         string
	Case       lifeline.CaseID
	Person     lifeline.PersonID
	Kind       string // passport, military_id, photo, scan, other
	MIME       string
	Size       int64
	CreatedDay lifeline.Day
	HasPreview bool
	Original   []byte
	Rendition  []byte
}

// DocumentKinds are the kinds of documents a case holds.
var DocumentKinds = []string{"passport", "military_id", "photo", "scan", "other"}

func documentAAD(id, column string) seal.AAD {
	return seal.AAD{Table: "documents", Column: column, Row: id}
}

// AddDocument stores a document on a case: the original and its sanitised
// rendition (nil if the type has none), both sealed (identity).
func (db *DB) AddDocument(ctx context.Context, by lifeline.Actor, d *Document) error {
	ok := false
	for _, k := range DocumentKinds {
		ok = ok || k == d.Kind
	}
	if !ok {
		return lifeline.Errorf(lifeline.EINVALID, "Unknown kind of document.")
	}
	if len(d.Original) == 0 {
		return lifeline.Errorf(lifeline.EINVALID, "The document is empty.")
	}
	d.ID, d.Size = string(lifeline.NewID()), int64(len(d.Original))
	return db.audited(ctx, by, "document.add", string(d.Case)+" "+d.ID, d.Kind, func(tx *Tx) error {
		if _, err := caseInTx(tx, d.Case); err != nil {
			return err
		}
		dk, err := db.sealingKey(tx, caseOwner(d.Case), "", seal.CompartmentIdentity)
		if err != nil {
			return unavailable(err)
		}
		orig, err := seal.Encrypt(dk, documentAAD(d.ID, "original"), d.Original)
		if err != nil {
			return err
		}
		var rend []byte
		if d.Rendition != nil {
			if rend, err = seal.Encrypt(dk, documentAAD(d.ID, "rendition"), d.Rendition); err != nil {
				return err
			}
		}
		d.CreatedDay = lifeline.DayOf(tx.Now())
		if _, err := tx.Exec(`INSERT INTO documents (id, case_id, person_id, kind, mime, size, original, rendition, created_by, created_day)
			VALUES (?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?)`, d.ID, d.Case, d.Person, d.Kind, d.MIME, d.Size, orig, rend, by.ID, d.CreatedDay.String()); err != nil {
			return err
		}
		return db.addEvent(tx, by, d.Case, "document", "", d.Kind, seal.CompartmentIdentity, "")
	})
}

// Documents lists a case's documents, without their content.
func (db *DB) Documents(ctx context.Context, caseID lifeline.CaseID) ([]Document, error) {
	var out []Document
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (d Document, err error) {
			var day string
			var person sql.NullString
			if err = rows.Scan(&d.ID, &d.Case, &person, &d.Kind, &d.MIME, &d.Size, &d.HasPreview, &day); err == nil {
				d.Person = lifeline.PersonID(person.String)
				d.CreatedDay, err = lifeline.ParseDay(day)
			}
			return d, err
		}, `SELECT id, case_id, person_id, kind, mime, size, rendition IS NOT NULL, created_day FROM documents WHERE case_id = ? ORDER BY rowid`, caseID)
		return err
	})
	return out, err
}

// Document opens one document of a case: the rendition, and the original
// only if original is true (the verification officer). ENOTFOUND if the
// case has no such document.
func (db *DB) Document(ctx context.Context, caseID lifeline.CaseID, id string, original bool) (*Document, error) {
	var d Document
	err := db.Read(ctx, func(tx *Tx) error {
		var orig, rend []byte
		var day string
		var person sql.NullString
		err := tx.QueryRow(`SELECT id, case_id, person_id, kind, mime, size, original, rendition, created_day FROM documents WHERE id = ? AND case_id = ?`, id, caseID).
			Scan(&d.ID, &d.Case, &person, &d.Kind, &d.MIME, &d.Size, &orig, &rend, &day)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such document.")
		}
		if err != nil {
			return err
		}
		d.Person, d.HasPreview = lifeline.PersonID(person.String), rend != nil
		if d.CreatedDay, err = lifeline.ParseDay(day); err != nil {
			return err
		}
		if rend != nil {
			if d.Rendition, err = db.openField(tx, documentAAD(d.ID, "rendition"), rend); err != nil {
				return err
			}
		}
		if original {
			if d.Original, err = db.openField(tx, documentAAD(d.ID, "original"), orig); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return &d, nil
}

// Export is a two-person export request.
type Export struct {
	ID            string
	Kind          string // exchange_list
	Format        string // csv, json
	RequestedBy   lifeline.OperatorID
	RequestedName string
	ApprovedBy    lifeline.OperatorID
	ApprovedName  string
	State         string // requested, approved, downloaded
	Day           lifeline.Day
	// DownloadedBy made the file, at DownloadedAt; he alone may make it
	// again until DownloadedAt + RedownloadWindow (a download that failed
	// on the way).
	DownloadedBy lifeline.OperatorID
	DownloadedAt time.Time
}

// RedownloadWindow is how long after making an export the same person may
// make it again: long enough to retry a download that broke off, short
// enough that the list is not a standing copy.
const RedownloadWindow = 10 * time.Minute

// CanRedownload reports whether who may download x again at now.
func (x *Export) CanRedownload(who lifeline.OperatorID, now time.Time) bool {
	return x.State == "downloaded" && who != "" && x.DownloadedBy == who && now.Before(x.DownloadedAt.Add(RedownloadWindow))
}

// RequestExport asks for the exchange list in a format; a second person
// must approve it before anyone can download it.
func (db *DB) RequestExport(ctx context.Context, by lifeline.Actor, format string) (*Export, error) {
	if format != "csv" && format != "json" {
		return nil, lifeline.Errorf(lifeline.EINVALID, "An export is CSV or JSON.")
	}
	e := &Export{ID: string(lifeline.NewID()), Kind: "exchange_list", Format: format, RequestedBy: lifeline.OperatorID(by.ID), State: "requested"}
	err := db.audited(ctx, by, "export.request", e.ID, e.Kind+" "+format, func(tx *Tx) error {
		e.Day = lifeline.DayOf(tx.Now())
		_, err := tx.Exec(`INSERT INTO exports (id, kind, format, requested_by, state, created_day) VALUES (?, ?, ?, ?, 'requested', ?)`,
			e.ID, e.Kind, e.Format, by.ID, e.Day.String())
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// ApproveExport is the second person's approval: EFORBIDDEN for the one
// who asked and for an account that counts as the same person
// (lifeline.SecondPerson), ECONFLICT if it is not waiting for approval.
func (db *DB) ApproveExport(ctx context.Context, by lifeline.Actor, id string) error {
	return db.audited(ctx, by, "export.approve", id, "", func(tx *Tx) error {
		var requester, state string
		err := tx.QueryRow(`SELECT requested_by, state FROM exports WHERE id = ?`, id).Scan(&requester, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such export.")
		}
		if err != nil {
			return err
		}
		if requester == by.ID {
			return lifeline.Errorf(lifeline.EFORBIDDEN, "A second person must approve an export: not the one who asked for it.")
		}
		if state != "requested" {
			return lifeline.Errorf(lifeline.ECONFLICT, "This export is %s.", state)
		}
		if err := secondPerson(tx, lifeline.OperatorID(requester), by); err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE exports SET state = 'approved', approved_by = ? WHERE id = ?`, by.ID, id)
		return err
	})
}

// Exports lists the export requests, newest first.
func (db *DB) Exports(ctx context.Context) ([]Export, error) {
	var out []Export
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (e Export, err error) {
			var day string
			var by, dlBy, dlAt sql.NullString
			if err = rows.Scan(&e.ID, &e.Kind, &e.Format, &e.RequestedBy, &e.RequestedName, &by, &e.ApprovedName, &e.State, &day, &dlBy, &dlAt); err == nil {
				e.ApprovedBy = lifeline.OperatorID(by.String)
				if e.Day, err = lifeline.ParseDay(day); err == nil {
					err = e.setDownloaded(dlBy, dlAt)
				}
			}
			return e, err
		}, `SELECT x.id, x.kind, x.format, x.requested_by, r.username, x.approved_by, COALESCE(a.username, ''), x.state, x.created_day, x.downloaded_by, x.downloaded_at
			FROM exports x JOIN operators r ON r.id = x.requested_by LEFT JOIN operators a ON a.id = x.approved_by ORDER BY x.rowid DESC LIMIT 100`)
		return err
	})
	return out, err
}

// ExchangeRow is one person on the exchange list: the minimum the
// negotiators need, nothing more.
type ExchangeRow struct {
	CodeName  string
	Name      string
	BirthDate string
	Rank      string
	Unit      string
}

func (e *Export) setDownloaded(by, at sql.NullString) error {
	e.DownloadedBy = lifeline.OperatorID(by.String)
	if at.Valid {
		t, err := parseTime(at.String)
		if err != nil {
			return err
		}
		e.DownloadedAt = t
	}
	return nil
}

// ExchangeList makes an approved export once, for one of the two people
// who asked for or approved it: the applicants of open cases who chose
// exchange. The export is marked downloaded, by whom and when; the same
// person may make it again within RedownloadWindow (a download that broke
// off), nobody else and never after: a later download needs a new request.
// Each is audited with the number of rows and never their content.
func (db *DB) ExchangeList(ctx context.Context, by lifeline.Actor, id string) (*Export, []ExchangeRow, error) {
	var e Export
	var rows []ExchangeRow
	err := db.Write(ctx, func(tx *Tx) error {
		var day string
		var approved, dlBy, dlAt sql.NullString
		err := tx.QueryRow(`SELECT x.id, x.kind, x.format, x.requested_by, r.username, x.approved_by, COALESCE(a.username, ''), x.state, x.created_day, x.downloaded_by, x.downloaded_at
			FROM exports x JOIN operators r ON r.id = x.requested_by LEFT JOIN operators a ON a.id = x.approved_by WHERE x.id = ?`, id).
			Scan(&e.ID, &e.Kind, &e.Format, &e.RequestedBy, &e.RequestedName, &approved, &e.ApprovedName, &e.State, &day, &dlBy, &dlAt)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such export.")
		}
		if err != nil {
			return err
		}
		e.ApprovedBy = lifeline.OperatorID(approved.String)
		if e.Day, err = lifeline.ParseDay(day); err != nil {
			return err
		}
		if err := e.setDownloaded(dlBy, dlAt); err != nil {
			return err
		}
		action := "export.download"
		switch {
		case e.State == "approved":
		case e.CanRedownload(lifeline.OperatorID(by.ID), tx.Now()):
			action = "export.redownload"
		case e.State == "downloaded" && e.DownloadedBy == lifeline.OperatorID(by.ID):
			return lifeline.Errorf(lifeline.ECONFLICT, "This export was downloaded more than %d minutes ago: ask for a new one.", int(RedownloadWindow/time.Minute))
		default:
			return lifeline.Errorf(lifeline.ECONFLICT, "This export is %s: it needs a second person's approval, and is made once.", e.State)
		}
		if by.ID != string(e.RequestedBy) && by.ID != string(e.ApprovedBy) {
			return lifeline.Errorf(lifeline.EFORBIDDEN, "Only the two people of an export may download it.")
		}
		type prow struct {
			code string
			pid  lifeline.PersonID
			ct   []byte
		}
		ps, err := queryAll(tx, func(r *sql.Rows) (p prow, err error) { return p, r.Scan(&p.code, &p.pid, &p.ct) },
			`SELECT c.code_name, p.id, p.data FROM cases c JOIN persons p ON p.case_id = c.id AND p.relation = 'applicant'
			WHERE c.exchange_choice = 'exchange' AND c.status NOT IN ('closed', 'withdrawn', 'rejected') ORDER BY c.code_name`)
		if err != nil {
			return err
		}
		for _, p := range ps {
			var d personData
			if err := db.openJSON(tx, personAAD(p.pid), p.ct, &d); err != nil {
				return err
			}
			rows = append(rows, ExchangeRow{CodeName: p.code, Name: d.Name, BirthDate: d.BirthDate, Rank: d.Rank, Unit: d.Unit})
		}
		if action == "export.download" {
			// The window runs from the first download: retries do not
			// extend it.
			e.State, e.DownloadedBy, e.DownloadedAt = "downloaded", lifeline.OperatorID(by.ID), tx.Now().UTC()
			if _, err := tx.Exec(`UPDATE exports SET state = 'downloaded', downloaded_by = ?, downloaded_at = ? WHERE id = ?`,
				by.ID, formatTime(e.DownloadedAt), id); err != nil {
				return err
			}
		}
		_, err = AppendAudit(tx, auditEntry(by, action, id, "rows="+itoa(len(rows))))
		return err
	})
	if err != nil {
		return nil, nil, unavailable(err)
	}
	return &e, rows, nil
}

func auditEntry(by lifeline.Actor, action, object, reason string) audit.Entry {
	return audit.Entry{Actor: by.ID, Role: string(by.Role), Action: action, Object: object,
		Decision: audit.DecisionAllow, Reason: reason, RequestID: by.RequestID}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Erasure is a request to erase a case, waiting for a second supervisor.
type Erasure struct {
	ID            string
	Case          lifeline.CaseID
	Person        lifeline.PersonID // "" for the whole case
	CodeName      string
	RequestedBy   lifeline.OperatorID
	RequestedName string
	State         string // requested, done
	Day           lifeline.Day
}

// RequestErasure asks for a case, or one person of it (person not ""), to
// be erased; a second supervisor must confirm (ConfirmErasure). The reason
// goes to the audit log.
func (db *DB) RequestErasure(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, person lifeline.PersonID, reason string) (*Erasure, error) {
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	e := &Erasure{ID: string(lifeline.NewID()), Case: id, Person: person, RequestedBy: lifeline.OperatorID(by.ID), State: "requested"}
	err := db.audited(ctx, by, "case.shred_request", string(id)+" "+string(person), reason, func(tx *Tx) error {
		c, err := caseInTx(tx, id)
		if err != nil {
			return err
		}
		if person != "" {
			var n int
			if err := tx.QueryRow(`SELECT COUNT(*) FROM persons WHERE id = ? AND case_id = ?`, person, id).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return lifeline.Errorf(lifeline.ENOTFOUND, "No such person in this case.")
			}
		}
		e.CodeName, e.Day = c.CodeName, lifeline.DayOf(tx.Now())
		var pending int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM erasures WHERE case_id = ? AND COALESCE(person_id, '') = ? AND state = 'requested'`, id, person).Scan(&pending); err != nil {
			return err
		}
		if pending > 0 {
			return lifeline.Errorf(lifeline.ECONFLICT, "This erasure already waits for a second supervisor.")
		}
		_, err = tx.Exec(`INSERT INTO erasures (id, case_id, person_id, code_name, requested_by, state, created_day) VALUES (?, ?, NULLIF(?, ''), ?, ?, 'requested', ?)`,
			e.ID, id, person, c.CodeName, by.ID, e.Day.String())
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// ConfirmErasure is the second supervisor's confirmation: the case is
// crypto-shredded (ShredCase). EFORBIDDEN for the one who asked and for an
// account that counts as the same person (lifeline.SecondPerson).
func (db *DB) ConfirmErasure(ctx context.Context, by lifeline.Actor, id string) error {
	var e Erasure
	err := db.Read(ctx, func(tx *Tx) error {
		var person sql.NullString
		err := tx.QueryRow(`SELECT id, case_id, person_id, requested_by, state FROM erasures WHERE id = ?`, id).Scan(&e.ID, &e.Case, &person, &e.RequestedBy, &e.State)
		e.Person = lifeline.PersonID(person.String)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return lifeline.Errorf(lifeline.ENOTFOUND, "No such erasure.")
	}
	if err != nil {
		return err
	}
	if string(e.RequestedBy) == by.ID {
		return lifeline.Errorf(lifeline.EFORBIDDEN, "A second supervisor must confirm an erasure: not the one who asked for it.")
	}
	if e.State != "requested" {
		return lifeline.Errorf(lifeline.ECONFLICT, "This erasure is %s.", e.State)
	}
	if err := db.Read(ctx, func(tx *Tx) error { return secondPerson(tx, e.RequestedBy, by) }); err != nil {
		return err
	}
	if e.Person != "" {
		err = db.shredPerson(ctx, by, e.Case, e.Person, "erasure "+e.ID+" confirmed")
	} else {
		err = db.ShredCase(ctx, by, e.Case, "erasure "+e.ID+" confirmed")
	}
	if err != nil {
		return err
	}
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE erasures SET state = 'done', confirmed_by = ? WHERE id = ?`, by.ID, id)
		return err
	})
}

// Erasures lists erasures waiting for a second supervisor.
func (db *DB) Erasures(ctx context.Context) ([]Erasure, error) {
	var out []Erasure
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (e Erasure, err error) {
			var day string
			var person sql.NullString
			if err = rows.Scan(&e.ID, &e.Case, &person, &e.CodeName, &e.RequestedBy, &e.RequestedName, &e.State, &day); err == nil {
				e.Person = lifeline.PersonID(person.String)
				e.Day, err = lifeline.ParseDay(day)
			}
			return e, err
		}, `SELECT x.id, x.case_id, x.person_id, x.code_name, x.requested_by, o.username, x.state, x.created_day FROM erasures x
			JOIN operators o ON o.id = x.requested_by WHERE x.state = 'requested' ORDER BY x.rowid`)
		return err
	})
	return out, err
}

// shredPerson erases one person of a case: his row, his numbers' buckets,
// his place in operations and his documents go, and his data key is
// destroyed (crypto-shredding: copies in backups die with it); then the WAL
// is checkpointed so that no page of him lingers there.
func (db *DB) shredPerson(ctx context.Context, by lifeline.Actor, caseID lifeline.CaseID, person lifeline.PersonID, reason string) error {
	var shredded []seal.KeyID
	err := db.audited(ctx, by, "person.shred", string(caseID)+" "+string(person), reason, func(tx *Tx) error {
		for _, q := range []string{
			`DELETE FROM operation_persons WHERE person_id = ?`,
			`DELETE FROM documents WHERE person_id = ?`,
			`DELETE FROM person_buckets WHERE person_id = ?`,
			`DELETE FROM persons WHERE id = ?`,
		} {
			if _, err := tx.Exec(q, person); err != nil {
				return fmt.Errorf("shred person: %w", err)
			}
		}
		var err error
		shredded, err = db.deleteDataKeys(tx, personOwner(person))
		if err != nil {
			return err
		}
		return db.addEvent(tx, by, caseID, "erasure", "", "person", seal.CompartmentIdentity, "")
	})
	if err != nil {
		return err
	}
	if db.sealer != nil {
		db.sealer.Forget(shredded...)
	}
	return db.CheckpointWAL(ctx)
}
