// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore/storetest"
)

// BenchmarkWrite measures durable writes (synchronous=FULL, on the disk
// under the test's temporary directory) one at a time and from many
// goroutines; the parallel runs show what group commit buys. It reports
// writes per commit: 1 serially, many under load.
func BenchmarkWrite(b *testing.B) {
	for _, par := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("writers=%d", par), func(b *testing.B) {
			db := storetest.MustMigrate(b, MustOpenSQLite)
			ctx := context.Background()
			var n atomic.Int64
			before := db.Stats()
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := fmt.Sprintf("bench-%d", n.Add(1))
					err := db.Write(ctx, func(tx *sqlstore.Tx) error {
						_, err := tx.Exec(`INSERT INTO meta (key, value) VALUES (?, 'x')`, key)
						return err
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			s := db.Stats()
			b.ReportMetric(float64(s.Writes-before.Writes)/float64(max(1, s.Commits-before.Commits)), "writes/commit")
		})
	}
}
