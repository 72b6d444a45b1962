// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/seal"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

func runSender(ctx context.Context, e env, args []string) error {
	return subcommand(ctx, e, "sender", args, map[string]func(context.Context, env, []string) error{
		"block":   func(ctx context.Context, e env, args []string) error { return runSenderBlock(ctx, e, args, true) },
		"unblock": func(ctx context.Context, e env, args []string) error { return runSenderBlock(ctx, e, args, false) },
	}, "block|unblock")
}

// runSenderBlock blocks (or unblocks) a sender at the door: what it sends
// is acknowledged and not stored. The store and the audit log get only the
// sender's keyed reference, never the id typed here.
func runSenderBlock(ctx context.Context, e env, args []string, block bool) error {
	verb := "block"
	if !block {
		verb = "unblock"
	}
	cmd := "sender " + verb
	fs := newFlagSet(e, cmd, cmd+" --kind KIND --id ID --reason TEXT [--data DIR]")
	dataDir := dataDirFlag(fs)
	intakeKey := intakeKeyFlag(fs)
	kind := fs.String("kind", "", "telegram, whatsapp or sms")
	id := fs.String("id", "", "the sender: a Telegram user id, a WhatsApp wa_id, or an E.164 phone number (+…) for sms")
	reason := fs.String("reason", "", "why, for the audit log (no personal data, not the id)")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if *kind == "" || *id == "" || strings.TrimSpace(*reason) == "" {
		return usageErrorf("%s: --kind, --id and --reason are required", cmd)
	}
	k := lifeline.ChannelKind(*kind)
	if k != lifeline.ChannelTelegram && k != lifeline.ChannelWhatsApp && k != lifeline.ChannelSMS {
		return usageErrorf("%s: --kind is telegram, whatsapp or sms", cmd)
	}
	sender, err := normalizeSender(k, *id)
	if err != nil {
		return usageErrorf("%s: --id: %s", cmd, strings.TrimPrefix(err.Error(), "seal: "))
	}
	if strings.Contains(*reason, sender) || strings.Contains(*reason, strings.TrimSpace(*id)) {
		// The audit log is read by more people than the cases are.
		return usageErrorf("%s: --reason must not contain the id", cmd)
	}
	if err := checkDataDir(*dataDir, false); err != nil {
		return err
	}
	keeper, err := openKeeper(e, *dataDir, *intakeKey)
	if err != nil {
		return err
	}
	defer keeper.Seal()
	// The reference intake computes for each event; the intake key is at
	// hand while sealed.
	ref := keeper.IntakeRef(string(k), "sender", sender)
	if ref == nil {
		return usageErrorf("%s: the intake key is needed: give --intake-key", cmd)
	}
	err = withAuditKeys(ctx, e, *dataDir, keeper, func(db *sqlstore.DB) error {
		if block {
			return db.BlockSender(ctx, lifeline.CLIActor, k, ref, *reason)
		}
		return db.UnblockSender(ctx, lifeline.CLIActor, k, ref, *reason)
	})
	if err != nil {
		return err
	}
	if block {
		fmt.Fprintf(e.stdout, "Sender blocked on %s: what it sends is acknowledged and not stored.\n", k)
	} else {
		fmt.Fprintf(e.stdout, "Sender unblocked on %s.\n", k)
	}
	return nil
}

// normalizeSender puts a sender's address in the form the channel's adapter
// gives intake, so that the reference matches.
func normalizeSender(kind lifeline.ChannelKind, id string) (string, error) {
	switch kind {
	case lifeline.ChannelTelegram:
		return seal.NormalizeTelegramID(id)
	case lifeline.ChannelWhatsApp:
		return seal.NormalizeWhatsAppID(id)
	case lifeline.ChannelSMS:
		return seal.NormalizePhone(id, "")
	}
	return "", fmt.Errorf("no sender addresses on %s", kind)
}
