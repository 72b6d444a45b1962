// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Media states.
const (
	MediaPending  = "pending"  // queued for fetching
	MediaStored   = "stored"   // fetched, checked and stored sealed
	MediaRejected = "rejected" // fetched, and not of a type or size lifeline keeps
	MediaFailed   = "failed"   // the provider would not give it (too big, expired, gone)
	MediaSkipped  = "skipped"  // not fetched: its message is held in quarantine (the reason says so)
	// MediaDeferred: queued for a later fetch, spaced with the sender's
	// other deferred files (Options.MediaPace); the reason says why
	// (SkippedMediaBudget, or SkippedQuarantined for a released message's).
	MediaDeferred = "deferred"
)

// Reasons a media item was deferred or skipped: short fixed phrases.
const (
	SkippedMediaBudget = "media budget" // over the sender's daily media budget: deferred
	SkippedQuarantined = "quarantined"  // the message is (or was) held in quarantine
)

// DefaultMediaPace is the default gap between fetches of one sender's
// deferred media: 60 a hour at most, 1,440 a day, well within the
// providers' lifetimes of a file (WhatsApp's media ids live about 30 days;
// Telegram's file ids and Twilio's media until deleted) for any human.
const DefaultMediaPace = time.Minute

// mediaPriorityDeferred is the priority of a deferred file's fetch job:
// after fresh files (which have the default, 2), and how the spacing finds
// a conversation's last one (deferFetch spells it as a literal, which the
// partial index needs).
const mediaPriorityDeferred = 3

// fetchable is the SQL condition of a file the media worker is to fetch.
const fetchable = `state IN ('pending', 'deferred')`

// The provider's id of a media file and the file itself are sealed under
// the contact's conversation key; the provider id falls back to a key of
// the media row's own while the server is sealed (intake never waits for
// an unseal), and that key is shredded once the id is forgotten.
func mediaOwner(id lifeline.ID) string { return "media:" + string(id) }

func mediaAAD(id lifeline.ID, column string) seal.AAD {
	return seal.AAD{Table: "media", Column: column, Row: string(id)}
}

