// SPDX-License-Identifier: AGPL-3.0-or-later

package intake_test

import (
	"context"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// A returning sender's message is prepared outside the write from what was
// read (and remembered) of its contact; these check that the write still
// decides by what holds when it runs.

// TestPreparedSenderBlockedSince: a returning sender blocked after its
// contact was read and remembered is still turned away, and its budget is
// left as it was.
func TestPreparedSenderBlockedSince(t *testing.T) {
	ctx := context.Background()
	db, k, _ := MustOpen(t, false)
	svc := intake.New(db, k, intake.Config{})
	const sender = "100000001"
	mustReceive(t, svc, lifeline.ChannelTelegram, text("1", sender, "первое"))
	mustReceive(t, svc, lifeline.ChannelTelegram, text("2", sender, "второе"))
	ref := k.IntakeRef(string(lifeline.ChannelTelegram), "sender", sender)
	if err := db.BlockSender(ctx, lifeline.CLIActor, lifeline.ChannelTelegram, ref, "provocations"); err != nil {
		t.Fatal(err)
	}
	mustReceive(t, svc, lifeline.ChannelTelegram, text("3", sender, "третье"))
	if got := mustCount(t, db); got.Messages != 3 || got.Events != 3 {
		t.Fatalf("got %+v, want 2 inbound messages and a greeting, 3 dedupe keys", got)
	}
	if st := svc.Stats(); st.DroppedBlocked != 1 || st.Deferred != 0 {
		t.Fatalf("stats %+v, want 1 dropped as blocked", st)
	}
}

// TestPreparedConversationClosedSince: once the conversation read for a
// returning sender is closed, the next message opens a new one instead of
// landing in the closed one, and every message opens with its sealed time.
func TestPreparedConversationClosedSince(t *testing.T) {
	ctx := context.Background()
	db, k, _ := MustOpen(t, false)
	var notices []intake.Notice
	svc := intake.New(db, k, intake.Config{Notify: func(n []intake.Notice) { notices = append(notices, n...) }})
	const sender = "100000002"
	mustReceive(t, svc, lifeline.ChannelTelegram, text("1", sender, "первое"))
	mustReceive(t, svc, lifeline.ChannelTelegram, text("2", sender, "второе"))
	err := db.Write(ctx, func(tx *sqlstore.Tx) error {
		_, err := tx.Exec(`UPDATE conversations SET state = 'closed'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	mustReceive(t, svc, lifeline.ChannelTelegram, text("3", sender, "третье"))
	if got := mustCount(t, db); got.Contacts != 1 || got.Conversations != 2 || got.Messages != 4 {
		t.Fatalf("got %+v, want 1 contact, 2 conversations, 3 inbound messages and a greeting", got)
	}
	if len(notices) != 3 || notices[0].Conversation != notices[1].Conversation || notices[2].Conversation == notices[1].Conversation {
		t.Fatalf("notices %+v: want the first two in one conversation, the third in another", notices)
	}
	var open lifeline.ConversationID
	var inOpen, timed int
	err = db.Read(ctx, func(tx *sqlstore.Tx) error {
		if err := tx.QueryRow(`SELECT id FROM conversations WHERE state = 'open'`).Scan(&open); err != nil {
			return err
		}
		if err := tx.QueryRow(`SELECT COUNT(*) FROM messages WHERE conversation_id = ?`, open).Scan(&inOpen); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT COUNT(*) FROM messages WHERE at IS NOT NULL`).Scan(&timed)
	})
	if err != nil {
		t.Fatal(err)
	}
	if open != notices[2].Conversation || inOpen != 1 || timed != 4 {
		t.Fatalf("open conversation %s with %d messages, %d messages timed; want %s with 1, 4 timed", open, inOpen, timed, notices[2].Conversation)
	}
	id, err := db.FindContact(ctx, lifeline.ChannelTelegram, sender)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := db.Messages(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, m := range msgs {
		if m.Direction == lifeline.Inbound {
			bodies = append(bodies, m.Body.Reveal())
		}
	}
	if len(bodies) != 3 || bodies[0] != "первое" || bodies[1] != "второе" || bodies[2] != "третье" {
		t.Fatalf("inbound bodies %q", bodies)
	}
}

// TestPreparedBatchOfOneSender: two messages of one new sender in one
// webhook (a WhatsApp batch) make one contact and one conversation.
func TestPreparedBatchOfOneSender(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	svc := intake.New(db, k, intake.Config{})
	mustReceive(t, svc, lifeline.ChannelWhatsApp, []channel.Event{
		text("1", "79990000002", "первое"), text("2", "79990000002", "второе"),
	}...)
	mustReceive(t, svc, lifeline.ChannelWhatsApp, []channel.Event{
		text("3", "79990000002", "третье"), text("4", "79990000002", "четвёртое"),
	}...)
	if got := mustCount(t, db); got.Contacts != 1 || got.Conversations != 1 || got.Messages != 5 || got.Jobs != 1 {
		t.Fatalf("got %+v, want 1 contact and conversation, 4 inbound messages and a greeting", got)
	}
}
