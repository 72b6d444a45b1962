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
	CreatedAt  time.Time
	RevokedAt  time.Time // zero while the token is valid
}

// CreateToken stores the SHA-256 hash of a new bearer token for an active
// operator, under its public id.
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
	if op.Disabled {
		return lifeline.Errorf(lifeline.ECONFLICT, "The operator %s is disabled.", username)
	}
	return db.audited(ctx, by, "token.create", id+" "+string(op.ID), "", func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO api_tokens (id, operator_id, token_hash, created_at) VALUES (?, ?, ?, ?)`,
			id, op.ID, hash, formatTime(tx.Now()))
		if db.dialect.isUniqueViolation(err) {
			return lifeline.Errorf(lifeline.ECONFLICT, "A token with that id exists.")
		}
		return err
	})
}

// Tokens lists the tokens of one operator, or of all when username is empty.
func (db *DB) Tokens(ctx context.Context, username string) ([]Token, error) {
	var out []Token
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT t.id, t.operator_id, o.username, t.created_at, COALESCE(t.revoked_at, '')
			FROM api_tokens t JOIN operators o ON o.id = t.operator_id
			WHERE ? = '' OR o.username = ? ORDER BY t.created_at, t.id`, username, username)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t Token
			var created, revoked string
			if err := rows.Scan(&t.ID, &t.OperatorID, &t.Username, &created, &revoked); err != nil {
				return err
			}
			if t.CreatedAt, err = parseTime(created); err != nil {
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
	return db.audited(ctx, by, "token.revoke", id, "", func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, formatTime(tx.Now()), id)
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No token %s.", id)
		}
		return nil
	})
}

// OperatorByToken authenticates a bearer token by its hash: the operator if
// the token is valid and the account active, EUNAUTHORIZED otherwise (one
// answer for every reason, so that a caller learns nothing).
func (db *DB) OperatorByToken(ctx context.Context, hash []byte) (*lifeline.Operator, error) {
	var op *lifeline.Operator
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		op, err = scanOperator(tx.QueryRow(`SELECT o.id, o.username, o.role, o.disabled, o.created_at
			FROM api_tokens t JOIN operators o ON o.id = t.operator_id
			WHERE t.token_hash = ? AND t.revoked_at IS NULL AND o.disabled = 0`, hash))
		if err != nil {
			return err
		}
		op.Teams, err = operatorTeams(tx, op.ID)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lifeline.Errorf(lifeline.EUNAUTHORIZED, "Invalid token.")
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate token: %w", err)
	}
	return op, nil
}
