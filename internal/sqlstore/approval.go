// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

// An Approval is a change made at the command line that waits for a
// supervisor: a new account (Role is its role) or a role change of an
// active one (Role is the role it would get, Current the one it has).
type Approval struct {
	Operator  lifeline.OperatorID
	Username  string
	Role      lifeline.Role
	Current   lifeline.Role // "" for a new account
	CreatedAt time.Time
}

// NewAccount reports whether the approval is of a new account.
func (a Approval) NewAccount() bool { return a.Current == "" }

// Approvals lists what waits for a supervisor's approval, oldest first:
// pending accounts and pending role changes of active ones.
func (db *DB) Approvals(ctx context.Context) ([]Approval, error) {
	var out []Approval
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (a Approval, err error) {
			var approval, role, created string
			var pending sql.NullString
			if err = rows.Scan(&a.Operator, &a.Username, &role, &pending, &approval, &created); err != nil {
				return a, err
			}
			a.Role = lifeline.Role(role)
			if approval != "pending" {
				a.Current, a.Role = a.Role, lifeline.Role(pending.String)
			}
			a.CreatedAt, err = parseTime(created)
			return a, err
		}, `SELECT id, username, role, pending_role, approval, created_at FROM operators
			WHERE disabled = 0 AND (approval = 'pending' OR pending_role IS NOT NULL) ORDER BY created_at, id`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	return out, nil
}

// ProposeRole asks for an account's role to change, as the command line
// does: the change waits for a supervisor's approval (DecideApproval) and
// the account keeps its role meanwhile. A pending account, not yet
// approved, simply gets the new role to be approved with it.
func (db *DB) ProposeRole(ctx context.Context, by lifeline.Actor, id lifeline.OperatorID, role lifeline.Role) error {
	if !role.Valid() {
		return lifeline.Errorf(lifeline.EINVALID, "Unknown role.")
	}
	return db.audited(ctx, by, "user.role_propose", string(id), "role="+string(role), func(tx *Tx) error {
		var current, approval string
		var disabled bool
		err := tx.QueryRow(`SELECT role, approval, disabled FROM operators WHERE id = ?`, id).Scan(&current, &approval, &disabled)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such account.")
		}
		if err != nil {
			return err
		}
		switch {
		case disabled:
			return lifeline.Errorf(lifeline.ECONFLICT, "The account is disabled.")
		case approval == "pending":
			_, err = tx.Exec(`UPDATE operators SET role = ?, updated_at = ? WHERE id = ?`, role, formatTime(tx.Now()), id)
		case lifeline.Role(current) == role:
			_, err = tx.Exec(`UPDATE operators SET pending_role = NULL, updated_at = ? WHERE id = ?`, formatTime(tx.Now()), id)
		default:
			_, err = tx.Exec(`UPDATE operators SET pending_role = ?, updated_at = ? WHERE id = ?`, role, formatTime(tx.Now()), id)
		}
		return err
	})
}

