// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

func runToken(ctx context.Context, e env, args []string) error {
	return subcommand(ctx, e, "token", args, map[string]func(context.Context, env, []string) error{
		"create": runTokenCreate, "list": runTokenList, "revoke": runTokenRevoke,
	}, "list|revoke")
}

// runTokenCreate refuses: whoever holds the host's shell mints no token for
// anyone. An operator makes his own in the console, after a fresh code.
func runTokenCreate(context.Context, env, []string) error {
	return usageErrorf("token create: API tokens are made in the console (API tokens page) by their own operator, with a fresh code; the command line only lists and revokes them")
}

func runTokenList(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "token list", "token list [--username NAME] [--data DIR]")
	dataDir := dataDirFlag(fs)
	username := fs.String("username", "", "only this operator's tokens")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	db, err := openExisting(ctx, e, *dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	tokens, err := db.Tokens(ctx, *username)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tCREATED\tSTATE\tSCOPE\tEXPIRES")
	now := time.Now()
	for _, t := range tokens {
		state := "valid"
		switch {
		case !t.RevokedAt.IsZero():
			state = "revoked " + t.RevokedAt.Format("2006-01-02")
		case !t.Valid(now):
			state = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Username, t.CreatedAt.Format("2006-01-02"), state, t.Scope, t.ExpiresAt.Format("2006-01-02"))
	}
	return tw.Flush()
}

func runTokenRevoke(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "token revoke", "token revoke --id ID [--data DIR]")
	dataDir := dataDirFlag(fs)
	id := fs.String("id", "", "the token's id, as token list shows it")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if *id == "" {
		return usageErrorf("token revoke: --id is required")
	}
	return withAudit(ctx, e, *dataDir, func(db *sqlstore.DB) error {
		if err := db.RevokeToken(ctx, lifeline.CLIActor, *id); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Revoked %s.\n", *id)
		return nil
	})
}
