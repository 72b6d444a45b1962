// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline"
)

// CannedAnswer is a ready reply in one language, written by a supervisor.
// Its body may hold placeholders in braces ({name}) that the operator fills
// in before sending; it holds no personal data itself.
type CannedAnswer struct {
	ID       string
	Language string // ru, uk, en
	Title    string
	Body     string
}

// CannedLanguages are the languages canned answers are written in: the
// soldiers' Russian first.
var CannedLanguages = []string{"ru", "uk", "en"}

func validCanned(c *CannedAnswer) error {
	switch {
	case c.Language != "ru" && c.Language != "uk" && c.Language != "en":
		return lifeline.Errorf(lifeline.EINVALID, "A canned answer is in Russian (ru), Ukrainian (uk) or English (en).")
	case strings.TrimSpace(c.Title) == "" || utf8.RuneCountInString(c.Title) > 80 || !utf8.ValidString(c.Title):
		return lifeline.Errorf(lifeline.EINVALID, "A canned answer needs a title of 1 to 80 characters.")
	case strings.TrimSpace(c.Body) == "" || len(c.Body) > 4096 || !utf8.ValidString(c.Body):
		return lifeline.Errorf(lifeline.EINVALID, "A canned answer is 1 to 4096 bytes of text.")
	}
	return nil
}

// SaveCannedAnswer creates a canned answer (c.ID empty: it gets one) or
// replaces one. Audited.
func (db *DB) SaveCannedAnswer(ctx context.Context, by lifeline.Actor, c *CannedAnswer) error {
	if err := validCanned(c); err != nil {
		return err
	}
	if c.ID == "" {
		c.ID = string(lifeline.NewID())
		return db.audited(ctx, by, "canned.add", c.ID, "", func(tx *Tx) error {
			_, err := tx.Exec(`INSERT INTO canned_answers (id, language, title, body, created_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				c.ID, c.Language, c.Title, c.Body, by.ID, formatTime(tx.Now()))
			return err
		})
	}
	return db.audited(ctx, by, "canned.edit", c.ID, "", func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE canned_answers SET language = ?, title = ?, body = ?, updated_at = ? WHERE id = ? AND archived = 0`,
			c.Language, c.Title, c.Body, formatTime(tx.Now()), c.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such canned answer.")
		}
		return nil
	})
}

// ArchiveCannedAnswer takes a canned answer out of use. Audited.
func (db *DB) ArchiveCannedAnswer(ctx context.Context, by lifeline.Actor, id string) error {
	return db.audited(ctx, by, "canned.archive", id, "", func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE canned_answers SET archived = 1, updated_at = ? WHERE id = ? AND archived = 0`, formatTime(tx.Now()), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such canned answer.")
		}
		return nil
	})
}

// CannedAnswers lists the canned answers in use, by language then title.
func (db *DB) CannedAnswers(ctx context.Context) ([]CannedAnswer, error) {
	var out []CannedAnswer
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (c CannedAnswer, err error) {
			return c, rows.Scan(&c.ID, &c.Language, &c.Title, &c.Body)
		}, `SELECT id, language, title, body FROM canned_answers WHERE archived = 0
			ORDER BY CASE language WHEN 'ru' THEN 0 WHEN 'uk' THEN 1 ELSE 2 END, title`)
		return err
	})
	return out, err
}
