// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

// AddShift schedules a shift, audited; by must be an operator (EFORBIDDEN
// for the command line or the system). The operator must exist and be
// enabled; an operator who takes conversations (see
// lifeline.TakesConversations) must serve the shift's stream in his routing
// profile, or the shift would cover nothing. It returns EINVALID for an
// invalid shift or one that has already ended, ENOTFOUND for an unknown
// operator, and ECONFLICT if the operator has an overlapping shift (checked
// in the same write, so two schedulers cannot both succeed).
func (db *DB) AddShift(ctx context.Context, by lifeline.Actor, s *lifeline.Shift) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if !lifeline.OperatorID(by.ID).Valid() {
		// shifts.created_by references an account.
		return lifeline.Errorf(lifeline.EFORBIDDEN, "Shifts are scheduled by a signed-in operator.")
	}
	s.Start, s.End = s.Start.UTC(), s.End.UTC()
	return db.audited(ctx, by, "shift.add", string(s.ID)+" "+string(s.Operator), "stream="+string(s.Stream), func(tx *Tx) error {
		if !s.End.After(tx.Now()) {
			return lifeline.Errorf(lifeline.EINVALID, "A shift that has ended cannot be added.")
		}
		var role lifeline.Role
		var disabled bool
		var streams string
		err := tx.QueryRow(`SELECT role, disabled, streams FROM operators WHERE id = ?`, s.Operator).Scan(&role, &disabled, &streams)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such operator.")
		}
		if err != nil {
			return fmt.Errorf("add shift: %w", err)
		}
		if disabled {
			return lifeline.Errorf(lifeline.EINVALID, "The operator's account is disabled.")
		}
		if lifeline.TakesConversations(role) {
			served, err := lifeline.ParseStreams(streams)
			if err != nil {
				return fmt.Errorf("add shift: operator %s: %w", s.Operator, err)
			}
			if !slices.Contains(served, s.Stream) {
				return lifeline.Errorf(lifeline.EINVALID, "The operator does not serve the %s stream: change the routing profile first.", s.Stream)
			}
		}
		existing, err := shiftsIn(tx, ShiftFilter{From: s.Start, To: s.End, Operator: s.Operator})
		if err != nil {
			return err
		}
		if err := lifeline.CheckOverlap(s, existing); err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO shifts (id, operator_id, starts_at, ends_at, stream, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.Operator, formatTime(s.Start), formatTime(s.End), s.Stream, by.ID, formatTime(tx.Now()))
		if db.dialect.isUniqueViolation(err) {
			return lifeline.Errorf(lifeline.ECONFLICT, "That shift exists.")
		}
		if err != nil {
			return fmt.Errorf("add shift: %w", err)
		}
		return nil
	})
}

// DeleteShift removes a shift that has not ended, audited: an ended shift
// stays as the record of who was on duty (ECONFLICT). ENOTFOUND if there is
// no such shift.
func (db *DB) DeleteShift(ctx context.Context, by lifeline.Actor, id lifeline.ShiftID) error {
	return db.audited(ctx, by, "shift.delete", string(id), "", func(tx *Tx) error {
		var ends string
		err := tx.QueryRow(`SELECT ends_at FROM shifts WHERE id = ?`, id).Scan(&ends)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such shift.")
		}
		if err != nil {
			return fmt.Errorf("delete shift: %w", err)
		}
		if ends <= formatTime(tx.Now()) {
			return lifeline.Errorf(lifeline.ECONFLICT, "A shift that has ended stays in the record.")
		}
		if _, err := tx.Exec(`DELETE FROM shifts WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete shift: %w", err)
		}
		return nil
	})
}

// ShiftFilter selects shifts.
type ShiftFilter struct {
	// From and To bound the period: shifts that share some time with
	// [From, To). A zero From or To leaves that side open.
	From, To time.Time
	// Operator keeps one operator's shifts; "" keeps everyone's.
	Operator lifeline.OperatorID
}

// Shifts lists the shifts the filter selects, by start, then operator.
func (db *DB) Shifts(ctx context.Context, f ShiftFilter) ([]lifeline.Shift, error) {
	var out []lifeline.Shift
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = shiftsIn(tx, f)
		return err
	})
	return out, err
}

func shiftsIn(tx *Tx, f ShiftFilter) ([]lifeline.Shift, error) {
	from, to := "", "9999"
	if !f.From.IsZero() {
		from = formatTime(f.From)
	}
	if !f.To.IsZero() {
		to = formatTime(f.To)
	}
	out, err := queryAll(tx, scanShift, `SELECT id, operator_id, starts_at, ends_at, stream FROM shifts
		WHERE starts_at < ? AND ends_at > ? AND (? = '' OR operator_id = ?)
		ORDER BY starts_at, operator_id, id`, to, from, f.Operator, f.Operator)
	if err != nil {
		return nil, fmt.Errorf("list shifts: %w", err)
	}
	return out, nil
}

func scanShift(rows *sql.Rows) (lifeline.Shift, error) {
	var s lifeline.Shift
	var start, end string
	if err := rows.Scan(&s.ID, &s.Operator, &start, &end, &s.Stream); err != nil {
		return s, err
	}
	var err error
	if s.Start, err = parseTime(start); err != nil {
		return s, err
	}
	s.End, err = parseTime(end)
	return s, err
}

// Coverage reports the hours from from (truncated to the hour) up to to
// that are not wholly covered, for each stream and language, by the shifts
// of enabled operators who take conversations, as their routing profiles
// stand now (see lifeline.CoverageGaps). EINVALID for a period that runs
// backwards or is longer than lifeline.MaxCoverageSpan.
func (db *DB) Coverage(ctx context.Context, from, to time.Time) ([]lifeline.CoverageGap, error) {
	if _, err := lifeline.CoverageGaps(from, to, nil, nil, nil, nil); err != nil {
		return nil, err // the period is checked before anything is read
	}
	var shifts []lifeline.Shift
	profiles := map[lifeline.OperatorID]lifeline.RoutingProfile{}
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		if shifts, err = shiftsIn(tx, ShiftFilter{From: from.Truncate(time.Hour), To: to}); err != nil {
			return err
		}
		staff, err := queryAll(tx, scanStaff, `SELECT `+staffColumns+` FROM operators o WHERE o.disabled = 0`)
		if err != nil {
			return fmt.Errorf("coverage: %w", err)
		}
		for _, s := range staff {
			if lifeline.TakesConversations(s.Operator.Role) {
				profiles[s.Operator.ID] = s.Profile
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return lifeline.CoverageGaps(from, to, shifts, profiles, lifeline.Streams(), lifeline.Languages())
}
