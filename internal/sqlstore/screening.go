// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// ScreeningItems is the structured checklist of screening: what the
// verification officer confirms before a verdict.
var ScreeningItems = []string{
	"identity_consistent",  // names, birth date and documents agree
	"unit_confirmed",       // the unit exists and is where he says
	"service_number_valid", // the service number has the unit's form
	"story_consistent",     // the account holds across conversations
	"contact_safe",         // the channel is his own and not watched
	"no_duplicate",         // no other case shares his numbers
}

// Risk flags a screening may raise.
const (
	FlagProvocation  = "suspected_provocation"
	FlagInconsistent = "inconsistent_story"
	FlagDuplicate    = "duplicate"
)

// Screening is a case's screening: checklist answers and risk flags
// (sealed, intel), and the verdict (plaintext).
type Screening struct {
	Checklist  map[string]bool
	Flags      []string
	Verdict    string // '', verified, rejected
	VerdictBy  lifeline.OperatorID
	VerdictDay lifeline.Day
}

// Verdicts.
const (
	VerdictVerified = "verified"
	VerdictRejected = "rejected"
)

func screeningAAD(id lifeline.CaseID, column string) seal.AAD {
	return seal.AAD{Table: "screenings", Column: column, Row: string(id)}
}

// CaseScreening reads a case's screening. With intel false only the
// verdict is read (a case officer sees the verdict only); with intel true
// the checklist and flags are opened too.
func (db *DB) CaseScreening(ctx context.Context, id lifeline.CaseID, intel bool) (*Screening, error) {
	s := &Screening{Checklist: map[string]bool{}}
	err := db.Read(ctx, func(tx *Tx) error {
		var checklist, flags []byte
		var by, day sql.NullString
		err := tx.QueryRow(`SELECT checklist, flags, verdict, verdict_by, verdict_day FROM screenings WHERE case_id = ?`, id).
			Scan(&checklist, &flags, &s.Verdict, &by, &day)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		s.VerdictBy = lifeline.OperatorID(by.String)
		if day.Valid {
			if s.VerdictDay, err = lifeline.ParseDay(day.String); err != nil {
				return err
			}
		}
		if !intel {
			return nil
		}
		if err := db.openJSON(tx, screeningAAD(id, "checklist"), checklist, &s.Checklist); err != nil {
			return err
		}
		return db.openJSON(tx, screeningAAD(id, "flags"), flags, &s.Flags)
	})
	return s, err
}

