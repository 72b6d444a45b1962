// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

func TestBlockSender(t *testing.T) {
	ctx := context.Background()
	db := MustOpenSQLite(t)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ref := bytes.Repeat([]byte{0xab}, 32)
	blocked := func(kind lifeline.ChannelKind) bool {
		t.Helper()
		var got bool
		err := db.Ingest(ctx, func(in *sqlstore.Ingest) error {
			var err error
			got, err = in.IsBlocked(kind, ref)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, bad := range []struct {
		kind   lifeline.ChannelKind
		ref    []byte
		reason string
	}{{"", ref, "r"}, {"pager", ref, "r"}, {lifeline.ChannelSMS, ref[:7], "r"}, {lifeline.ChannelSMS, ref, ""}} {
		if err := db.BlockSender(ctx, lifeline.CLIActor, bad.kind, bad.ref, bad.reason); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("block %q %x %q: got %v, want EINVALID", bad.kind, bad.ref, bad.reason, err)
		}
	}
	if blocked(lifeline.ChannelSMS) {
		t.Fatal("blocked before BlockSender")
	}
	for range 2 { // blocking twice is no error
		if err := db.BlockSender(ctx, lifeline.CLIActor, lifeline.ChannelSMS, ref, "flood"); err != nil {
			t.Fatal(err)
		}
	}
	if !blocked(lifeline.ChannelSMS) || blocked(lifeline.ChannelTelegram) {
		t.Fatal("want blocked on sms only")
	}
	if err := db.UnblockSender(ctx, lifeline.CLIActor, lifeline.ChannelSMS, ref, "resolved"); err != nil {
		t.Fatal(err)
	}
	if blocked(lifeline.ChannelSMS) {
		t.Fatal("still blocked after UnblockSender")
	}
	if err := db.UnblockSender(ctx, lifeline.CLIActor, lifeline.ChannelSMS, ref, "resolved"); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Fatalf("unblock twice: got %v, want ENOTFOUND", err)
	}
}
