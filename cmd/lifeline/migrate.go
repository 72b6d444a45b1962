// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

func runMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "migrate", "migrate [--data DIR]")
	dataDir := dataDirFlag(fs)
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if err := checkDataDir(*dataDir, true); err != nil {
		return err
	}
	// Never under a running server: it would run on with a schema its code
	// does not know.
	lock, err := lockDataDir(*dataDir, "migrate")
	if err != nil {
		return err
	}
	defer lock.release()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(*dataDir, sqlstore.FileName), sqlstore.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(e.stdout, "Schema is current (version %d).\n", db.LatestVersion())
		return nil
	}
	fmt.Fprintf(e.stdout, "Applied migrations %v; schema at version %d.\n", applied, db.LatestVersion())
	return nil
}