// SaveScreening stores the checklist and the flags the verification
// officer set (sealed, intel), audited by field name.
func (db *DB) SaveScreening(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, checklist map[string]bool, flags []string, note string) error {
	for k := range checklist {
		if !slices.Contains(ScreeningItems, k) {
			return lifeline.Errorf(lifeline.EINVALID, "Unknown checklist item.")
		}
	}
	for _, f := range flags {
		if f != FlagProvocation && f != FlagInconsistent && f != FlagDuplicate {
			return lifeline.Errorf(lifeline.EINVALID, "Unknown risk flag.")
		}
	}
	return db.audited(ctx, by, "screening.write", string(id), "fields=checklist,flags", func(tx *Tx) error {
		if _, err := caseInTx(tx, id); err != nil {
			return err
		}
		cl, err := db.jsonSealed(tx, id, seal.CompartmentIntel, screeningAAD(id, "checklist"), checklist)
		if err != nil {
			return err
		}
		fl, err := db.jsonSealed(tx, id, seal.CompartmentIntel, screeningAAD(id, "flags"), flags)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO screenings (case_id, checklist, flags) VALUES (?, ?, ?)
			ON CONFLICT (case_id) DO UPDATE SET checklist = excluded.checklist, flags = excluded.flags`, id, cl, fl)
		if err != nil {
			return err
		}
		return db.addEvent(tx, by, id, "screening", "", "", seal.CompartmentIntel, note)
	})
}

// RecordVerdict records the screening verdict. Only a verification officer
// who is not the case's officer may: EFORBIDDEN otherwise. A verdict is
// final: ECONFLICT if one is recorded.
func (db *DB) RecordVerdict(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, verdict, reason string) error {
	if verdict != VerdictVerified && verdict != VerdictRejected {
		return lifeline.Errorf(lifeline.EINVALID, "The verdict is verified or rejected.")
	}
	if err := checkReason(reason); err != nil {
		return err
	}
	if by.Role != lifeline.RoleVerification {
		return lifeline.Errorf(lifeline.EFORBIDDEN, "Only a verification officer records a verdict.")
	}
	return db.audited(ctx, by, "screening.verdict", string(id), verdict, func(tx *Tx) error {
		c, err := caseInTx(tx, id)
		if err != nil {
			return err
		}
		if c.AssignedTo == lifeline.OperatorID(by.ID) {
			return lifeline.Errorf(lifeline.EFORBIDDEN, "The case's own officer cannot record its verdict.")
		}
		res, err := tx.Exec(`INSERT INTO screenings (case_id, verdict, verdict_by, verdict_day) VALUES (?, ?, ?, ?)
			ON CONFLICT (case_id) DO UPDATE SET verdict = excluded.verdict, verdict_by = excluded.verdict_by, verdict_day = excluded.verdict_day
			WHERE screenings.verdict = ''`, id, verdict, by.ID, lifeline.DayOf(tx.Now()).String())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return lifeline.Errorf(lifeline.ECONFLICT, "A verdict is recorded already.")
		}
		return db.addEvent(tx, by, id, "verdict", "", verdict, seal.CompartmentIntel, reason)
	})
}

// Duplicate is another case that shares a number or a contact address
// with this one, confirmed by decrypting both: suspicion to look into.
type Duplicate struct {
	Field     string // service_number, document_number, phone, contact
	OtherCase lifeline.CaseID
	OtherCode string
}

// Duplicates finds other cases whose persons share a service or document
// number with this case's persons, or whose contacts share an address with
// its contacts. Candidates come from the truncated blind indexes (an
// occupied bucket is only suspicion); each is confirmed by decrypting both
// values, so a bucket collision is not reported. EUNAVAILABLE while sealed.
func (db *DB) Duplicates(ctx context.Context, id lifeline.CaseID) ([]Duplicate, error) {
	var out []Duplicate
	err := db.Read(ctx, func(tx *Tx) error {
		type cand struct {
			field           string
			mine, theirs    string // person or contact ids
			otherCase, code string
		}
		persons, err := queryAll(tx, func(rows *sql.Rows) (c cand, err error) {
			return c, rows.Scan(&c.field, &c.mine, &c.theirs, &c.otherCase, &c.code)
		}, `SELECT a.domain, a.person_id, b.person_id, p2.case_id, c2.code_name
			FROM persons p1 JOIN person_buckets a ON a.person_id = p1.id
			JOIN person_buckets b ON b.domain = a.domain AND b.bucket = a.bucket AND b.person_id <> a.person_id
			JOIN persons p2 ON p2.id = b.person_id JOIN cases c2 ON c2.id = p2.case_id
			WHERE p1.case_id = ?1 AND p2.case_id <> ?1`, id)
		if err != nil {
			return err
		}
		contacts, err := queryAll(tx, func(rows *sql.Rows) (c cand, err error) {
			c.field = "contact"
			return c, rows.Scan(&c.mine, &c.theirs, &c.otherCase, &c.code)
		}, `SELECT k1.id, k2.id, k2.case_id, c2.code_name
			FROM contacts k1 JOIN contacts k2 ON k2.handle_tag = k1.handle_tag AND k2.channel = k1.channel AND k2.id <> k1.id
			JOIN cases c2 ON c2.id = k2.case_id
			WHERE k1.case_id = ?1 AND k2.case_id <> ?1`, id)
		if err != nil {
			return err
		}
		personValue := func(pid, field string) (string, error) {
			var ct []byte
			if err := tx.QueryRow(`SELECT data FROM persons WHERE id = ?`, pid).Scan(&ct); err != nil {
				return "", err
			}
			var d personData
			if err := db.openJSON(tx, personAAD(lifeline.PersonID(pid)), ct, &d); err != nil {
				return "", err
			}
			v, domain := d.ServiceNumber, seal.DomainServiceNumber
			switch seal.Domain(field) {
			case seal.DomainDocumentNumber:
				v, domain = d.DocumentNumber, seal.DomainDocumentNumber
			case seal.DomainPhone:
				v, domain = d.Phone, seal.DomainPhone
			}
			n, err := seal.Normalize(domain, v)
			if err != nil {
				return "", nil
			}
			return n, nil
		}
		contactValue := func(cid string) (string, error) {
			var ct []byte
			if err := tx.QueryRow(`SELECT handle FROM contacts WHERE id = ?`, cid).Scan(&ct); err != nil {
				return "", err
			}
			b, err := db.openField(tx, contactAAD(lifeline.ContactID(cid)), ct)
			return string(b), unavailable(err)
		}
		seen := map[[2]string]bool{}
		for _, c := range append(persons, contacts...) {
			var a, b string
			if c.field == "contact" {
				if a, err = contactValue(c.mine); err == nil {
					b, err = contactValue(c.theirs)
				}
			} else {
				if a, err = personValue(c.mine, c.field); err == nil {
					b, err = personValue(c.theirs, c.field)
				}
			}
			if err != nil {
				return err
			}
			key := [2]string{c.field, c.otherCase}
			if a == "" || a != b || seen[key] {
				continue // a bucket collision, not a duplicate
			}
			seen[key] = true
			out = append(out, Duplicate{Field: c.field, OtherCase: lifeline.CaseID(c.otherCase), OtherCode: c.code})
		}
		return nil
	})
	return out, unavailable(err)
}
