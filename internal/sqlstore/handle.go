// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// A contact's handle is found by its tag: its exact blind index truncated
// to a width that follows the number of contacts (SECURITY.md §2.4), so
// that every tag is shared by a few contacts and the tag alone never
// confirms a handle. A lookup reads the contacts that share the handle's
// tag and confirms each by decrypting its handle.
//
// The stored tag is width<<32 | value. New contacts get the current width;
// after the number of contacts has doubled (or halved), Reseal re-indexes
// the others, a batch a write, and meanwhile lookups try every width in
// use.

// tagState is what the store knows of the tags in the contacts table.
type tagState struct {
	mu     sync.Mutex
	loaded bool
	rows   int    // contacts, counted at load and on every insert
	width  int    // the width of new tags
	widths uint64 // bit w set: some contact may have a tag of width w
	memo   []byte // a key of this process only, for inboundCache keys

	reindexing atomic.Bool    // a background re-index runs (reindexSoon)
	bg         sync.WaitGroup // it, waited for by Close
}

// tagWidth returns the width for a table of rows contacts.
func tagWidth(rows int) int { return seal.BucketBits(rows) }

// nextWidth returns the width to index at for rows contacts, given the
// current one: it moves only once the right one is off by more than one
// bit, so that a count going to and fro around a power of two does not
// re-index the table each time.
func nextWidth(current, rows int) int {
	w := tagWidth(rows)
	if current == 0 || w > current || w < current-1 {
		return w
	}
	return current
}

func encodeTag(width int, v uint32) int64 { return int64(width)<<32 | int64(v) }