// AddMedia records a media file of a message stored in this write and
// queues a job to fetch it; it returns the media id. kind is the message's
// kind; mime and size are the provider's claims, kept only until the file
// is checked. Over the sender's media budget (skip SkippedMediaBudget) the
// file is deferred: fetched later, spaced with the sender's other deferred
// files. Of a quarantined message (skip SkippedQuarantined) it is recorded
// as MediaSkipped, not fetched until the message is released. Either way
// the operator sees that it came, and why it is not there yet.
func (in *Ingest) AddMedia(message lifeline.MessageID, contact lifeline.ContactID, kind string, providerID lifeline.Sensitive, mime string, size int64, skip string) (lifeline.ID, error) {
	if providerID.IsEmpty() {
		return "", lifeline.Errorf(lifeline.EINVALID, "A media file needs the provider's id.")
	}
	id := lifeline.NewID()
	ct, err := in.db.sealField(in.tx, contactOwner(contact), mediaOwner(id), seal.CompartmentConversation, mediaAAD(id, "provider_id"), []byte(providerID.Reveal()))
	if err != nil {
		return "", err
	}
	if len(mime) > 100 {
		mime = ""
	}
	if size < 0 {
		size = 0
	}
	now := in.tx.Now()
	state := MediaPending
	switch skip {
	case "":
	case SkippedMediaBudget:
		state = MediaDeferred
	default:
		state = MediaSkipped
	}
	if _, err := in.tx.Exec(`INSERT INTO media (id, message_id, contact_id, kind, mime, size, state, reason, provider_id, created_day)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, message, contact, kind, mime, size, state, skip, ct, lifeline.DayOf(now).String()); err != nil {
		return "", err
	}
	switch state {
	case MediaSkipped:
		return id, nil
	case MediaDeferred:
		return id, in.db.deferFetch(in.tx, id, message)
	}
	_, err = in.tx.Exec(`INSERT INTO jobs (id, kind, message_id, media_id, state, run_after) VALUES (?, 'media', ?, ?, 'pending', ?)`,
		lifeline.NewID(), message, id, formatTime(now))
	return id, err
}

// deferFetch queues the fetch of a deferred file, due one MediaPace after
// the last deferred fetch in its message's conversation (done or not), or
// now if that was longer ago: however many a sender sends, his deferred
// files are fetched at most one per MediaPace. The job names the
// conversation, and the partial index jobs_media_deferred finds its last.
func (db *DB) deferFetch(tx *Tx, media lifeline.ID, message lifeline.MessageID) error {
	now := tx.Now()
	due := now
	var conv sql.NullString
	if err := tx.QueryRow(`SELECT conversation_id FROM messages WHERE id = ?`, message).Scan(&conv); err != nil {
		return err
	}
	var last sql.NullString
	if err := tx.QueryRow(`SELECT MAX(run_after) FROM jobs WHERE conversation_id = ? AND kind = 'media' AND priority = 3`, conv).Scan(&last); err != nil {
		return err
	}
	if last.Valid {
		t, err := parseTime(last.String)
		if err != nil {
			return err
		}
		if next := t.Add(db.mediaPace); next.After(due) {
			due = next
		}
	}
	_, err := tx.Exec(`INSERT INTO jobs (id, kind, message_id, media_id, state, run_after, priority, conversation_id) VALUES (?, 'media', ?, ?, 'pending', ?, ?, ?)`,
		lifeline.NewID(), message, media, formatTime(due), mediaPriorityDeferred, conv)
	return err
}

// releaseMedia defers the fetch of the files of a conversation's
// quarantined messages, in the order they came, as the messages are
// released (ReleaseQuarantined): each stays 'quarantined' as its reason.
func (db *DB) releaseMedia(tx *Tx, conv lifeline.ConversationID) error {
	type file struct {
		id      lifeline.ID
		message lifeline.MessageID
	}
	fs, err := queryAll(tx, func(rows *sql.Rows) (f file, err error) {
		return f, rows.Scan(&f.id, &f.message)
	}, `SELECT d.id, d.message_id FROM media d JOIN messages m ON m.id = d.message_id
		WHERE m.conversation_id = ? AND m.hold = ? AND d.state = 'skipped' AND d.provider_id IS NOT NULL ORDER BY d.rowid`,
		conv, lifeline.HoldQuarantined)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if _, err := tx.Exec(`UPDATE media SET state = 'deferred' WHERE id = ?`, f.id); err != nil {
			return err
		}
		if err := db.deferFetch(tx, f.id, f.message); err != nil {
			return err
		}
	}
	return nil
}

// FetchMediaNow has a deferred or skipped file fetched at once, for an
// operator who may read its conversation (the caller checks), audited
// (media.fetch, the file as the object). ENOTFOUND if there is no such
// file; ECONFLICT if it is not waiting (stored, refused, fetching already,
// its provider id forgotten) or its message is still in quarantine
// (release it first).
func (db *DB) FetchMediaNow(ctx context.Context, by lifeline.Actor, id lifeline.ID) error {
	return db.audited(ctx, by, "media.fetch", string(id), "", func(tx *Tx) error {
		var state, hold string
		var message lifeline.MessageID
		var conv sql.NullString
		var hasID bool
		err := tx.QueryRow(`SELECT d.state, d.message_id, m.conversation_id, d.provider_id IS NOT NULL, m.hold FROM media d JOIN messages m ON m.id = d.message_id WHERE d.id = ?`, id).
			Scan(&state, &message, &conv, &hasID, &hold)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such media.")
		}
		if err != nil {
			return err
		}
		switch {
		case hold == string(lifeline.HoldQuarantined):
			return lifeline.Errorf(lifeline.ECONFLICT, "The message is held in quarantine: release it first.")
		case state != MediaDeferred && state != MediaSkipped, !hasID:
			return lifeline.Errorf(lifeline.ECONFLICT, "The file is not waiting to be fetched (%s).", state)
		}
		if _, err := tx.Exec(`UPDATE media SET state = 'pending' WHERE id = ?`, id); err != nil {
			return err
		}
		now := formatTime(tx.Now())
		// A deferred file's job, found through jobs_media_deferred, goes
		// first; a skipped one has none yet.
		res, err := tx.Exec(`UPDATE jobs SET run_after = ?, priority = 2
			WHERE conversation_id = ? AND kind = 'media' AND priority = 3 AND media_id = ? AND state = 'pending'`, now, conv, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		_, err = tx.Exec(`INSERT INTO jobs (id, kind, message_id, media_id, state, run_after) VALUES (?, 'media', ?, ?, 'pending', ?)`,
			lifeline.NewID(), message, id, now)
		return err
	})
}

// AddRefusedMedia records, in the write that stores its message, a file
// that arrived and that the channel refused to fetch, and why (a short
// fixed phrase): nothing of it is kept, not even the provider's id, but
// the operator sees that it came and can ask for it again. kind and mime
// are as for AddMedia.
func (in *Ingest) AddRefusedMedia(message lifeline.MessageID, contact lifeline.ContactID, kind, mime, reason string) (lifeline.ID, error) {
	if reason == "" {
		return "", lifeline.Errorf(lifeline.EINVALID, "A refused file needs its reason.")
	}
	if len(mime) > 100 {
		mime = ""
	}
	id := lifeline.NewID()
	_, err := in.tx.Exec(`INSERT INTO media (id, message_id, contact_id, kind, mime, size, state, reason, created_day)
		VALUES (?, ?, ?, ?, ?, 0, 'failed', ?, ?)`, id, message, contact, kind, mime, truncateReason(reason), lifeline.DayOf(in.tx.Now()).String())
	return id, err
}

// A MediaJob is a media job as the media worker claims it.
type MediaJob struct {
	ID       string
	MediaID  lifeline.ID
	Attempts int // including this one
}

// ClaimMediaJobs leases up to limit due media jobs for lease (see
// ClaimJobs).
func (db *DB) ClaimMediaJobs(ctx context.Context, lease time.Duration, limit int) ([]MediaJob, error) {
	lane := lifeline.ChannelKind("")
	return claim(ctx, db, "media", &lane, "media_id", lease, limit, func(id, target string, attempts, _ int) MediaJob {
		return MediaJob{ID: id, MediaID: lifeline.ID(target), Attempts: attempts}
	})
}

// MediaFetch is what the media worker needs for one media file.
type MediaFetch struct {
	ID          lifeline.ID
	Channel     string               // the channel's configured name
	Kind        lifeline.ChannelKind // the channel's kind
	MessageKind string               // photo, voice, audio, video, document
	State       string               // pending or deferred: to fetch; otherwise only the provider's copy is left to delete
	MIME        string               // the provider's claim while pending
	Size        int64                // the provider's claim while pending; 0 if unknown
	ProviderID  lifeline.Sensitive   // empty once forgotten
}

// MediaToFetch opens a media job's file for fetching: EUNAVAILABLE while
// sealed, ENOTFOUND if it was erased.
func (db *DB) MediaToFetch(ctx context.Context, job MediaJob) (MediaFetch, error) {
	f := MediaFetch{ID: job.MediaID}
	err := db.Read(ctx, func(tx *Tx) error {
		var pid []byte
		err := tx.QueryRow(`SELECT d.kind, d.mime, d.size, d.state, d.provider_id, COALESCE(v.channel_kind, ''), COALESCE(v.channel_name, '')
			FROM media d JOIN messages m ON m.id = d.message_id LEFT JOIN conversations v ON v.id = m.conversation_id
			WHERE d.id = ?`, job.MediaID).Scan(&f.MessageKind, &f.MIME, &f.Size, &f.State, &pid, &f.Kind, &f.Channel)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such media.")
		}
		if err != nil || pid == nil {
			return err
		}
		p, err := db.openField(tx, mediaAAD(f.ID, "provider_id"), pid)
		f.ProviderID = lifeline.Sensitive(p)
		return err
	})
	return f, unavailable(err)
}

// StoreMedia stores a fetched and checked file, sealed under its contact's
// conversation key, as mime. The job stays due: the provider's copy is
// deleted next (FinishMediaJob). A file erased meanwhile is not stored.
func (db *DB) StoreMedia(ctx context.Context, job MediaJob, mime string, data []byte) error {
	err := db.Write(ctx, func(tx *Tx) error {
		var contact lifeline.ContactID
		err := tx.QueryRow(`SELECT contact_id FROM media WHERE id = ? AND `+fetchable, job.MediaID).Scan(&contact)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		ct, err := db.sealField(tx, contactOwner(contact), "", seal.CompartmentConversation, mediaAAD(job.MediaID, "blob"), data)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE media SET state = 'stored', reason = '', mime = ?, size = ?, blob = ? WHERE id = ?`,
			mime, len(data), ct, job.MediaID)
		return err
	})
	return unavailable(err)
}

