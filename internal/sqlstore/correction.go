// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Corrections of identity answers (issue 10 follow-up, finding 4). A
// contact who edits a message the bot took as the answer to an identity
// question (his name, where he is) corrects that answer. The new text never
// enters the conversation, which shows AnswerCorrectedMarker; intake seals
// it in the identity compartment (answer_corrections, under a key of the
// row's own, which works while sealed), and the questionnaire worker
// applies it once unsealed (ApplyAnswerCorrections): to the session's
// answers while the bot still runs, else to the case.

// AnswerCorrectedMarker is what a conversation shows, in every reader, for
// a contact's edit of a recorded identity answer: that the answer was
// corrected, and which, never the correction.
func AnswerCorrectedMarker(key string) string { return "answer corrected: " + key }

func correctionOwner(id string) string { return "correction:" + id }

func correctionAAD(id, column string) seal.AAD {
	return seal.AAD{Table: "answer_corrections", Column: column, Row: id}
}

// addCorrection stores the text of a contact's edit of the message m, a
// recorded answer to the identity question key, for the worker to apply.
func (in *Ingest) addCorrection(m StoredInbound, key string, text lifeline.Sensitive, editedAt time.Time) error {
	id := string(lifeline.NewID())
	dk, err := in.db.dataKey(in.tx, correctionOwner(id), seal.CompartmentIdentity)
	if err != nil {
		return fmt.Errorf("seal answer correction: %w", err)
	}
	ct, err := seal.Encrypt(dk, correctionAAD(id, "body"), []byte(text.Reveal()))
	if err != nil {
		return err
	}
	var at []byte
	if !editedAt.IsZero() {
		if at, err = seal.Encrypt(dk, correctionAAD(id, "edited_at"), sealTime(editedAt)); err != nil {
			return err
		}
	}
	_, err = in.tx.Exec(`INSERT INTO answer_corrections (id, message_id, conversation_id, answer, body, edited_at, created_day) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, m.ID, m.Conversation, key, ct, at, lifeline.DayOf(in.tx.Now()).String())
	return err
}

// personFields are the person fields an answer can correct (personData's
// names).
var personFields = map[string]seal.Domain{
	"name": "", "birth_date": "", "unit": "", "rank": "", "whereabouts": "",
	"service_number": seal.DomainServiceNumber, "document_number": seal.DomainDocumentNumber, "phone": seal.DomainPhone,
}

// ApplyAnswerCorrections applies up to limit stored corrections, oldest
// first, each in one transaction with its deletion (and its key's): it
// returns how many it applied. While the bot runs (active or paused) the
// session's answer is replaced. Once there is a case (the session
// registered it, or an operator linked the contact), the applicant's person
// field is replaced, with a timeline entry "corrected" (its detail, sealed
// in the identity compartment: the answer's key, the old and the new text)
// and an audit entry (person.correct). A correction of a relative's answer
// (whose entry the key does not name) reaches the case as a timeline entry
// alone, once the case exists. A correction that has nowhere to go (the
// bot handed the contact off and erased the answers, and no case is
// linked) is dropped, audited, as the answers were. EUNAVAILABLE while
// sealed.
func (db *DB) ApplyAnswerCorrections(ctx context.Context, limit int) (int, error) {
	var ids []string
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		ids, err = queryAll(tx, func(rows *sql.Rows) (id string, err error) {
			return id, rows.Scan(&id)
		}, `SELECT id FROM answer_corrections ORDER BY rowid LIMIT ?`, limit)
		return err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		var shredded []seal.KeyID
		applied := false
		err := db.Write(ctx, func(tx *Tx) error {
			later, err := db.applyCorrection(tx, id)
			if err != nil || later {
				return err
			}
			applied = true
			if _, err := tx.Exec(`DELETE FROM answer_corrections WHERE id = ?`, id); err != nil {
				return err
			}
			shredded, err = db.deleteDataKeys(tx, correctionOwner(id))
			return err
		})
		if err != nil {
			return n, unavailable(err)
		}
		if db.sealer != nil {
			db.sealer.Forget(shredded...)
		}
		if applied {
			n++
		}
	}
	return n, nil
}

// applyCorrection applies one correction in tx; later says it cannot be
// yet (the session is becoming a case; a relative's answer while the bot
// runs) and stays stored.
func (db *DB) applyCorrection(tx *Tx, id string) (later bool, err error) {
	var conv lifeline.ConversationID
	var key string
	var ct []byte
	err = tx.QueryRow(`SELECT conversation_id, answer, body FROM answer_corrections WHERE id = ?`, id).Scan(&conv, &key, &ct)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil // erased meanwhile
	}
	if err != nil {
		return false, err
	}
	text, err := db.openField(tx, correctionAAD(id, "body"), ct)
	if err != nil {
		return false, err
	}
	group, field, _ := strings.Cut(key, ".")
	system := lifeline.Actor{ID: lifeline.ActorSystem}

	var state string
	var answers []byte
	var caseID string
	err = tx.QueryRow(`SELECT state, answers, COALESCE(case_id, '') FROM questionnaire_sessions WHERE conversation_id = ?`, conv).Scan(&state, &answers, &caseID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	switch state {
	case QuestionnaireCompleting:
		return true, nil // the case is being made from the answers: apply it to the case
	case QuestionnaireActive, QuestionnairePaused:
		if group != "applicant" || len(answers) == 0 {
			return true, nil
		}
		return false, db.correctSessionAnswer(tx, system, conv, answers, field, key, string(text))
	}
	if caseID == "" {
		if err := tx.QueryRow(`SELECT COALESCE(c.case_id, '') FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE v.id = ?`, conv).Scan(&caseID); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
	}
	if caseID == "" {
		_, err := AppendAudit(tx, audit.Entry{Actor: system.ID, Action: "questionnaire.correct", Object: string(conv), Reason: key + " dropped: no answers and no case", Decision: audit.DecisionAllow})
		return false, err
	}
	return false, db.correctCase(tx, system, lifeline.CaseID(caseID), group, field, key, string(text))
}

// correctSessionAnswer replaces the applicant's answer field in a running
// session's sealed answers, and bumps the session's seq, so that a bot step
// in flight reads the answers again.
func (db *DB) correctSessionAnswer(tx *Tx, by lifeline.Actor, conv lifeline.ConversationID, sealed []byte, field, key, text string) error {
	plain, err := db.openField(tx, questionnaireAAD(conv), sealed)
	if err != nil {
		return err
	}
	var a map[string]json.RawMessage
	if err := json.Unmarshal(plain, &a); err != nil {
		return fmt.Errorf("questionnaire answers of %s: %w", conv, err)
	}
	applicant := map[string]string{}
	if raw, ok := a["applicant"]; ok {
		if err := json.Unmarshal(raw, &applicant); err != nil {
			return fmt.Errorf("questionnaire answers of %s: %w", conv, err)
		}
	}
	applicant[field] = text
	if a["applicant"], err = json.Marshal(applicant); err != nil {
		return err
	}
	out, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := db.sealAnswers(tx, conv, out); err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE questionnaire_sessions SET seq = seq + 1, updated_day = ? WHERE conversation_id = ?`, lifeline.DayOf(tx.Now()).String(), conv); err != nil {
		return err
	}
	_, err = AppendAudit(tx, audit.Entry{Actor: by.ID, Action: "questionnaire.correct", Object: string(conv), Reason: key, Decision: audit.DecisionAllow})
	return err
}

