// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Session stages: a full session reaches the console; an enrolment session,
// made by a first login with the one-time password, reaches only the page
// that sets a new password and TOTP.
const (
	StageFull  = "full"
	StageEnrol = "enrol"
)

// Session is a console session as stored: the cookie's value is never
// stored, only its SHA-256.
type Session struct {
	Operator   lifeline.Operator
	Stage      string
	UILanguage string // uk or en
	TimeZone   string // the IANA zone the operator reads times in
	CreatedAt  time.Time
	LastSeen   time.Time
	StepUpAt   time.Time // the latest fresh TOTP of this session; zero if none
}

// Login is what a login needs of an account: its id and role, whether it is
// active, its password hash and whether that hash is peppered, whether the
// password must change, and its TOTP seed and last accepted step.
type Login struct {
	Operator     lifeline.Operator
	PasswordHash string
	Peppered     bool
	MustChange   bool
	TOTPSecret   []byte
	TOTPLastStep int64
	UILanguage   string
	// Pending: made or refused at the command line and not approved by a
	// supervisor; it cannot sign in.
	Pending bool
}

// LoginByUsername returns what a login checks, ENOTFOUND for no such
// account; EUNAVAILABLE while sealed (the TOTP seed is sealed).
func (db *DB) LoginByUsername(ctx context.Context, username string) (*Login, error) {
	var l Login
	err := db.Read(ctx, func(tx *Tx) error {
		var sealed []byte
		var created string
		err := tx.QueryRow(`SELECT id, username, role, disabled, created_at, password_hash, password_peppered, password_change_required,
				totp_secret, totp_last_step, ui_language, approval <> 'approved' FROM operators WHERE username = ?`, username).
			Scan(&l.Operator.ID, &l.Operator.Username, &l.Operator.Role, &l.Operator.Disabled, &created, &l.PasswordHash, &l.Peppered,
				&l.MustChange, &sealed, &l.TOTPLastStep, &l.UILanguage, &l.Pending)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such account.")
		}
		if err != nil {
			return err
		}
		if l.Operator.CreatedAt, err = parseTime(created); err != nil {
			return err
		}
		seed, err := db.openField(tx, totpAAD(l.Operator.ID), sealed)
		if err != nil {
			return unavailable(err)
		}
		l.TOTPSecret = seed
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// UseTOTPStep records step as the operator's last accepted TOTP step, if it
// is later than the one recorded: false if it is not (a replayed or older
// code, perhaps accepted meanwhile by a concurrent login). This is the
// replay memory of RFC 6238 §5.2.
func (db *DB) UseTOTPStep(ctx context.Context, id lifeline.OperatorID, step int64) (bool, error) {
	var n int64
	err := db.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE operators SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?`, step, id, step)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

// CreateSession stores a new session for the operator, by the hash of its
// id, and ends every other session of theirs (one active session per
// operator); the audit entry says login.
func (db *DB) CreateSession(ctx context.Context, by lifeline.Actor, hash []byte, stage string) error {
	if stage != StageFull && stage != StageEnrol {
		return lifeline.Errorf(lifeline.EINVALID, "Unknown session stage.")
	}
	id := lifeline.OperatorID(by.ID)
	return db.audited(ctx, by, "session.login", string(id), stage, func(tx *Tx) error {
		if err := endSessions(tx, id); err != nil {
			return err
		}
		now := formatTime(tx.Now())
		_, err := tx.Exec(`INSERT INTO sessions (id_hash, operator_id, created_at, last_seen_at, stage) VALUES (?, ?, ?, ?, ?)`,
			hash, id, now, now, stage)
		return err
	})
}

// SessionByHash returns the live session with that hash, with its
// operator; ENOTFOUND for none, an ended one, a disabled account or one
// not approved. Expiry
// is the caller's rule: it compares CreatedAt and LastSeen with its limits.
func (db *DB) SessionByHash(ctx context.Context, hash []byte) (*Session, error) {
	var s Session
	err := db.Read(ctx, func(tx *Tx) error {
		var created, seen, opCreated, stepUp string
		err := tx.QueryRow(`SELECT o.id, o.username, o.role, o.disabled, o.created_at, o.ui_language, o.time_zone, s.stage, s.created_at, s.last_seen_at, COALESCE(s.step_up_at, '')
			FROM sessions s JOIN operators o ON o.id = s.operator_id
			WHERE s.id_hash = ? AND s.ended_at IS NULL AND o.disabled = 0 AND o.approval = 'approved'`, hash).
			Scan(&s.Operator.ID, &s.Operator.Username, &s.Operator.Role, &s.Operator.Disabled, &opCreated, &s.UILanguage, &s.TimeZone, &s.Stage, &created, &seen, &stepUp)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such session.")
		}
		if err != nil {
			return err
		}
		if s.Operator.CreatedAt, err = parseTime(opCreated); err != nil {
			return err
		}
		if s.Operator.Teams, err = operatorTeams(tx, s.Operator.ID); err != nil {
			return err
		}
		if s.CreatedAt, err = parseTime(created); err != nil {
			return err
		}
		if stepUp != "" {
			if s.StepUpAt, err = parseTime(stepUp); err != nil {
				return err
			}
		}
		s.LastSeen, err = parseTime(seen)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// TouchSession records activity on a session now.
func (db *DB) TouchSession(ctx context.Context, hash []byte) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE sessions SET last_seen_at = ? WHERE id_hash = ? AND ended_at IS NULL`, formatTime(tx.Now()), hash)
		return err
	})
}

