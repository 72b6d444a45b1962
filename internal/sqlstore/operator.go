// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Credentials are an operator's secrets as stored: never plaintext.
type Credentials struct {
	PasswordHash string // Argon2id PHC string
	TOTPSecret   []byte // the seed; sealed in the store (routing compartment, owner operator:<id>)
	// Enrolled skips the first-login enrolment: the password and seed are
	// the account's own already. Only the demo's invented staff are made so.
	Enrolled bool
}

func operatorOwner(id lifeline.OperatorID) string { return "operator:" + string(id) }

func totpAAD(id lifeline.OperatorID) seal.AAD {
	return seal.AAD{Table: "operators", Column: "totp_secret", Row: string(id)}
}

// audited runs fn and appends the audit entry for it in the same write, so
// that the action and its record commit together or not at all.
func (db *DB) audited(ctx context.Context, by lifeline.Actor, action, object, reason string, fn func(tx *Tx) error) error {
	return db.Write(ctx, func(tx *Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := AppendAudit(tx, audit.Entry{
			Actor: by.ID, Role: string(by.Role), Action: action, Object: object,
			Decision: audit.DecisionAllow, Reason: reason, RequestID: by.RequestID,
		})
		return err
	})
}

// CreateOperator seeds an approved staff account, which must change its
// password and enrol TOTP at first login (unless cred.Enrolled). Only the
// program itself seeds accounts so (the demo's invented staff, tests): the
// command line proposes them (ProposeOperator). It returns ECONFLICT if the
// username is taken.
func (db *DB) CreateOperator(ctx context.Context, by lifeline.Actor, op *lifeline.Operator, cred Credentials) error {
	if err := checkNewOperator(op, cred); err != nil {
		return err
	}
	return db.audited(ctx, by, "user.add", string(op.ID), "role="+string(op.Role)+" seeded", func(tx *Tx) error {
		return db.insertOperator(tx, op, cred, "approved", lifeline.OriginSeeded)
	})
}

func checkNewOperator(op *lifeline.Operator, cred Credentials) error {
	if err := op.Validate(); err != nil {
		return err
	}
	if cred.PasswordHash == "" || len(cred.TOTPSecret) == 0 {
		return lifeline.Errorf(lifeline.EINVALID, "An operator needs a password and a TOTP secret.")
	}
	return nil
}

// MaxBootstrap is how many supervisors the command line may make directly,
// without anyone's approval, while no supervisor has enrolled: once.
const MaxBootstrap = 2

// ProposeOperator adds a staff account made at the command line: pending
// until a supervisor other than the account approves it in the console
// (DecideApproval), unless it is one of the first MaxBootstrap supervisors,
// made while no supervisor has ever enrolled, which are approved at once
// (bootstrap is true). Audited either way.
func (db *DB) ProposeOperator(ctx context.Context, by lifeline.Actor, op *lifeline.Operator, cred Credentials) (bootstrap bool, err error) {
	if err := checkNewOperator(op, cred); err != nil {
		return false, err
	}
	err = db.Write(ctx, func(tx *Tx) error {
		bootstrap = false
		if op.Role == lifeline.RoleSupervisor {
			var enrolled, made int
			if err := tx.QueryRow(`SELECT COUNT(*) FROM operators WHERE role = 'supervisor' AND password_change_required = 0`).Scan(&enrolled); err != nil {
				return err
			}
			if err := tx.QueryRow(`SELECT COUNT(*) FROM operators WHERE origin = 'bootstrap'`).Scan(&made); err != nil {
				return err
			}
			bootstrap = enrolled == 0 && made < MaxBootstrap
		}
		approval, origin, reason := "pending", lifeline.OriginProposed, "role="+string(op.Role)+" pending"
		if bootstrap {
			approval, origin, reason = "approved", lifeline.OriginBootstrap, "role="+string(op.Role)+" bootstrap"
		}
		if err := db.insertOperator(tx, op, cred, approval, origin); err != nil {
			return err
		}
		_, err := AppendAudit(tx, auditEntry(by, "user.add", string(op.ID), reason))
		return err
	})
	return bootstrap, err
}

func (db *DB) insertOperator(tx *Tx, op *lifeline.Operator, cred Credentials, approval string, origin lifeline.Origin) error {
	now := formatTime(tx.Now())
	// Sealed with the compartment's public key, so that the command line
	// can add staff while the server is sealed; only the unsealed server
	// opens it, at login.
	seed, err := db.sealField(tx, operatorOwner(op.ID), "", seal.CompartmentRouting, totpAAD(op.ID), cred.TOTPSecret)
	if err != nil {
		return fmt.Errorf("seal TOTP seed: %w", err)
	}
	_, err = tx.Exec(`INSERT INTO operators (id, username, role, password_hash, password_change_required, totp_secret, disabled, created_at, updated_at, approval, origin)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`, op.ID, op.Username, op.Role, cred.PasswordHash, !cred.Enrolled, seed, now, now, approval, origin)
	if db.dialect.isUniqueViolation(err) {
		return lifeline.Errorf(lifeline.ECONFLICT, "The username %s is taken.", op.Username)
	}
	if err != nil {
		return fmt.Errorf("insert operator: %w", err)
	}
	op.CreatedAt, _ = parseTime(now)
	// A new account is in the default team (which every account and case
	// of an installation without teams of its own is in); lifeline user
	// team moves it.
	res, err := tx.Exec(`INSERT INTO operator_teams (operator_id, team) SELECT ?, name FROM teams WHERE name = ?`, op.ID, lifeline.DefaultTeam)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		op.Teams = []lifeline.Team{lifeline.DefaultTeam}
	}
	return nil
}

