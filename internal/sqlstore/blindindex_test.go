// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/seal"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// TestBlindIndexNeverConfirmsAlone (issue 11 §7, SECURITY.md §2.4): the
// stored index of a contact's handle is truncated to a width that follows
// the number of contacts, so that index values are shared: two contacts
// with different handles share one, and still each lookup (outside and
// inside the writer, and intake's prepared path) finds the right contact by
// decrypting the candidates; a handle that shares an index with a stored
// one but is not stored is not found. Whoever holds the index key and tests
// a suspect's handle against the table finds an occupied index for most
// innocent handles too: suspicion, never proof.
func TestBlindIndexNeverConfirmsAlone(t *testing.T) {
	ctx := context.Background()
	s := MustOpenSealedStore(t)
	const n = 256
	handle := func(i int) string { return fmt.Sprint(200_000_000 + i*7919) } // Telegram user ids, invented
	ids := map[string]lifeline.ContactID{}
	for i := range n {
		c := lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(handle(i))}
		if err := s.CreateContact(ctx, &c); err != nil {
			t.Fatal(err)
		}
		ids[handle(i)] = c.ID
	}
	// Maintenance brings the early contacts to the width of the table.
	if _, err := s.Reseal(ctx); err != nil {
		t.Fatal(err)
	}

	width := seal.BucketBits(n)
	if got := countRows(t, s.DB, `SELECT COUNT(*) FROM contacts WHERE handle_tag >> 32 <> ?`, width); got != 0 {
		t.Fatalf("%d contacts indexed at another width than %d bits (log2(%d) - 1)", got, width, n)
	}
	ik, err := s.Keeper.IndexKeys()
	if err != nil {
		t.Fatal(err)
	}
	tagOf := func(h string) int64 {
		v, err := ik.Exact(seal.DomainTelegram, h, width)
		if err != nil {
			t.Fatal(err)
		}
		return int64(width)<<32 | int64(v)
	}
	stored := map[int64][]string{}
	for h := range ids {
		stored[tagOf(h)] = append(stored[tagOf(h)], h)
	}
	// The stored values are the truncated indexes, nothing wider.
	if got := countRows(t, s.DB, `SELECT COUNT(DISTINCT handle_tag) FROM contacts`); got != len(stored) {
		t.Errorf("%d distinct stored indexes, want the %d truncated ones", got, len(stored))
	}
	var a, b string
	for _, hs := range stored {
		if len(hs) >= 2 {
			a, b = hs[0], hs[1]
			break
		}
	}
	if a == "" {
		t.Fatalf("%d contacts in %d indexes, none shared: want shared indexes", n, len(stored))
	}
	if got := countRows(t, s.DB, `SELECT COUNT(*) FROM contacts WHERE handle_tag = ?`, tagOf(a)); got < 2 {
		t.Fatalf("the index of two handles holds %d rows, want them both", got)
	}

	// Each lookup confirms by decrypting: the right contact, every way.
	for _, h := range []string{a, b} {
		if id, err := s.FindContact(ctx, lifeline.ChannelTelegram, h); err != nil || id != ids[h] {
			t.Errorf("FindContact(one of two sharing an index) = %s, %v; want %s", id, err, ids[h])
		}
		err := s.Ingest(ctx, func(in *sqlstore.Ingest) error {
			id, found, err := in.FindContact(lifeline.ChannelTelegram, h)
			if err != nil || !found || id != ids[h] {
				t.Errorf("Ingest.FindContact(one of two sharing an index) = %s, %v, %v; want %s", id, found, err, ids[h])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // read, then from the cache
			p, err := s.PrepareInbound(ctx, sqlstore.InboundArgs{Kind: lifeline.ChannelTelegram, Channel: "bot", Handle: h, Body: "Здравствуйте"})
			if err != nil {
				t.Fatal(err)
			}
			if id, found := p.Contact(); !found || id != ids[h] {
				t.Errorf("PrepareInbound(one of two sharing an index) found %s, %v; want %s", id, found, ids[h])
			}
		}
	}
	// A second contact for a stored handle is refused, though indexes are
	// not unique.
	dup := lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(a)}
	if err := s.CreateContact(ctx, &dup); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("CreateContact(a stored handle) = %v, want ECONFLICT", err)
	}

	// Innocent handles: most land on an occupied index, and none is found.
	occupied, tried := 0, 0
	for i := range 2000 {
		h := fmt.Sprint(900_000_000 + i*31)
		if _, ok := ids[h]; ok {
			continue
		}
		tried++
		if len(stored[tagOf(h)]) == 0 {
			continue
		}
		occupied++
		if occupied <= 20 {
			if id, err := s.FindContact(ctx, lifeline.ChannelTelegram, h); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
				t.Errorf("FindContact(an innocent handle on an occupied index) = %s, %v; want ENOTFOUND", id, err)
			}
		}
	}
	if share := float64(occupied) / float64(tried); share < 0.5 {
		t.Errorf("%.0f %% of innocent handles find an occupied index, want most (the index alone must not confirm)", 100*share)
	} else {
		t.Logf("%d contacts at %d bits: %.0f %% of %d innocent handles find an occupied index", n, width, 100*share, tried)
	}
}

// TestBlindIndexFollowsGrowthWithoutMaintenance: a viral day's new
// senders double the contacts again and again between two maintenance
// runs; each time the width of new tags changes, the store re-indexes the
// older contacts in the background, so that lookups are soon back to one
// width and a few candidates each, and every contact is still found.
func TestBlindIndexFollowsGrowthWithoutMaintenance(t *testing.T) {
	ctx := context.Background()
	s := MustOpenSealedStore(t)
	const n = 1500
	handle := func(i int) string { return fmt.Sprint(300_000_000 + i*104729) } // invented Telegram user ids
	ids := make([]lifeline.ContactID, n)
	for i := range n {
		c := lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(handle(i))}
		if err := s.CreateContact(ctx, &c); err != nil {
			t.Fatal(err)
		}
		ids[i] = c.ID
	}
	width := seal.BucketBits(n)
	deadline := time.Now().Add(10 * time.Second)
	for countRows(t, s.DB, `SELECT COUNT(*) FROM contacts WHERE handle_tag >> 32 <> ?`, width) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d contacts still at another width than %d bits, with no maintenance run",
				countRows(t, s.DB, `SELECT COUNT(*) FROM contacts WHERE handle_tag >> 32 <> ?`, width), width)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, i := range []int{0, 1, 2, n / 2, n - 1} {
		got, err := s.FindContact(ctx, lifeline.ChannelTelegram, handle(i))
		if err != nil || got != ids[i] {
			t.Errorf("contact %d: found %q %v, want %s", i, got, err, ids[i])
		}
	}
}
