// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

func runToken(ctx context.Context, e env, args []string) error {
	return subcommand(ctx, e, "token", args, map[string]func(context.Context, env, []string) error{
		"create": runTokenCreate, "list": runTokenList, "revoke": runTokenRevoke,
	}, "create|list|revoke")
}

func runTokenCreate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "token create", "token create --username NAME [--data DIR]")
	dataDir := dataDirFlag(fs)
	username := fs.String("username", "", "the operator the token acts as")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if *username == "" {
		return usageErrorf("token create: --username is required")
	}
	return withAudit(ctx, e, *dataDir, func(db *sqlstore.DB) error {
		token, hash, err := auth.NewToken()
		if err != nil {
			return err
		}
		id, err := auth.TokenID(token)
		if err != nil {
			return err
		}
		if err := db.CreateToken(ctx, lifeline.CLIActor, *username, id, hash); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Token %s for %s:\n\n%s\n\n", id, *username, token)
		fmt.Fprintln(e.stdout, "Send it as \"Authorization: Bearer <token>\". It is shown only once; only its hash is stored.")
		return nil
	})
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
	fmt.Fprintln(tw, "ID\tUSERNAME\tCREATED\tSTATE")
	for _, t := range tokens {
		state := "valid"
		if !t.RevokedAt.IsZero() {
			state = "revoked " + t.RevokedAt.Format("2006-01-02")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Username, t.CreatedAt.Format("2006-01-02"), state)
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