const operatorColumns = `id, username, role, disabled, created_at`

func scanOperator(row interface{ Scan(...any) error }) (*lifeline.Operator, error) {
	var op lifeline.Operator
	var created string
	if err := row.Scan(&op.ID, &op.Username, &op.Role, &op.Disabled, &created); err != nil {
		return nil, err
	}
	t, err := parseTime(created)
	if err != nil {
		return nil, err
	}
	op.CreatedAt = t
	return &op, nil
}

// Operators lists every staff account, by username.
func (db *DB) Operators(ctx context.Context) ([]lifeline.Operator, error) {
	var ops []lifeline.Operator
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT ` + operatorColumns + ` FROM operators ORDER BY username`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			op, err := scanOperator(rows)
			if err != nil {
				return err
			}
			ops = append(ops, *op)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		teams, err := teamsOf(tx)
		for i := range ops {
			ops[i].Teams = teams[ops[i].ID]
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return ops, nil
}

// OperatorByUsername finds an account; ENOTFOUND if there is none.
func (db *DB) OperatorByUsername(ctx context.Context, username string) (*lifeline.Operator, error) {
	var op *lifeline.Operator
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		op, err = operatorByUsername(tx, username)
		return err
	})
	return op, err
}

func operatorByUsername(tx *Tx, username string) (*lifeline.Operator, error) {
	op, err := scanOperator(tx.QueryRow(`SELECT `+operatorColumns+` FROM operators WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lifeline.Errorf(lifeline.ENOTFOUND, "No operator %s.", username)
	}
	if err != nil {
		return nil, fmt.Errorf("find operator: %w", err)
	}
	return op, nil
}

// OperatorCredentials returns the stored secrets of an account, for login;
// EUNAVAILABLE while sealed.
func (db *DB) OperatorCredentials(ctx context.Context, id lifeline.OperatorID) (Credentials, error) {
	var c Credentials
	err := db.Read(ctx, func(tx *Tx) error {
		var sealed []byte
		if err := tx.QueryRow(`SELECT password_hash, totp_secret FROM operators WHERE id = ?`, id).Scan(&c.PasswordHash, &sealed); err != nil {
			return err
		}
		seed, err := db.openField(tx, totpAAD(id), sealed)
		if err != nil {
			return unavailable(err)
		}
		c.TOTPSecret = seed
		return nil
	})
	if errors.Is(err, sql.ErrNoRows) {
		return c, lifeline.Errorf(lifeline.ENOTFOUND, "No such operator.")
	}
	return c, err
}

// DisableOperator disables an account and revokes its API tokens at once.
// Disabling a disabled account is not an error.
func (db *DB) DisableOperator(ctx context.Context, by lifeline.Actor, username, reason string) error {
	if reason == "" {
		return lifeline.Errorf(lifeline.EINVALID, "Say why the account is disabled.")
	}
	var id lifeline.OperatorID
	err := db.Read(ctx, func(tx *Tx) error {
		op, err := operatorByUsername(tx, username)
		if err == nil {
			id = op.ID
		}
		return err
	})
	if err != nil {
		return err
	}
	return db.audited(ctx, by, "user.disable", string(id), reason, func(tx *Tx) error {
		now := formatTime(tx.Now())
		if _, err := tx.Exec(`UPDATE operators SET disabled = 1, updated_at = ? WHERE id = ?`, now, id); err != nil {
			return fmt.Errorf("disable operator: %w", err)
		}
		if _, err := tx.Exec(`UPDATE api_tokens SET revoked_at = ? WHERE operator_id = ? AND revoked_at IS NULL`, now, id); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		return endSessions(tx, id)
	})
}

// Audit appends one audit entry for an action that changes nothing in the
// database (a key ceremony, a login), and returns once it is durable.
func (db *DB) Audit(ctx context.Context, by lifeline.Actor, action, object, reason string) error {
	return db.audited(ctx, by, action, object, reason, func(*Tx) error { return nil })
}

// AuditDenied appends the entry of a refusal (decision deny): a failed
// login, a route or object the actor's role does not reach.
func (db *DB) AuditDenied(ctx context.Context, by lifeline.Actor, action, object, reason string) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := AppendAudit(tx, audit.Entry{
			Actor: by.ID, Role: string(by.Role), Action: action, Object: object,
			Decision: audit.DecisionDeny, Reason: reason, RequestID: by.RequestID,
		})
		return err
	})
}
