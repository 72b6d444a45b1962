// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// subcommand dispatches "lifeline NOUN VERB ...".
func subcommand(ctx context.Context, e env, noun string, args []string, verbs map[string]func(context.Context, env, []string) error, names string) error {
	if len(args) == 0 {
		return usageErrorf("%s: say which: %s (see lifeline %s -h)", noun, names, noun)
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprintf(e.stdout, "Usage: lifeline %s <%s> [flags]\n", noun, names)
		return nil
	}
	fn, ok := verbs[args[0]]
	if !ok {
		return usageErrorf("%s: unknown command %q (want %s)", noun, args[0], names)
	}
	return fn(ctx, e, args[1:])
}

func runUser(ctx context.Context, e env, args []string) error {
	return subcommand(ctx, e, "user", args, map[string]func(context.Context, env, []string) error{
		"add": runUserAdd, "list": runUserList, "disable": runUserDisable, "role": runUserRole, "team": runUserTeam,
	}, "add|list|disable|role|team")
}

func runUserAdd(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "user add", "user add --username NAME --role ROLE [--data DIR]")
	dataDir := dataDirFlag(fs)
	username := fs.String("username", "", "login name: 3-32 of a-z 0-9 . _ -, starting with a letter")
	role := fs.String("role", "", "one of: intake, case-officer, verification, finance, supervisor, auditor, admin")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if !lifeline.ValidUsername(*username) {
		return usageErrorf("user add: --username must be 3-32 of a-z 0-9 . _ -, starting with a letter")
	}
	r, err := lifeline.ParseRole(*role)
	if err != nil {
		return usageErrorf("user add: --role: %v", lifeline.ErrorMessage(err))
	}
	if _, err := os.Stat(filepath.Join(*dataDir, keysDir, keys.KeyringFile)); err != nil {
		return usageErrorf("user add: no keys in %s (the TOTP seed is stored sealed): run lifeline init --data %s first", *dataDir, *dataDir)
	}
	return withAudit(ctx, e, *dataDir, func(db *sqlstore.DB) error {
		password := auth.GeneratePassword()
		var h auth.Hasher // the pepper from the unsealed keyring arrives with the keys issue
		hash, err := h.HashContext(ctx, password)
		if err != nil {
			return err
		}
		// A placeholder seed, never shown: the first sign-in enrols the
		// operator's own key from a QR code the console draws.
		enr, err := auth.NewTOTPSecret("Lifeline", *username)
		if err != nil {
			return err
		}
		op := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: *username, Role: r}
		bootstrap, err := db.ProposeOperator(ctx, lifeline.CLIActor, op, sqlstore.Credentials{PasswordHash: hash, TOTPSecret: []byte(enr.Secret)})
		if err != nil {
			return err
		}
		if bootstrap {
			fmt.Fprintf(e.stdout, "Created %s (%s) DIRECTLY, WITHOUT A SECOND PERSON'S APPROVAL.\n\n", op.Username, op.Role)
			fmt.Fprintln(e.stdout, "BOOTSTRAP: no supervisor has enrolled yet, so the command line may make the first")
			fmt.Fprintf(e.stdout, "%d supervisors on its own word, once, and never again. The two must be two different\n", sqlstore.MaxBootstrap)
			fmt.Fprintln(e.stdout, "people, present now; whoever runs this command could otherwise hold both. From now on")
			fmt.Fprintln(e.stdout, "every account and role change made here waits for a supervisor's approval in the console.")
			fmt.Fprintln(e.stdout)
		} else {
			fmt.Fprintf(e.stdout, "Created %s (%s), pending.\n\n", op.Username, op.Role)
			fmt.Fprintln(e.stdout, "The account cannot sign in until a supervisor (not the account itself) approves it in")
			fmt.Fprintln(e.stdout, "the console (Account approvals) with a fresh code.")
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "One-time password:  %s\n\n", password)
		fmt.Fprintln(e.stdout, "Give it to the operator in person; it is shown only once. At first sign-in the console")
		fmt.Fprintln(e.stdout, "asks for a new password and shows a QR code for an authenticator app (TOTP).")
		return nil
	})
}

