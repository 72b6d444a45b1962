// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// TestCrashKeepsAcknowledgedWrites kills a writing process with SIGKILL and
// checks that every write it had acknowledged (Write returned nil, then the
// id was printed) is in the database afterwards. This is the promise a
// webhook's 200 rests on.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), sqlstore.FileName)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "LIFELINE_CRASH_CHILD_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 2000 {
		acked[sc.Text()] = true
	}
	cmd.Process.Kill() // SIGKILL: no deferred function, no Close, no checkpoint
	cmd.Wait()
	if len(acked) < 100 {
		t.Fatalf("child acknowledged only %d writes before it ended", len(acked))
	}

	db, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := map[string]bool{}
	err = db.Read(context.Background(), func(tx *sqlstore.Tx) error {
		var ok string
		if err := tx.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
			return fmt.Errorf("integrity_check: %q, %v", ok, err)
		}
		rows, err := tx.Query(`SELECT key FROM meta WHERE key LIKE 'crash-%'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			stored[k] = true
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for k := range acked {
		if !stored[k] {
			lost++
		}
	}
	t.Logf("acknowledged %d, stored %d, lost %d", len(acked), len(stored), lost)
	if lost > 0 {
		t.Fatalf("%d acknowledged writes lost after SIGKILL", lost)
	}
}

// TestCrashChild is the child of TestCrashKeepsAcknowledgedWrites; it does
// nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("LIFELINE_CRASH_CHILD_DB")
	if path == "" {
		t.Skip("runs only as the child of TestCrashKeepsAcknowledgedWrites")
	}
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("crash-%d-%d", g, i)
				err := db.Write(ctx, func(tx *sqlstore.Tx) error {
					_, err := tx.Exec(`INSERT INTO meta (key, value) VALUES (?, 'x')`, key)
					return err
				})
				if err != nil {
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintln(w, key)
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