// correctCase applies a correction to a case: the applicant's person field
// for an applicant.* answer, with the timeline entry and the audit entry;
// for any other answer the timeline entry alone.
func (db *DB) correctCase(tx *Tx, by lifeline.Actor, caseID lifeline.CaseID, group, field, key, text string) error {
	detail := key + ": " + text
	domain, isField := personFields[field]
	if group == "applicant" && isField {
		ids, err := queryAll(tx, func(rows *sql.Rows) (id lifeline.PersonID, err error) {
			return id, rows.Scan(&id)
		}, `SELECT id FROM persons WHERE case_id = ? AND relation = ? LIMIT 2`, caseID, lifeline.RelationApplicant)
		if err != nil {
			return err
		}
		if len(ids) == 1 {
			old, err := db.setPersonField(tx, ids[0], field, domain, text)
			if err != nil {
				return err
			}
			detail = key + ": " + old + " → " + text
			if _, err := AppendAudit(tx, audit.Entry{Actor: by.ID, Action: "person.correct", Object: string(caseID) + " " + string(ids[0]),
				Reason: key + " by the contact", Decision: audit.DecisionAllow}); err != nil {
				return err
			}
		}
	}
	return db.addEvent(tx, by, caseID, "corrected", "", "", seal.CompartmentIdentity, detail)
}

// setPersonField replaces one field of a person's sealed data, and its
// truncated blind index if the field has one, and returns the old value.
func (db *DB) setPersonField(tx *Tx, id lifeline.PersonID, field string, domain seal.Domain, value string) (string, error) {
	var ct []byte
	if err := tx.QueryRow(`SELECT data FROM persons WHERE id = ?`, id).Scan(&ct); err != nil {
		return "", err
	}
	plain, err := db.openField(tx, personAAD(id), ct)
	if err != nil {
		return "", err
	}
	d := map[string]string{}
	if err := json.Unmarshal(plain, &d); err != nil {
		return "", fmt.Errorf("person %s: %w", id, err)
	}
	old := d[field]
	d[field] = value
	data, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	if ct, err = db.sealField(tx, personOwner(id), "", seal.CompartmentIdentity, personAAD(id), data); err != nil {
		return "", err
	}
	if _, err := tx.Exec(`UPDATE persons SET data = ? WHERE id = ?`, ct, id); err != nil {
		return "", err
	}
	if domain != "" {
		if _, err := tx.Exec(`DELETE FROM person_buckets WHERE person_id = ? AND domain = ?`, id, string(domain)); err != nil {
			return "", err
		}
		for dm, b := range db.buckets(map[seal.Domain]string{domain: value}) {
			if _, err := tx.Exec(`INSERT INTO person_buckets (person_id, domain, bucket) VALUES (?, ?, ?)`, id, string(dm), b); err != nil {
				return "", err
			}
		}
	}
	return old, nil
}