// EndSession ends one session (logout or expiry), with an audit entry.
func (db *DB) EndSession(ctx context.Context, by lifeline.Actor, hash []byte, reason string) error {
	return db.audited(ctx, by, "session.end", by.ID, reason, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE sessions SET ended_at = ? WHERE id_hash = ? AND ended_at IS NULL`, formatTime(tx.Now()), hash)
		return err
	})
}

// endSessions ends every live session of an operator.
func endSessions(tx *Tx, id lifeline.OperatorID) error {
	_, err := tx.Exec(`UPDATE sessions SET ended_at = ? WHERE operator_id = ? AND ended_at IS NULL`, formatTime(tx.Now()), id)
	return err
}

// SetRole changes an operator's role at once and ends their sessions
// (SECURITY.md §2.6: a role change logs the account out everywhere). Only
// the program itself does so (tests); the command line proposes a role
// (ProposeRole) and a supervisor approves it.
func (db *DB) SetRole(ctx context.Context, by lifeline.Actor, id lifeline.OperatorID, role lifeline.Role) error {
	if !role.Valid() {
		return lifeline.Errorf(lifeline.EINVALID, "Unknown role.")
	}
	return db.audited(ctx, by, "user.role", string(id), "role="+string(role), func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE operators SET role = ?, updated_at = ? WHERE id = ?`, role, formatTime(tx.Now()), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such account.")
		}
		return endSessions(tx, id)
	})
}

// Enrol completes a first login: the new password hash (peppered) and TOTP
// seed replace the one-time ones, step is the step of the code that proved
// the new seed, and the enrolment session ends. Audited.
func (db *DB) Enrol(ctx context.Context, by lifeline.Actor, passwordHash string, totpSecret []byte, step int64) error {
	id := lifeline.OperatorID(by.ID)
	return db.audited(ctx, by, "user.enrol", string(id), "", func(tx *Tx) error {
		seed, err := db.sealField(tx, operatorOwner(id), "", seal.CompartmentRouting, totpAAD(id), totpSecret)
		if err != nil {
			return unavailable(err)
		}
		res, err := tx.Exec(`UPDATE operators SET password_hash = ?, password_peppered = 1, password_change_required = 0,
				totp_secret = ?, totp_last_step = ?, updated_at = ? WHERE id = ? AND disabled = 0`,
			passwordHash, seed, step, formatTime(tx.Now()), id)
		if err != nil {
			return fmt.Errorf("enrol: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such account.")
		}
		return endSessions(tx, id)
	})
}

// SetPasswordHash replaces an operator's password hash, for an upgrade of
// parameters or pepper at login.
func (db *DB) SetPasswordHash(ctx context.Context, id lifeline.OperatorID, hash string, peppered bool) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE operators SET password_hash = ?, password_peppered = ?, updated_at = ? WHERE id = ?`, hash, peppered, formatTime(tx.Now()), id)
		return err
	})
}

// SetUILanguage sets the console language of an operator: uk or en.
func (db *DB) SetUILanguage(ctx context.Context, id lifeline.OperatorID, lang string) error {
	if lang != "uk" && lang != "en" {
		return lifeline.Errorf(lifeline.EINVALID, "The console speaks Ukrainian (uk) or English (en).")
	}
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE operators SET ui_language = ? WHERE id = ?`, lang, id)
		return err
	})
}

// SetTimeZone sets the time zone an operator reads times in: an IANA
// name this server knows, such as Europe/Kyiv.
func (db *DB) SetTimeZone(ctx context.Context, id lifeline.OperatorID, zone string) error {
	if zone == "" || zone == "Local" || len(zone) > 64 {
		return lifeline.Errorf(lifeline.EINVALID, "Unknown time zone.")
	}
	if _, err := time.LoadLocation(zone); err != nil {
		return lifeline.Errorf(lifeline.EINVALID, "Unknown time zone.")
	}
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE operators SET time_zone = ? WHERE id = ?`, zone, id)
		return err
	})
}

// StepUp records a fresh second factor on a session, now, audited: reveals
// of identity fields and exports are allowed within minutes of it.
func (db *DB) StepUp(ctx context.Context, by lifeline.Actor, hash []byte) error {
	return db.audited(ctx, by, "session.step_up", by.ID, "", func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE sessions SET step_up_at = ? WHERE id_hash = ? AND ended_at IS NULL`, formatTime(tx.Now()), hash)
		return err
	})
}