func runUserList(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "user list", "user list [--data DIR]")
	dataDir := dataDirFlag(fs)
	if err := fs.parseAll(args); err != nil {
		return err
	}
	db, err := openExisting(ctx, e, *dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	ops, err := db.Operators(ctx)
	if err != nil {
		return err
	}
	states, err := db.AccountStates(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tROLE\tSTATE\tAPPROVAL\tTEAMS\tCREATED\tID")
	for _, op := range ops {
		// STATE is what the account can do now; APPROVAL how it came to
		// be and what waits for a supervisor (bootstrap, role-pending:…).
		state, approval := "active", states[op.ID]
		if rest, ok := strings.CutPrefix(approval, "pending"); ok {
			state, approval = "pending", strings.TrimPrefix(rest, ",")
		}
		if op.Disabled {
			state = "disabled"
		}
		if approval == "" {
			approval = "-"
		}
		teams := "-"
		if len(op.Teams) > 0 {
			teams = ""
			for i, t := range op.Teams {
				if i > 0 {
					teams += ","
				}
				teams += string(t)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", op.Username, op.Role, state, approval, teams, op.CreatedAt.Format("2006-01-02"), op.ID)
	}
	return tw.Flush()
}

func runUserDisable(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "user disable", "user disable --username NAME --reason TEXT [--data DIR]")
	dataDir := dataDirFlag(fs)
	username := fs.String("username", "", "the account to disable")
	reason := fs.String("reason", "", "why, for the audit log (no personal data)")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if *username == "" || *reason == "" {
		return usageErrorf("user disable: --username and --reason are required")
	}
	return withAudit(ctx, e, *dataDir, func(db *sqlstore.DB) error {
		if err := db.DisableOperator(ctx, lifeline.CLIActor, *username, *reason); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Disabled %s; its API tokens are revoked.\n", *username)
		return nil
	})
}

// runUserRole proposes a role change: it waits for a supervisor's approval
// in the console; then the account's console sessions end, so the new role
// applies from the next sign-in.
func runUserRole(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "user role", "user role --username NAME --role ROLE [--data DIR]")
	dataDir := dataDirFlag(fs)
	username := fs.String("username", "", "the account")
	role := fs.String("role", "", "one of: intake, case-officer, verification, finance, supervisor, auditor, admin")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if *username == "" || *role == "" {
		return usageErrorf("user role: --username and --role are required")
	}
	r, err := lifeline.ParseRole(*role)
	if err != nil {
		return usageErrorf("user role: --role: %v", lifeline.ErrorMessage(err))
	}
	return withAudit(ctx, e, *dataDir, func(db *sqlstore.DB) error {
		op, err := db.OperatorByUsername(ctx, *username)
		if err != nil {
			return err
		}
		if err := db.ProposeRole(ctx, lifeline.CLIActor, op.ID, r); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: role %s proposed, pending. It takes effect once a supervisor (not the account\n", op.Username, r)
		fmt.Fprintln(e.stdout, "itself) approves it in the console (Account approvals); then their console sessions end.")
		return nil
	})
}

// runUserTeam puts an account in a team or takes it out of one: how far
// its "team" grants reach (a supervisor's reading of conversations, intel
// and the audit log; a case officer's view of the new-contact queue). It
// applies at the account's next request.
func runUserTeam(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "user team", "user team --username NAME (--join TEAM | --leave TEAM) [--data DIR]")
	dataDir := dataDirFlag(fs)
	username := fs.String("username", "", "the account")
	join := fs.String("join", "", "the team to put it in (made if there is none of that name)")
	leave := fs.String("leave", "", "the team to take it out of")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if *username == "" || (*join == "") == (*leave == "") {
		return usageErrorf("user team: --username and one of --join or --leave are required")
	}
	team, err := lifeline.ParseTeam(*join + *leave)
	if err != nil {
		return usageErrorf("user team: %v", lifeline.ErrorMessage(err))
	}
	return withAudit(ctx, e, *dataDir, func(db *sqlstore.DB) error {
		op, err := db.OperatorByUsername(ctx, *username)
		if err != nil {
			return err
		}
		if *join != "" {
			err = db.JoinTeam(ctx, lifeline.CLIActor, op.ID, team)
		} else {
			err = db.LeaveTeam(ctx, lifeline.CLIActor, op.ID, team)
		}
		if err != nil {
			return err
		}
		verb := "now in"
		if *leave != "" {
			verb = "no longer in"
		}
		fmt.Fprintf(e.stdout, "%s is %s team %s.\n", op.Username, verb, team)
		return nil
	})
}