// RejectMedia records that a fetched file is not kept, and why (a short
// fixed phrase, never content). Nothing of it is stored; the provider's
// copy is deleted next.
func (db *DB) RejectMedia(ctx context.Context, job MediaJob, reason string) error {
	return db.setMediaState(ctx, job, MediaRejected, reason)
}

// MediaUnavailable records that the provider will not give a file (too
// big, gone), and why.
func (db *DB) MediaUnavailable(ctx context.Context, job MediaJob, reason string) error {
	return db.setMediaState(ctx, job, MediaFailed, reason)
}

func (db *DB) setMediaState(ctx context.Context, job MediaJob, state, reason string) error {
	reason = truncateReason(reason)
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE media SET state = ?, reason = ?, blob = NULL WHERE id = ? AND `+fetchable, state, reason, job.MediaID)
		return err
	})
}

// FinishMediaJob ends a media job whose file is stored, rejected or failed
// and whose copy at the provider is deleted, or cannot be: the provider's
// id is forgotten, with the key it was sealed under while sealed. last
// reports whether no other file of the same message still has a provider
// id: the message itself may go at the provider now.
func (db *DB) FinishMediaJob(ctx context.Context, job MediaJob) (last bool, err error) {
	var shredded []seal.KeyID
	err = db.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`UPDATE jobs SET state = 'done', lease_until = NULL, leased_by = NULL WHERE id = ?`, job.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE media SET provider_id = NULL WHERE id = ?`, job.MediaID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM media WHERE provider_id IS NOT NULL
			AND message_id = (SELECT message_id FROM media WHERE id = ?)`, job.MediaID).Scan(&n); err != nil {
			return err
		}
		last = n == 0
		shredded, err = db.deleteDataKeys(tx, mediaOwner(job.MediaID))
		return err
	})
	if err == nil && db.sealer != nil {
		db.sealer.Forget(shredded...)
	}
	return last, err
}

// FailMediaJob records a failed attempt. A permanent failure ends the job:
// a file still pending is marked failed with the reason, and the provider's
// id is forgotten. Otherwise the job is due again at retryAt; counted false
// does not count the attempt (the server was sealed).
func (db *DB) FailMediaJob(ctx context.Context, job MediaJob, reason string, permanent bool, retryAt time.Time, counted bool) error {
	reason = truncateReason(reason)
	if permanent {
		if err := db.Write(ctx, func(tx *Tx) error {
			if _, err := tx.Exec(`UPDATE jobs SET state = 'failed', lease_until = NULL, leased_by = NULL, last_error = ? WHERE id = ?`, reason, job.ID); err != nil {
				return err
			}
			_, err := tx.Exec(`UPDATE media SET state = 'failed', reason = ? WHERE id = ? AND `+fetchable, reason, job.MediaID)
			return err
		}); err != nil {
			return err
		}
		// The job is over: its id is forgotten even though its copy at
		// the provider could not be deleted.
		var shredded []seal.KeyID
		err := db.Write(ctx, func(tx *Tx) error {
			if _, err := tx.Exec(`UPDATE media SET provider_id = NULL WHERE id = ?`, job.MediaID); err != nil {
				return err
			}
			var err error
			shredded, err = db.deleteDataKeys(tx, mediaOwner(job.MediaID))
			return err
		})
		if err == nil && db.sealer != nil {
			db.sealer.Forget(shredded...)
		}
		return err
	}
	undo := 0
	if !counted {
		undo = 1
	}
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE jobs SET lease_until = NULL, leased_by = NULL, last_error = ?, run_after = ?, attempts = MAX(attempts - ?, 0) WHERE id = ?`,
			reason, formatTime(retryAt), undo, job.ID)
		return err
	})
}

