// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

// A Token is an API bearer token as stored: its public id, never the token.
type Token struct {
	ID         string
	OperatorID lifeline.OperatorID
	Username   string
	Scope      lifeline.TokenScope
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time // zero while the token is valid
}

// Valid reports whether the token may still be used at now.
func (t Token) Valid(now time.Time) bool { return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt) }

// CreateToken seeds a token (scope reply, the longest life) for an active,
// approved operator, under its public id. Only the program itself seeds
// tokens so (the demo, tests); an installation's operators make their own
// in the console (IssueToken), and the command line makes none.
func (db *DB) CreateToken(ctx context.Context, by lifeline.Actor, username, id string, hash []byte) error {
	if id == "" || len(hash) != 32 {
		return lifeline.Errorf(lifeline.EINVALID, "A token needs an id and a 32-byte hash.")
	}
	var op *lifeline.Operator
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		op, err = operatorByUsername(tx, username)
		return err
	})
	if err != nil {
		return err
	}
	return db.audited(ctx, by, "token.create", id+" "+string(op.ID), "scope=reply seeded", func(tx *Tx) error {
		return insertToken(tx, op.ID, id, hash, lifeline.ScopeReply, tx.Now().Add(lifeline.MaxTokenLife), false)
	})
}

// IssueToken stores a new bearer token of the signed-in operator by (never
// of anyone else), by the SHA-256 hash of the token, with a scope and an
// expiry at most lifeline.MaxTokenLife away. The account must be active,
// approved and enrolled. Audited with the scope and the expiry day.
func (db *DB) IssueToken(ctx context.Context, by lifeline.Actor, id string, hash []byte, scope lifeline.TokenScope, expires time.Time) error {
	if id == "" || len(hash) != 32 {
		return lifeline.Errorf(lifeline.EINVALID, "A token needs an id and a 32-byte hash.")
	}
	if _, err := lifeline.ParseTokenScope(string(scope)); err != nil {
		return err
	}
	me := lifeline.OperatorID(by.ID)
	if !me.Valid() {
		return lifeline.Errorf(lifeline.EFORBIDDEN, "An API token is made by its own operator, signed in to the console.")
	}
	return db.audited(ctx, by, "token.create", id+" "+by.ID, "scope="+string(scope)+" expires="+expires.UTC().Format(time.DateOnly), func(tx *Tx) error {
		now := tx.Now()
		if !expires.After(now) || expires.Sub(now) > lifeline.MaxTokenLife+time.Minute {
			return lifeline.Errorf(lifeline.EINVALID, "A token expires within %d days.", int(lifeline.MaxTokenLife.Hours()/24))
		}
		return insertToken(tx, me, id, hash, scope, expires, true)
	})
}

// insertToken stores a token of operator, who must be active and approved,
// and enrolled if enrolled is true.
func insertToken(tx *Tx, operator lifeline.OperatorID, id string, hash []byte, scope lifeline.TokenScope, expires time.Time, enrolled bool) error {
	var disabled, mustChange bool
	var approval string
	err := tx.QueryRow(`SELECT disabled, password_change_required, approval FROM operators WHERE id = ?`, operator).Scan(&disabled, &mustChange, &approval)
	if errors.Is(err, sql.ErrNoRows) {
		return lifeline.Errorf(lifeline.ENOTFOUND, "No such operator.")
	}
	if err != nil {
		return err
	}
	switch {
	case disabled:
		return lifeline.Errorf(lifeline.ECONFLICT, "The operator is disabled.")
	case approval != "approved":
		return lifeline.Errorf(lifeline.ECONFLICT, "The account waits for a supervisor's approval.")
	case enrolled && mustChange:
		return lifeline.Errorf(lifeline.ECONFLICT, "The account has not enrolled yet.")
	}
	_, err = tx.Exec(`INSERT INTO api_tokens (id, operator_id, token_hash, created_at, scope, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		id, operator, hash, formatTime(tx.Now()), scope, formatTime(expires))
	if tx.d.isUniqueViolation(err) {
		return lifeline.Errorf(lifeline.ECONFLICT, "A token with that id exists.")
	}
	return err
}

// Tokens lists the tokens of one operator, or of all when username is empty.
func (db *DB) Tokens(ctx context.Context, username string) ([]Token, error) {
	var out []Token
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT t.id, t.operator_id, o.username, t.scope, t.created_at, t.expires_at, COALESCE(t.revoked_at, '')
			FROM api_tokens t JOIN operators o ON o.id = t.operator_id
			WHERE ? = '' OR o.username = ? ORDER BY t.created_at, t.id`, username, username)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t Token
			var created, expires, revoked string
			if err := rows.Scan(&t.ID, &t.OperatorID, &t.Username, &t.Scope, &created, &expires, &revoked); err != nil {
				return err
			}
			if t.CreatedAt, err = parseTime(created); err != nil {
				return err
			}
			if t.ExpiresAt, err = parseTime(expires); err != nil {
				return err
			}
			if revoked != "" {
				if t.RevokedAt, err = parseTime(revoked); err != nil {
					return err
				}
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes a token by its public id; ENOTFOUND if there is none.
// Revoking a revoked token is not an error.
func (db *DB) RevokeToken(ctx context.Context, by lifeline.Actor, id string) error {
	return db.revokeToken(ctx, by, id, "")
}

// RevokeOwnToken revokes a token of the signed-in operator by; a token of
// anyone else answers ENOTFOUND, like one that does not exist.
func (db *DB) RevokeOwnToken(ctx context.Context, by lifeline.Actor, id string) error {
	if !lifeline.OperatorID(by.ID).Valid() {
		return lifeline.Errorf(lifeline.ENOTFOUND, "No token %s.", id)
	}
	return db.revokeToken(ctx, by, id, lifeline.OperatorID(by.ID))
}

func (db *DB) revokeToken(ctx context.Context, by lifeline.Actor, id string, owner lifeline.OperatorID) error {
	return db.audited(ctx, by, "token.revoke", id, "", func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND (? = '' OR operator_id = ?)`,
			formatTime(tx.Now()), id, owner, owner)
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No token %s.", id)
		}
		return nil
	})
}

// OperatorByToken authenticates a bearer token by its hash: the operator
// and the token's scope if the token is valid (not revoked, not expired)
// and the account active and approved, EUNAUTHORIZED otherwise (one answer
// for every reason, so that a caller learns nothing).
func (db *DB) OperatorByToken(ctx context.Context, hash []byte) (*lifeline.Operator, lifeline.TokenScope, error) {
	var op *lifeline.Operator
	var scope lifeline.TokenScope
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		row := tx.QueryRow(`SELECT o.id, o.username, o.role, o.disabled, o.created_at, t.scope
			FROM api_tokens t JOIN operators o ON o.id = t.operator_id
			WHERE t.token_hash = ? AND t.revoked_at IS NULL AND t.expires_at > ? AND o.disabled = 0 AND o.approval = 'approved'`, hash, formatTime(tx.Now()))
		op, err = scanOperator(scanAlso{row, []any{&scope}})
		if err != nil {
			return err
		}
		op.Teams, err = operatorTeams(tx, op.ID)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", lifeline.Errorf(lifeline.EUNAUTHORIZED, "Invalid token.")
	}
	if err != nil {
		return nil, "", fmt.Errorf("authenticate token: %w", err)
	}
	return op, scope, nil
}

// scanAlso scans a row's further columns into more, after the ones its
// caller asks for.
type scanAlso struct {
	row  interface{ Scan(...any) error }
	more []any
}

func (s scanAlso) Scan(dest ...any) error { return s.row.Scan(append(dest, s.more...)...) }