// DecideApproval is a supervisor's decision on what waits for the account
// id: a pending account is approved (it may sign in) or refused (it is
// disabled for good); a pending role change takes effect, ending the
// account's sessions, or is dropped. The decider must hold the approve
// grant and must not be the account itself (EFORBIDDEN); ENOTFOUND if
// nothing waits. The approver is recorded, for lifeline.SecondPerson, and
// audited.
func (db *DB) DecideApproval(ctx context.Context, by lifeline.Actor, id lifeline.OperatorID, approve bool) error {
	if lifeline.Allowed(by.Role, lifeline.ActionUserCreate) != lifeline.GrantApprove {
		return lifeline.Errorf(lifeline.EFORBIDDEN, "Only a supervisor approves accounts and role changes.")
	}
	if by.ID == string(id) {
		return lifeline.Errorf(lifeline.EFORBIDDEN, "Another supervisor must decide on your own account.")
	}
	return db.Write(ctx, func(tx *Tx) error {
		var approval, role string
		var pending sql.NullString
		var disabled bool
		err := tx.QueryRow(`SELECT approval, role, pending_role, disabled FROM operators WHERE id = ?`, id).Scan(&approval, &role, &pending, &disabled)
		if errors.Is(err, sql.ErrNoRows) || disabled || (approval != "pending" && !pending.Valid) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "Nothing waits for approval on that account: it may have been decided already.")
		}
		if err != nil {
			return err
		}
		now := formatTime(tx.Now())
		var action, reason string
		switch {
		case approval == "pending" && approve:
			action, reason = "user.approve", "role="+role
			_, err = tx.Exec(`UPDATE operators SET approval = 'approved', approved_by = ?, updated_at = ? WHERE id = ?`, by.ID, now, id)
		case approval == "pending":
			action, reason = "user.refuse", "role="+role
			_, err = tx.Exec(`UPDATE operators SET approval = 'refused', disabled = 1, updated_at = ? WHERE id = ?`, now, id)
		case approve:
			action, reason = "user.role_approve", "role="+pending.String
			if _, err = tx.Exec(`UPDATE operators SET role = pending_role, pending_role = NULL, role_approved_by = ?, updated_at = ? WHERE id = ?`, by.ID, now, id); err == nil {
				// SECURITY.md §2.6: a role change logs the account out everywhere.
				err = endSessions(tx, id)
			}
		default:
			action, reason = "user.role_refuse", "role="+pending.String
			_, err = tx.Exec(`UPDATE operators SET pending_role = NULL, updated_at = ? WHERE id = ?`, now, id)
		}
		if err != nil {
			return fmt.Errorf("decide approval: %w", err)
		}
		_, err = AppendAudit(tx, auditEntry(by, action, string(id), reason))
		return err
	})
}

// vouches reads every account's approval record, for lifeline.SecondPerson.
func vouches(tx *Tx) (map[lifeline.OperatorID]lifeline.Vouch, error) {
	out := map[lifeline.OperatorID]lifeline.Vouch{}
	rows, err := tx.Query(`SELECT id, origin, COALESCE(approved_by, ''), COALESCE(role_approved_by, '') FROM operators`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, origin, approved, roleApproved string
		if err := rows.Scan(&id, &origin, &approved, &roleApproved); err != nil {
			return nil, err
		}
		v := lifeline.Vouch{Origin: lifeline.Origin(origin)}
		for _, a := range []string{approved, roleApproved} {
			if a != "" {
				v.Approvers = append(v.Approvers, lifeline.OperatorID(a))
			}
		}
		out[lifeline.OperatorID(id)] = v
	}
	return out, rows.Err()
}

// secondPerson applies lifeline.SecondPerson inside a write: first began
// a two-person action, by completes it.
func secondPerson(tx *Tx, first lifeline.OperatorID, by lifeline.Actor) error {
	vs, err := vouches(tx)
	if err != nil {
		return err
	}
	return lifeline.SecondPerson(first, lifeline.OperatorID(by.ID), vs)
}

// AccountStates returns, for `lifeline user list`, the state of every
// account that is not simply active, as comma-separated words: pending,
// refused, bootstrap, "role-pending:ROLE" for a role change that waits.
func (db *DB) AccountStates(ctx context.Context) (map[lifeline.OperatorID]string, error) {
	out := map[lifeline.OperatorID]string{}
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT id, approval, COALESCE(pending_role, ''), origin FROM operators WHERE approval <> 'approved' OR pending_role IS NOT NULL OR origin = 'bootstrap'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, approval, pending, origin string
			if err := rows.Scan(&id, &approval, &pending, &origin); err != nil {
				return err
			}
			var words []string
			if approval != "approved" {
				words = append(words, approval)
			}
			if origin == string(lifeline.OriginBootstrap) {
				words = append(words, "bootstrap")
			}
			if pending != "" {
				words = append(words, "role-pending:"+pending)
			}
			out[lifeline.OperatorID(id)] = strings.Join(words, ",")
		}
		return rows.Err()
	})
	return out, err
}
