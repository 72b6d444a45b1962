// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// TestKeyFileSwapMovedMessageDoesNotOpen (issue 11 §3): a message row moved
// by a writer of the database into another conversation — of another
// contact, or of the same contact — does not open there (today it does:
// its data key was found by id alone and its body bound only to its row).
func TestKeyFileSwapMovedMessageDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	unseal := filepath.Join(dir, "unseal")
	if _, err := keys.Init(filepath.Join(dir, "keys"), keys.Options{DevFile: unseal}); err != nil {
		t.Fatal(err)
	}
	k := MustOpenKeeper(t, filepath.Join(dir, "keys"), unseal)
	path := filepath.Join(dir, sqlstore.FileName)
	db := MustOpenStoreAt(t, path, k)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	contact := func(handle string) lifeline.ContactID {
		c := &lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(handle)}
		if err := db.CreateContact(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	a, b := contact("100000001"), contact("100000002")
	var convA, convA2, convB lifeline.ConversationID
	msg := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: a, Direction: lifeline.Inbound, Body: "invented text of soldier A"}
	err := db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		var err error
		if convA, _, err = in.OpenConversation(a, lifeline.ChannelTelegram, "bot", "", "100000001"); err != nil {
			return err
		}
		if convA2, _, err = in.OpenConversation(a, lifeline.ChannelTelegram, "bot2", "", "100000001"); err != nil {
			return err
		}
		if convB, _, err = in.OpenConversation(b, lifeline.ChannelTelegram, "bot", "", "100000002"); err != nil {
			return err
		}
		return in.AddMessage(msg, convA, "text", nil, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	if ms, err := db.ConversationMessages(ctx, convA); err != nil || len(ms) != 1 || ms[0].Text != msg.Body {
		t.Fatalf("in its own conversation: %v, %v", ms, err)
	}

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, tt := range []struct {
		name    string
		conv    lifeline.ConversationID
		contact lifeline.ContactID
	}{
		{"another contact's conversation", convB, b},
		{"another conversation of the same contact", convA2, a},
	} {
		if _, err := raw.Exec(`UPDATE messages SET conversation_id = ?, contact_id = ? WHERE id = ?`, tt.conv, tt.contact, msg.ID); err != nil {
			t.Fatal(err)
		}
		ms, err := db.ConversationMessages(ctx, tt.conv)
		if err == nil {
			t.Errorf("moved into %s: read %d messages, want an error", tt.name, len(ms))
		}
		if _, err := db.Messages(ctx, tt.contact); err == nil {
			t.Errorf("moved into %s: the contact's messages read, want an error", tt.name)
		}
	}
	// Moved back, it opens again: nothing was destroyed.
	if _, err := raw.Exec(`UPDATE messages SET conversation_id = ?, contact_id = ? WHERE id = ?`, convA, a, msg.ID); err != nil {
		t.Fatal(err)
	}
	if ms, err := db.ConversationMessages(ctx, convA); err != nil || len(ms) != 1 {
		t.Fatalf("moved back: %v, %v", ms, err)
	}

	// A body sealed before owners were bound (format 1) still opens, and
	// the first reseal after the upgrade binds it to its conversation.
	legacy := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: a, Direction: lifeline.Inbound, Body: "invented older text"}
	if err := db.AddMessage(ctx, legacy); err != nil { // no conversation: format 1
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE messages SET conversation_id = ? WHERE id = ?`, convA, legacy.ID); err != nil {
		t.Fatal(err)
	}
	if ms, err := db.ConversationMessages(ctx, convA); err != nil || len(ms) != 2 {
		t.Fatalf("with a format-1 body: %v, %v", ms, err)
	}
	if _, err := db.Reseal(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE messages SET conversation_id = ? WHERE id = ?`, convA2, legacy.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ConversationMessages(ctx, convA2); err == nil {
		t.Errorf("a resealed format-1 body moved to another conversation of its contact opened there")
	}
}