func truncateReason(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

// Media is a media file as the console sees it.
type Media struct {
	ID        lifeline.ID
	MessageID lifeline.MessageID
	ContactID lifeline.ContactID
	Kind      string // the message's kind
	// Conversation is the conversation of the message, for access checks.
	Conversation lifeline.ConversationID
	MIME         string // as sniffed, once stored
	Size         int64
	State        string
	Reason       string
	Day          lifeline.Day
	// Data is the content, once stored: untrusted bytes, to be served
	// only as an attachment with nosniff, never inline.
	Data []byte
}

// Media reads a media file, opened: EUNAVAILABLE while sealed, ENOTFOUND
// if there is none.
func (db *DB) Media(ctx context.Context, id lifeline.ID) (*Media, error) {
	var m Media
	err := db.Read(ctx, func(tx *Tx) error {
		var blob []byte
		var day string
		err := tx.QueryRow(`SELECT d.id, d.message_id, d.contact_id, d.kind, d.mime, d.size, d.state, d.reason, d.created_day, d.blob,
				COALESCE(m.conversation_id, '')
			FROM media d JOIN messages m ON m.id = d.message_id WHERE d.id = ?`, id).
			Scan(&m.ID, &m.MessageID, &m.ContactID, &m.Kind, &m.MIME, &m.Size, &m.State, &m.Reason, &day, &blob, &m.Conversation)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such media.")
		}
		if err != nil {
			return err
		}
		if m.Day, err = lifeline.ParseDay(day); err != nil {
			return err
		}
		if blob == nil {
			return nil
		}
		if m.Data, err = db.openField(tx, mediaAAD(m.ID, "blob"), blob); err != nil {
			return fmt.Errorf("media %s: %w", m.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return &m, nil
}

// MessageMedia lists a message's media files, without their content.
func (db *DB) MessageMedia(ctx context.Context, message lifeline.MessageID) ([]Media, error) {
	var out []Media
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT id, message_id, contact_id, kind, mime, size, state, reason, created_day FROM media WHERE message_id = ? ORDER BY rowid`, message)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m Media
			var day string
			if err := rows.Scan(&m.ID, &m.MessageID, &m.ContactID, &m.Kind, &m.MIME, &m.Size, &m.State, &m.Reason, &day); err != nil {
				return err
			}
			if m.Day, err = lifeline.ParseDay(day); err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// ConversationMedia lists the media files of a conversation's messages,
// without their content, in the order they came.
func (db *DB) ConversationMedia(ctx context.Context, conv lifeline.ConversationID) ([]Media, error) {
	var out []Media
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (m Media, err error) {
			var day string
			if err = rows.Scan(&m.ID, &m.MessageID, &m.ContactID, &m.Kind, &m.MIME, &m.Size, &m.State, &m.Reason, &day); err == nil {
				m.Day, err = lifeline.ParseDay(day)
			}
			m.Conversation = conv
			return m, err
		}, `SELECT d.id, d.message_id, d.contact_id, d.kind, d.mime, d.size, d.state, d.reason, d.created_day
			FROM media d JOIN messages m ON m.id = d.message_id WHERE m.conversation_id = ? ORDER BY d.rowid`, conv)
		return err
	})
	return out, err
}