// tagsLocked loads the state from the table once; the caller holds mu.
func (db *DB) tagsLocked(q interface {
	QueryRow(string, ...any) *sql.Row
	Query(string, ...any) (*sql.Rows, error)
}) error {
	t := &db.tags
	if t.loaded {
		return nil
	}
	if err := q.QueryRow(`SELECT COUNT(*) FROM contacts`).Scan(&t.rows); err != nil {
		return fmt.Errorf("count contacts: %w", err)
	}
	rows, err := q.Query(`SELECT DISTINCT handle_tag >> 32 FROM contacts WHERE handle_tag IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("tag widths: %w", err)
	}
	defer rows.Close()
	var widths uint64
	for rows.Next() {
		var w int
		if err := rows.Scan(&w); err != nil {
			return err
		}
		if w >= 1 && w <= 32 {
			widths |= 1 << w
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	t.widths, t.width = widths, nextWidth(t.width, t.rows)
	if t.memo == nil {
		t.memo = make([]byte, 32)
		rand.Read(t.memo)
	}
	t.loaded = true
	return nil
}

// handleValue normalizes a handle for its channel's domain; ok is false for
// a handle that no index can hold.
func handleValue(ch lifeline.ChannelKind, handle string) (seal.Domain, string, bool) {
	d := handleDomain(ch)
	n, err := seal.Normalize(d, handle)
	return d, n, err == nil
}

// newTag computes the tag of a new (or re-indexed) contact's handle at the
// current width, and notes the width as in use; ok is false for a handle
// that no index can hold. count says whether a new row is added.
func (db *DB) newTag(tx *Tx, ik *seal.IndexKeys, ch lifeline.ChannelKind, handle string, count bool) (sql.NullInt64, error) {
	d, n, ok := handleValue(ch, handle)
	if !ok {
		return sql.NullInt64{}, nil
	}
	db.tags.mu.Lock()
	defer db.tags.mu.Unlock()
	if err := db.tagsLocked(tx); err != nil {
		return sql.NullInt64{}, err
	}
	if count {
		db.tags.rows++
		if w := nextWidth(db.tags.width, db.tags.rows); w != db.tags.width {
			db.tags.width = w
			db.reindexSoon()
		}
	}
	w := db.tags.width
	v, err := ik.Exact(d, n, w)
	if err != nil {
		return sql.NullInt64{}, err
	}
	db.tags.widths |= 1 << w
	return sql.NullInt64{Int64: encodeTag(w, v), Valid: true}, nil
}

// lookupTags returns the tags a handle may be stored under, one per width
// in use; none for a handle that no index can hold.
func (db *DB) lookupTags(tx *Tx, ik *seal.IndexKeys, ch lifeline.ChannelKind, handle string) ([]any, error) {
	d, n, ok := handleValue(ch, handle)
	if !ok {
		return nil, nil
	}
	db.tags.mu.Lock()
	err := db.tagsLocked(tx)
	widths := db.tags.widths
	db.tags.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var tags []any
	for w := 1; w <= 32; w++ {
		if widths&(1<<w) == 0 {
			continue
		}
		v, err := ik.Exact(d, n, w)
		if err != nil {
			return nil, err
		}
		tags = append(tags, encodeTag(w, v))
	}
	return tags, nil
}

// contactByHandle finds the contact on channel ch whose handle is handle:
// the contacts that share one of its tags are candidates, each confirmed by
// decrypting its handle; the first made (by day, then id) of those
// confirmed wins. "" if none.
func (db *DB) contactByHandle(tx *Tx, ik *seal.IndexKeys, ch lifeline.ChannelKind, handle string) (lifeline.ContactID, error) {
	tags, err := db.lookupTags(tx, ik, ch, handle)
	if err != nil || len(tags) == 0 {
		return "", err
	}
	d, want, _ := handleValue(ch, handle)
	// Each candidate comes with its routing key (the one its handle is
	// sealed under), so that confirming it costs no query of its own.
	type candidate struct {
		id  lifeline.ContactID
		day string
		ct  []byte
		key []byte
		w   keys.WrappedKey
	}
	cs, err := queryAll(tx, func(rows *sql.Rows) (c candidate, err error) {
		var owner, compartment sql.NullString
		var epoch sql.NullInt64
		err = rows.Scan(&c.id, &c.day, &c.ct, &c.key, &owner, &compartment, &epoch, &c.w.Wrapped)
		if len(c.key) == len(c.w.ID) {
			copy(c.w.ID[:], c.key)
			c.w.Owner, c.w.Compartment, c.w.Epoch = owner.String, seal.Compartment(compartment.String), uint32(epoch.Int64)
		}
		return c, err
	}, `SELECT c.id, c.created_day, c.handle, k.id, k.owner, k.compartment, k.epoch, k.wrapped
		FROM contacts c LEFT JOIN data_keys k ON k.owner = 'contact:' || c.id AND k.compartment = ?
		WHERE c.channel = ? AND c.handle_tag IN (?`+strings.Repeat(", ?", len(tags)-1)+`)`,
		append([]any{string(seal.CompartmentRouting), ch}, tags...)...)
	if err != nil {
		return "", fmt.Errorf("find contact: %w", err)
	}
	// Oldest first (sorted here: an ORDER BY would tempt the planner to
	// walk the table in that order instead of using the index).
	slices.SortFunc(cs, func(a, b candidate) int {
		return cmp.Or(strings.Compare(a.day, b.day), strings.Compare(string(a.id), string(b.id)))
	})
	for _, c := range cs {
		h, err := db.openCandidate(tx, c.id, c.ct, c.key, c.w)
		if err != nil {
			return "", unavailable(err)
		}
		got, err := seal.Normalize(d, string(h))
		if err != nil {
			got = string(h)
		}
		clear(h)
		if got == want {
			return c.id, nil
		}
	}
	return "", nil
}

// openCandidate opens a candidate's handle with the key read beside it, or
// the long way if the handle names another key.
func (db *DB) openCandidate(tx *Tx, id lifeline.ContactID, ct, key []byte, w keys.WrappedKey) ([]byte, error) {
	kid, err := seal.CiphertextKeyID(ct)
	if err != nil || len(key) != len(kid) || !bytes.Equal(kid[:], key) {
		return db.openField(tx, contactAAD(id), ct)
	}
	dk, err := db.sealer.OpenDataKey(w)
	if err != nil {
		return nil, err
	}
	return seal.Decrypt(dk, contactAAD(id), ct)
}

// inboundKey is the key of a sender in inboundCache: an HMAC of the
// handle under a key that lives in this process's memory only, so that
// the cache holds no handle and nothing stored can be matched against it.
func (db *DB) inboundKey(kind lifeline.ChannelKind, channel, handle string) string {
	db.tags.mu.Lock()
	if db.tags.memo == nil {
		db.tags.memo = make([]byte, 32)
		rand.Read(db.tags.memo)
	}
	m := hmac.New(sha256.New, db.tags.memo)
	db.tags.mu.Unlock()
	m.Write([]byte(string(kind) + "\x00" + handle))
	return string(kind) + "\x00" + channel + "\x00" + string(m.Sum(nil))
}

// indexBatch bounds the contacts one write of indexContacts re-indexes.
const indexBatch = 1000

// indexAll gives every contact a tag of the current width, a batch at a
// time, and returns how many rows it changed. Handles are decrypted and
// tags computed outside the writer, on a snapshot; each batch's write only
// sets the tags, of the rows whose handle is still the one read, so that
// intake never waits long behind it.
func (db *DB) indexAll(ctx context.Context, ik *seal.IndexKeys) (int, error) {
	// Recount first (erasures and sweeps lower the count): a scan of the
	// table, so once a pass, and inside the writer, like every change of
	// the widths in use.
	reload := func(tx *Tx) error {
		db.tags.mu.Lock()
		defer db.tags.mu.Unlock()
		db.tags.loaded = false
		return db.tagsLocked(tx)
	}
	if err := db.Write(ctx, reload); err != nil {
		return 0, err
	}
	n := 0
	var after int64
	for {
		var batch []retag
		var more bool
		err := db.Read(ctx, func(tx *Tx) error {
			var err error
			batch, after, more, err = db.retags(tx, ik, after)
			return err
		})
		if err != nil {
			return n, err
		}
		if len(batch) > 0 {
			var m int
			err = db.Write(ctx, func(tx *Tx) error {
				m = 0
				for _, r := range batch {
					res, err := tx.Exec(`UPDATE contacts SET handle_tag = ? WHERE id = ? AND handle = ?`, r.tag, r.id, r.handle)
					if err != nil {
						return err
					}
					k, _ := res.RowsAffected()
					m += int(k)
				}
				return nil
			})
			n += m
			if err != nil {
				return n, err
			}
		}
		if !more {
			// The old widths are gone now: learn the ones in use afresh.
			return n, db.Write(ctx, reload)
		}
	}
}

// retag is a contact's new tag, for the handle it was computed from.
type retag struct {
	id     lifeline.ContactID
	handle []byte // the sealed handle, as read
	tag    sql.NullInt64
}

// reindexSoon starts a re-index in the background (unless one runs): the
// width of new tags has just changed, and until the contacts indexed at
// the old width follow, every lookup tries each width in use and confirms
// more candidates, which is what slows a viral day's new senders. Each
// re-index follows a doubling of the contacts, so their cost adds up to
// about one pass over the table per doubling. Sealed, there are no index
// keys: the re-index after the unseal (Reseal) does it.
func (db *DB) reindexSoon() {
	if db.sealer == nil || !db.tags.reindexing.CompareAndSwap(false, true) {
		return
	}
	db.tags.bg.Go(func() {
		defer db.tags.reindexing.Store(false)
		ik, err := db.sealer.IndexKeys()
		if err != nil {
			return
		}
		db.indexAll(context.Background(), ik) // a failure waits for the hourly maintenance
	})
}

// retags reads the contacts stored while sealed (no tag yet) and those whose
// tag has another width than the one the number of contacts calls for
// (SECURITY.md §2.4: bucket sizes follow row counts), up to indexBatch of
// them after rowid after, and computes their tags at that width. It
// returns them, the last rowid it looked at, and whether there may be more.
func (db *DB) retags(tx *Tx, ik *seal.IndexKeys, after int64) (out []retag, last int64, more bool, err error) {
	db.tags.mu.Lock()
	err = db.tagsLocked(tx)
	width := db.tags.width
	db.tags.mu.Unlock()
	if err != nil {
		return nil, after, false, err
	}
	type row struct {
		rowid int64
		id    lifeline.ContactID
		ch    lifeline.ChannelKind
		ct    []byte
	}
	rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
		return r, rows.Scan(&r.rowid, &r.id, &r.ch, &r.ct)
	}, `SELECT rowid, id, channel, handle FROM contacts WHERE rowid > ? AND (handle_tag IS NULL OR handle_tag >> 32 <> ?) ORDER BY rowid LIMIT ?`,
		after, width, indexBatch)
	if err != nil {
		return nil, after, false, err
	}
	last = after
	for _, r := range rs {
		last = r.rowid
		h, err := db.openField(tx, contactAAD(r.id), r.ct)
		if err != nil {
			return out, last, false, err
		}
		tag, err := db.newTag(tx, ik, r.ch, string(h), false)
		clear(h)
		if err != nil {
			return out, last, false, err
		}
		if tag.Valid { // else a handle no index can hold; it stays findable by id only
			out = append(out, retag{r.id, r.ct, tag})
		}
	}
	return out, last, len(rs) == indexBatch, nil
}
