// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestClaimUsesIndex: a lane's claim (and its claim of replies alone) walks the partial index jobs_claim in
// (priority, run_after) order, with no sort and no scan of the table, done
// jobs and all: it stays cheap however long the history of sends grows.
func TestClaimUsesIndex(t *testing.T) {
	ctx := context.Background()
	db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct{ name, kind, target, cond string }{
		{"send", "send", "message_id", laneCondition},
		{"reply", "send", "message_id", replyLaneCondition},
		{"media", "media", "media_id", laneCondition},
	} {
		var plan []string
		err := db.Read(ctx, func(tx *Tx) error {
			args := []any{"2026-01-01T00:00:00.000000Z", nil, q.kind, "telegram"}
			if q.cond == replyLaneCondition {
				args = append(args, PriorityReply)
			}
			rows, err := tx.Query(`EXPLAIN QUERY PLAN `+claimQuery(q.cond, q.target),
				append(args, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", 32)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					return err
				}
				plan = append(plan, detail)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(plan, "\n")
		if !strings.Contains(all, "USING INDEX jobs_claim") || strings.Contains(all, "TEMP B-TREE") || strings.Contains(all, "SCAN jobs\n") || strings.HasSuffix(all, "SCAN jobs") {
			t.Errorf("%s claim plan:\n%s\nwant jobs_claim walked in order, no sort, no table scan", q.name, all)
		}
	}
}
