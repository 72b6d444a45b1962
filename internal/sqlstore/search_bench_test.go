// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// BenchmarkSearchWords: a words search over the bound, 500 conversations
// of five messages each, none matching (every message read).
func BenchmarkSearchWords(b *testing.B) {
	ctx := context.Background()
	e := mustRoutingEnv(b)
	for i := range sqlstore.SearchScanConversations {
		c := &lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(fmt.Sprint(300000000 + i))}
		err := e.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
			if err := in.CreateContact(c); err != nil {
				return err
			}
			conv, _, err := in.OpenConversation(c.ID, lifeline.ChannelTelegram, "bot", "", "")
			if err != nil {
				return err
			}
			for j := range 5 {
				m := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: c.ID, Direction: lifeline.Inbound, Body: lifeline.Sensitive(fmt.Sprintf("Сообщение номер %d о погоде и дороге", j))}
				if err := in.AddMessage(m, conv, "text", nil, ""); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	q := sqlstore.SearchQuery{Who: lifeline.Reacher{Role: lifeline.RoleSupervisor, ID: lifeline.OperatorID(e.boss.ID), At: e.clock.Now()}, Text: "бронетранспортёр"}
	b.ResetTimer()
	for b.Loop() {
		res, err := e.db.Search(ctx, e.boss, q)
		if err != nil {
			b.Fatal(err)
		}
		if res.Scanned != sqlstore.SearchScanConversations || res.Partial {
			b.Fatalf("scanned %d, partial %v", res.Scanned, res.Partial)
		}
	}
}
