// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// BucketBits is the width of the truncated blind indexes used for
// cross-case duplicate checks: about log2(expected rows) - 1, so that a
// lookup finds a few candidates and a hit is suspicion, not proof
// (SECURITY.md §2.4). 16 bits suits up to ~100,000 rows; re-bucket with the
// next index-key rotation when the program outgrows it.
const BucketBits = 16

// CreateCase stores a new case. Its code name must be unique; ECONFLICT if
// it is taken (draw another).
func (db *DB) CreateCase(ctx context.Context, by lifeline.Actor, c *lifeline.Case) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return db.audited(ctx, by, "case.create", string(c.ID), "", func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO cases (id, code_name, stream, status, lost_from, assigned_to, created_day)
			VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), ?)`,
			c.ID, c.CodeName, c.Stream, c.Status, c.LostFrom, c.AssignedTo, c.CreatedDay.String())
		if db.dialect.isUniqueViolation(err) {
			return lifeline.Errorf(lifeline.ECONFLICT, "The code name is taken.")
		}
		return err
	})
}

// Case reads a case's workflow fields (all plaintext); ENOTFOUND if there
// is none, as after a shred.
func (db *DB) Case(ctx context.Context, id lifeline.CaseID) (*lifeline.Case, error) {
	var c lifeline.Case
	var created string
	var closed, assigned sql.NullString
	err := db.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(`SELECT id, code_name, stream, status, lost_from, assigned_to, created_day, closed_day FROM cases WHERE id = ?`, id).
			Scan(&c.ID, &c.CodeName, &c.Stream, &c.Status, &c.LostFrom, &assigned, &created, &closed)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lifeline.Errorf(lifeline.ENOTFOUND, "No such case.")
	}
	if err != nil {
		return nil, fmt.Errorf("read case: %w", err)
	}
	c.AssignedTo = lifeline.OperatorID(assigned.String)
	if c.CreatedDay, err = lifeline.ParseDay(created); err != nil {
		return nil, err
	}
	if closed.Valid {
		if c.ClosedDay, err = lifeline.ParseDay(closed.String); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// personData is the sealed part of a person row.
type personData struct {
	Name           string `json:"name,omitempty"`
	BirthDate      string `json:"birth_date,omitempty"`
	Unit           string `json:"unit,omitempty"`
	Rank           string `json:"rank,omitempty"`
	ServiceNumber  string `json:"service_number,omitempty"`
	DocumentNumber string `json:"document_number,omitempty"`
	Whereabouts    string `json:"whereabouts,omitempty"`
	Phone          string `json:"phone,omitempty"`
}

func personAAD(id lifeline.PersonID) seal.AAD {
	return seal.AAD{Table: "persons", Column: "data", Row: string(id)}
}

// AddPerson adds a person to a case, sealed under the case's identity key,
// with truncated blind indexes of the service and document numbers for
// duplicate checks (when the keys are unsealed).
func (db *DB) AddPerson(ctx context.Context, by lifeline.Actor, p *lifeline.Person) error {
	if !p.ID.Valid() || !p.CaseID.Valid() || !p.Relation.Valid() {
		return lifeline.Errorf(lifeline.EINVALID, "A person needs an id, a case and a relation.")
	}
	data, err := json.Marshal(personData{
		Name: p.Name.Reveal(), BirthDate: p.BirthDate.Reveal(), Unit: p.Unit.Reveal(), Rank: p.Rank.Reveal(),
		ServiceNumber: p.ServiceNumber.Reveal(), DocumentNumber: p.DocumentNumber.Reveal(),
		Whereabouts: p.Whereabouts.Reveal(), Phone: p.Phone.Reveal(),
	})
	if err != nil {
		return err
	}
	buckets := db.buckets(map[seal.Domain]string{
		seal.DomainServiceNumber:  p.ServiceNumber.Reveal(),
		seal.DomainDocumentNumber: p.DocumentNumber.Reveal(),
		seal.DomainPhone:          p.Phone.Reveal(),
	})
	return db.audited(ctx, by, "person.add", string(p.CaseID)+" "+string(p.ID), "", func(tx *Tx) error {
		// Each person has a data key of his own, so that one relative can
		// be crypto-shredded without the rest of the case.
		ct, err := db.sealField(tx, personOwner(p.ID), "", seal.CompartmentIdentity, personAAD(p.ID), data)
		if err != nil {
			return unavailable(err)
		}
		if _, err := tx.Exec(`INSERT INTO persons (id, case_id, relation, data) VALUES (?, ?, ?, ?)`, p.ID, p.CaseID, p.Relation, ct); err != nil {
			return fmt.Errorf("insert person: %w", err)
		}
		for domain, b := range buckets {
			if _, err := tx.Exec(`INSERT INTO person_buckets (person_id, domain, bucket) VALUES (?, ?, ?)`, p.ID, string(domain), b); err != nil {
				return err
			}
		}
		return nil
	})
}

// buckets computes the truncated blind indexes of the non-empty values it
// can normalize; none while sealed.
func (db *DB) buckets(values map[seal.Domain]string) map[seal.Domain]uint32 {
	out := map[seal.Domain]uint32{}
	if db.sealer == nil {
		return out
	}
	ik, err := db.sealer.IndexKeys()
	if err != nil {
		return out
	}
	for domain, v := range values {
		if v == "" {
			continue
		}
		n, err := seal.Normalize(domain, v)
		if err != nil {
			continue // a value no index can hold: no duplicate check, never a failure
		}
		if b, err := ik.Bucket(domain, n, BucketBits); err == nil {
			out[domain] = b
		}
	}
	return out
}

// Persons reads the persons of a case; EUNAVAILABLE while sealed.
func (db *DB) Persons(ctx context.Context, caseID lifeline.CaseID) ([]lifeline.Person, error) {
	var out []lifeline.Person
	err := db.Read(ctx, func(tx *Tx) error {
		type row struct {
			id       lifeline.PersonID
			relation lifeline.Relation
			data     []byte
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.id, &r.relation, &r.data)
		}, `SELECT id, relation, data FROM persons WHERE case_id = ? ORDER BY id`, caseID)
		if err != nil {
			return err
		}
		for _, r := range rs {
			plain, err := db.openField(tx, personAAD(r.id), r.data)
			if err != nil {
				return unavailable(err)
			}
			var d personData
			if err := json.Unmarshal(plain, &d); err != nil {
				return fmt.Errorf("person %s: %w", r.id, err)
			}
			out = append(out, lifeline.Person{
				ID: r.id, CaseID: caseID, Relation: r.relation,
				Name: lifeline.Sensitive(d.Name), BirthDate: lifeline.Sensitive(d.BirthDate),
				Unit: lifeline.Sensitive(d.Unit), Rank: lifeline.Sensitive(d.Rank),
				ServiceNumber: lifeline.Sensitive(d.ServiceNumber), DocumentNumber: lifeline.Sensitive(d.DocumentNumber),
				Whereabouts: lifeline.Sensitive(d.Whereabouts), Phone: lifeline.Sensitive(d.Phone),
			})
		}
		return nil
	})
	return out, err
}

// PersonsInBucket lists the persons (of any case) whose service or document
// number falls in the same truncated blind-index bucket as value: candidates
// for a duplicate, to be confirmed by decrypting. EUNAVAILABLE while sealed.
func (db *DB) PersonsInBucket(ctx context.Context, domain seal.Domain, value string) ([]lifeline.PersonID, error) {
	if db.sealer == nil {
		return nil, errNoSealer
	}
	ik, err := db.sealer.IndexKeys()
	if err != nil {
		return nil, unavailable(err)
	}
	n, err := seal.Normalize(domain, value)
	if err != nil {
		return nil, lifeline.Errorf(lifeline.EINVALID, "That value cannot be looked up.")
	}
	b, err := ik.Bucket(domain, n, BucketBits)
	if err != nil {
		return nil, err
	}
	var ids []lifeline.PersonID
	err = db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT person_id FROM person_buckets WHERE domain = ? AND bucket = ? ORDER BY person_id`, string(domain), b)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id lifeline.PersonID
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	return ids, err
}

func contactAAD(id lifeline.ContactID) seal.AAD {
	return seal.AAD{Table: "contacts", Column: "handle", Row: string(id)}
}

// messageAAD binds a message's body to its row and, when it has one, to
// its conversation (issue 11): moved to another conversation, the row does
// not open there.
func messageAAD(id lifeline.MessageID, conv lifeline.ConversationID) seal.AAD {
	a := seal.AAD{Table: "messages", Column: "body", Row: string(id)}
	if conv != "" {
		a.Owner = conversationOwner(conv)
	}
	return a
}

// conversationOwner is what a message body is bound to.
func conversationOwner(id lifeline.ConversationID) string { return "conversation:" + string(id) }

// openMessage opens a message body of the contact's: its data key must be
// the contact's conversation key (or the message's own, stored while
// sealed), and the body bound to conv.
func (db *DB) openMessage(tx *Tx, id lifeline.MessageID, contact lifeline.ContactID, conv lifeline.ConversationID, ct []byte) ([]byte, error) {
	return db.openOwned(tx, messageAAD(id, conv), ct, contactOwner(contact), messageOwner(id))
}

// handleDomain is the blind-index domain of a channel's handles.
func handleDomain(ch lifeline.ChannelKind) seal.Domain {
	switch ch {
	case lifeline.ChannelTelegram:
		return seal.DomainTelegram
	case lifeline.ChannelWhatsApp:
		return seal.DomainWhatsApp
	}
	return seal.DomainPhone
}

// CreateContact stores a contact, its handle sealed under the contact's
// routing key. It works while sealed; the blind indexes that let a returning
// contact be found are then left empty.
func (db *DB) CreateContact(ctx context.Context, c *lifeline.Contact) error {
	return db.Write(ctx, func(tx *Tx) error { return db.createContact(tx, c, false) })
}

// createContact stores c; checked says the caller looked its handle up in
// this write and found no contact.
func (db *DB) createContact(tx *Tx, c *lifeline.Contact, checked bool) error {
	if !c.ID.Valid() || !c.Channel.Valid() || c.Handle.IsEmpty() {
		return lifeline.Errorf(lifeline.EINVALID, "A contact needs an id, a channel and a handle.")
	}
	var tag sql.NullInt64
	if db.sealer != nil {
		if ik, err := db.sealer.IndexKeys(); err == nil {
			// Tags are shared by design: one handle, one contact is
			// checked here, by decrypting the candidates.
			if !checked {
				if id, err := db.contactByHandle(tx, ik, c.Channel, c.Handle.Reveal()); err != nil {
					return err
				} else if id != "" {
					return lifeline.Errorf(lifeline.ECONFLICT, "That contact exists.")
				}
			}
			if tag, err = db.newTag(tx, ik, c.Channel, c.Handle.Reveal(), true); err != nil {
				return err
			}
		}
	}
	c.CreatedDay = lifeline.DayOf(tx.Now())
	ct, err := db.sealField(tx, contactOwner(c.ID), "", seal.CompartmentRouting, contactAAD(c.ID), []byte(c.Handle.Reveal()))
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO contacts (id, channel, handle, handle_tag, case_id, created_day)
		VALUES (?, ?, ?, ?, NULLIF(?, ''), ?)`, c.ID, c.Channel, ct, tag, c.CaseID, c.CreatedDay.String())
	if db.dialect.isUniqueViolation(err) {
		return lifeline.Errorf(lifeline.ECONFLICT, "That contact exists.")
	}
	return err
}

// FindContact finds a contact by channel and handle: the contacts that
// share the handle's truncated blind index, confirmed by decrypting their
// handles; ENOTFOUND if none, EUNAVAILABLE while sealed.
func (db *DB) FindContact(ctx context.Context, ch lifeline.ChannelKind, handle string) (lifeline.ContactID, error) {
	if db.sealer == nil {
		return "", errNoSealer
	}
	ik, err := db.sealer.IndexKeys()
	if err != nil {
		return "", unavailable(err)
	}
	if _, _, ok := handleValue(ch, handle); !ok {
		return "", lifeline.Errorf(lifeline.EINVALID, "That handle cannot be looked up.")
	}
	var id lifeline.ContactID
	err = db.Read(ctx, func(tx *Tx) error {
		id, err = db.contactByHandle(tx, ik, ch, handle)
		return err
	})
	if err == nil && id == "" {
		return "", lifeline.Errorf(lifeline.ENOTFOUND, "No such contact.")
	}
	return id, err
}

// ContactHandle opens a contact's handle; EUNAVAILABLE while sealed.
func (db *DB) ContactHandle(ctx context.Context, id lifeline.ContactID) (lifeline.Sensitive, error) {
	var h []byte
	err := db.Read(ctx, func(tx *Tx) error {
		var ct []byte
		if err := tx.QueryRow(`SELECT handle FROM contacts WHERE id = ?`, id).Scan(&ct); err != nil {
			return err
		}
		var err error
		h, err = db.openField(tx, contactAAD(id), ct)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", lifeline.Errorf(lifeline.ENOTFOUND, "No such contact.")
	}
	return lifeline.Sensitive(h), unavailable(err)
}

// AddMessage stores a message sealed under its contact's conversation key,
// or, while sealed, under a key of its own that Reseal folds in later.
func (db *DB) AddMessage(ctx context.Context, m *lifeline.Message) error {
	return db.Write(ctx, func(tx *Tx) error { return db.addMessage(tx, m, "", "text", nil, "") })
}

func (db *DB) addMessage(tx *Tx, m *lifeline.Message, conversation lifeline.ConversationID, kind string, providerRef []byte, status string) error {
	if !m.ID.Valid() || !m.ContactID.Valid() || (m.Direction != lifeline.Inbound && m.Direction != lifeline.Outbound && m.Direction != lifeline.Note) {
		return lifeline.Errorf(lifeline.EINVALID, "A message needs an id, a contact and a direction.")
	}
	now := tx.Now()
	m.CreatedDay = lifeline.DayOf(now)
	dk, err := db.sealingKey(tx, contactOwner(m.ContactID), messageOwner(m.ID), seal.CompartmentConversation)
	if err != nil {
		return err
	}
	ct, err := seal.Encrypt(dk, messageAAD(m.ID, conversation), []byte(m.Body.Reveal()))
	if err != nil {
		return err
	}
	at, err := seal.Encrypt(dk, messageAtAAD(m.ID), sealTime(now))
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO messages (id, contact_id, conversation_id, direction, kind, body, at, author_id, provider_ref, status, hold, created_day)
		VALUES (?, ?, NULLIF(?, ''), ?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?)`,
		m.ID, m.ContactID, conversation, m.Direction, kind, ct, at, m.Author, providerRef, status, m.Hold, m.CreatedDay.String())
	return err
}

// messageAtAAD binds a message's sealed time to its row.
func messageAtAAD(id lifeline.MessageID) seal.AAD {
	return seal.AAD{Table: "messages", Column: "at", Row: string(id)}
}

// sealTime is the plaintext of a sealed time: RFC 3339 with nanoseconds, UTC.
func sealTime(t time.Time) []byte { return []byte(t.UTC().Format(time.RFC3339Nano)) }

// openTime opens a sealed time; the zero time for a row without one.
//
// A message's time never changes, and the router opens the same waiting
// contacts' times every pass: opened times are kept in memory, bounded,
// and used only while the keys are unsealed (sealed, the store answers
// EUNAVAILABLE as it would without them).
func (db *DB) openTime(tx *Tx, id lifeline.MessageID, ct []byte) (time.Time, error) {
	if len(ct) == 0 {
		return time.Time{}, nil
	}
	if db.sealer != nil {
		if _, err := db.sealer.IndexKeys(); err != nil {
			db.timesMu.Lock()
			db.times = nil
			db.timesMu.Unlock()
			return time.Time{}, unavailable(err)
		}
	}
	db.timesMu.Lock()
	t, ok := db.times[id]
	db.timesMu.Unlock()
	if ok {
		return t, nil
	}
	b, err := db.openField(tx, messageAtAAD(id), ct)
	if err != nil {
		return time.Time{}, err
	}
	if t, err = time.Parse(time.RFC3339Nano, string(b)); err != nil {
		return time.Time{}, err
	}
	db.timesMu.Lock()
	if db.times == nil || len(db.times) >= maxCachedTimes {
		db.times = map[lifeline.MessageID]time.Time{}
	}
	db.times[id] = t
	db.timesMu.Unlock()
	return t, nil
}

// maxCachedTimes bounds the opened-times cache; past it, it starts afresh.
const maxCachedTimes = 1 << 16

// Messages reads a contact's messages, oldest first, held ones included
// (see Message.Hold); EUNAVAILABLE while sealed.
func (db *DB) Messages(ctx context.Context, contactID lifeline.ContactID) ([]lifeline.Message, error) {
	var out []lifeline.Message
	err := db.Read(ctx, func(tx *Tx) error {
		type row struct {
			m    lifeline.Message
			conv lifeline.ConversationID
			ct   []byte
			date string
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.m.ID, &r.m.Direction, &r.conv, &r.ct, &r.m.Hold, &r.date)
		}, `SELECT id, direction, COALESCE(conversation_id, ''), body, hold, created_day FROM messages WHERE contact_id = ? ORDER BY rowid`, contactID)
		if err != nil {
			return err
		}
		for _, r := range rs {
			body, err := db.openMessage(tx, r.m.ID, contactID, r.conv, r.ct)
			if err != nil {
				return unavailable(err)
			}
			r.m.ContactID, r.m.Body = contactID, lifeline.Sensitive(body)
			if r.m.CreatedDay, err = lifeline.ParseDay(r.date); err != nil {
				return err
			}
			out = append(out, r.m)
		}
		return nil
	})
	return out, err
}

// Reseal runs after an unseal: messages stored while sealed, each under a
// key of its own, are re-encrypted under their contact's conversation key
// and their own keys shredded; contacts stored while sealed get their blind
// indexes. It returns how many rows it changed.
func (db *DB) Reseal(ctx context.Context) (int, error) {
	if db.sealer == nil {
		return 0, errNoSealer
	}
	ik, err := db.sealer.IndexKeys()
	if err != nil {
		return 0, unavailable(err)
	}
	n := 0
	err = db.Write(ctx, func(tx *Tx) error {
		type pending struct {
			id      lifeline.MessageID
			contact lifeline.ContactID
			conv    lifeline.ConversationID
			ct, at  []byte
			edited  []byte
		}
		ps, err := queryAll(tx, func(rows *sql.Rows) (p pending, err error) {
			return p, rows.Scan(&p.id, &p.contact, &p.conv, &p.ct, &p.at, &p.edited)
		}, `SELECT m.id, m.contact_id, COALESCE(m.conversation_id, ''), m.body, m.at, m.edited_at FROM messages m JOIN data_keys k ON k.owner = 'message:' || m.id`)
		if err != nil {
			return err
		}
		for _, p := range ps {
			plain, err := db.openMessage(tx, p.id, p.contact, p.conv, p.ct)
			if err != nil {
				return err
			}
			dk, err := db.sealingKey(tx, contactOwner(p.contact), "", seal.CompartmentConversation)
			if err != nil {
				return err
			}
			ct, err := seal.Encrypt(dk, messageAAD(p.id, p.conv), plain)
			if err != nil {
				return err
			}
			var at []byte
			if len(p.at) > 0 {
				t, err := db.openField(tx, messageAtAAD(p.id), p.at)
				if err != nil {
					return err
				}
				if at, err = seal.Encrypt(dk, messageAtAAD(p.id), t); err != nil {
					return err
				}
			}
			var edited []byte
			if len(p.edited) > 0 {
				t, err := db.openField(tx, messageEditedAtAAD(p.id), p.edited)
				if err != nil {
					return err
				}
				if edited, err = seal.Encrypt(dk, messageEditedAtAAD(p.id), t); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(`UPDATE messages SET body = ?, at = ?, edited_at = ? WHERE id = ?`, ct, at, edited, p.id); err != nil {
				return err
			}
			ids, err := db.deleteDataKeys(tx, messageOwner(p.id))
			if err != nil {
				return err
			}
			db.sealer.Forget(ids...)
			n++
		}

		nv, err := db.resealVersions(tx)
		if err != nil {
			return err
		}
		n += nv

		return nil
	})
	if err != nil {
		return n, err
	}
	m, err := db.indexAll(ctx, ik)
	n += m
	if err != nil {
		return n, err
	}
	bound, err := db.bindMessages(ctx)
	return n + bound, err
}

// bindMessages re-encrypts message bodies sealed before they were bound to
// their conversation (format 1) as format 2, in batches; a meta mark makes
// later calls free. It trusts the conversation each row names at that
// first unseal after the upgrade (see docs/threat-model.md).
func (db *DB) bindMessages(ctx context.Context) (int, error) {
	if done, err := db.Meta(ctx, "messages-bound"); err != nil || done == "1" {
		return 0, err
	}
	n := 0
	var after int64
	for {
		var last int64
		var batch int
		err := db.Write(ctx, func(tx *Tx) error {
			type row struct {
				rowid   int64
				id      lifeline.MessageID
				contact lifeline.ContactID
				conv    lifeline.ConversationID
				ct      []byte
			}
			rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
				return r, rows.Scan(&r.rowid, &r.id, &r.contact, &r.conv, &r.ct)
			}, `SELECT rowid, id, contact_id, conversation_id, body FROM messages WHERE conversation_id IS NOT NULL AND rowid > ? ORDER BY rowid LIMIT 500`, after)
			if err != nil {
				return err
			}
			batch = len(rs)
			for _, r := range rs {
				last = r.rowid
				if seal.Bound(r.ct) {
					continue
				}
				plain, err := db.openMessage(tx, r.id, r.contact, "", r.ct)
				if err != nil {
					return err
				}
				dk, err := db.sealingKey(tx, contactOwner(r.contact), messageOwner(r.id), seal.CompartmentConversation)
				if err != nil {
					return err
				}
				ct, err := seal.Encrypt(dk, messageAAD(r.id, r.conv), plain)
				clear(plain)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(`UPDATE messages SET body = ? WHERE id = ?`, ct, r.id); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		if batch == 0 {
			return n, db.SetMeta(ctx, "messages-bound", "1")
		}
		after = last
	}
}

// ShredCase erases a case for good: its persons, its contacts and their
// messages and media, and every data key they were sealed under, then checkpoints the
// WAL so that no page of them lingers there. Copies elsewhere (free pages,
// backups) stay sealed under keys wrapped to the current compartment epoch,
// and become unreadable when that epoch is destroyed.
func (db *DB) ShredCase(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, reason string) error {
	if reason == "" {
		return lifeline.Errorf(lifeline.EINVALID, "Say why the case is erased.")
	}
	var shredded []seal.KeyID
	err := db.audited(ctx, by, "case.shred", string(id), reason, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM cases WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such case.")
		}
		owners := []string{caseOwner(id)}
		persons, err := queryAll(tx, func(rows *sql.Rows) (p lifeline.PersonID, err error) { return p, rows.Scan(&p) },
			`SELECT id FROM persons WHERE case_id = ?`, id)
		if err != nil {
			return err
		}
		for _, p := range persons {
			owners = append(owners, personOwner(p))
		}
		rows, err := tx.Query(`SELECT id FROM contacts WHERE case_id = ?`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var cid lifeline.ContactID
			if err := rows.Scan(&cid); err != nil {
				rows.Close()
				return err
			}
			owners = append(owners, contactOwner(cid))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// Bot sessions of its conversations, and their answers' keys.
		convs, err := queryAll(tx, func(rows *sql.Rows) (id lifeline.ConversationID, err error) { return id, rows.Scan(&id) },
			`SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.case_id = ?`, id)
		if err != nil {
			return err
		}
		for _, v := range convs {
			owners = append(owners, questionnaireOwner(v))
			if _, err := tx.Exec(`DELETE FROM questionnaire_sessions WHERE conversation_id = ?`, v); err != nil {
				return err
			}
		}
		for _, q := range []string{
			// Media first: its rows point at the messages.
			`DELETE FROM data_keys WHERE owner IN (SELECT 'media:' || d.id FROM media d JOIN contacts c ON c.id = d.contact_id WHERE c.case_id = ?)`,
			`DELETE FROM jobs WHERE media_id IN (SELECT d.id FROM media d JOIN contacts c ON c.id = d.contact_id WHERE c.case_id = ?)`,
			`DELETE FROM media WHERE contact_id IN (SELECT id FROM contacts WHERE case_id = ?)`,
			`DELETE FROM data_keys WHERE owner IN (SELECT 'version:' || x.id FROM message_versions x JOIN messages m ON m.id = x.message_id JOIN contacts c ON c.id = m.contact_id WHERE c.case_id = ?)`,
			`DELETE FROM message_versions WHERE message_id IN (SELECT m.id FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.case_id = ?)`,
			`DELETE FROM data_keys WHERE owner IN (SELECT 'correction:' || x.id FROM answer_corrections x JOIN messages m ON m.id = x.message_id JOIN contacts c ON c.id = m.contact_id WHERE c.case_id = ?)`,
			`DELETE FROM answer_corrections WHERE message_id IN (SELECT m.id FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.case_id = ?)`,
			`DELETE FROM data_keys WHERE owner IN (SELECT 'message:' || m.id FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.case_id = ?)`,
			`DELETE FROM jobs WHERE message_id IN (SELECT m.id FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.case_id = ?)`,
			`DELETE FROM messages WHERE contact_id IN (SELECT id FROM contacts WHERE case_id = ?)`,
			`DELETE FROM data_keys WHERE owner IN (SELECT 'conversation:' || v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.case_id = ?)`,
			`DELETE FROM wrapups WHERE conversation_id IN (SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.case_id = ?)`,
			`DELETE FROM conversation_labels WHERE conversation_id IN (SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.case_id = ?)`,
			`DELETE FROM conversations WHERE contact_id IN (SELECT id FROM contacts WHERE case_id = ?)`,
			`DELETE FROM opt_outs WHERE contact_id IN (SELECT id FROM contacts WHERE case_id = ?)`,
			`DELETE FROM contacts WHERE case_id = ?`,
			// Case work: the timeline, screening, tasks, documents, its
			// persons in operations (an operation left with no one goes too).
			`DELETE FROM case_events WHERE case_id = ?`,
			`DELETE FROM screenings WHERE case_id = ?`,
			`DELETE FROM tasks WHERE case_id = ?`,
			`DELETE FROM documents WHERE case_id = ?`,
			`DELETE FROM operation_persons WHERE case_id = ?`,
			`DELETE FROM person_buckets WHERE person_id IN (SELECT id FROM persons WHERE case_id = ?)`,
			`DELETE FROM persons WHERE case_id = ?`,
			`DELETE FROM cases WHERE id = ?`,
		} {
			if _, err := tx.Exec(q, id); err != nil {
				return fmt.Errorf("shred: %w", err)
			}
		}
		orphans, err := queryAll(tx, func(rows *sql.Rows) (id string, err error) { return id, rows.Scan(&id) },
			`SELECT id FROM operations WHERE id NOT IN (SELECT operation_id FROM operation_persons)`)
		if err != nil {
			return err
		}
		for _, op := range orphans {
			owners = append(owners, operationOwner(op))
			if _, err := tx.Exec(`DELETE FROM operations WHERE id = ?`, op); err != nil {
				return err
			}
		}
		shredded, err = db.deleteDataKeys(tx, owners...)
		return err
	})
	if err != nil {
		return err
	}
	if db.sealer != nil {
		db.sealer.Forget(shredded...)
	}
	db.timesMu.Lock()
	db.times = nil // nothing of an erased case stays, in memory either
	db.timesMu.Unlock()
	return db.CheckpointWAL(ctx)
}

// CheckpointWAL rebuilds the database from its live rows, copies the WAL
// into it and truncates the WAL, so that deleted rows survive in neither.
// secure_delete alone is not enough: when a page splits, SQLite leaves the
// bytes of the cells it moved away in the old page's unallocated space, and
// a row deleted later stays there as a stale copy; VACUUM writes every page
// afresh. It holds the writer for as long as the rebuild takes.
func (db *DB) CheckpointWAL(ctx context.Context) error {
	// The write connection is the writer's; database/sql hands it over
	// between batches, outside any transaction, as these statements need.
	// The background checkpointer waits: its checkpoint would make this
	// one report itself blocked.
	defer db.ckpt.hold()()
	if _, err := db.write.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	// A checkpoint that a reader blocks reports it in the row, not as an error.
	var busy, frames, copied int
	if err := db.write.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &copied); err != nil {
		return fmt.Errorf("checkpoint wal: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("checkpoint wal: blocked by a reader (%d of %d frames copied)", copied, frames)
	}
	return nil
}

// RewrapDataKeys rewraps up to batch data keys that are not on their
// compartment's current epoch, in one write, and returns how many it
// rewrapped; 0 means none is left. Run it in a loop after an epoch rotation.
func (db *DB) RewrapDataKeys(ctx context.Context, current func(seal.Compartment) uint32, rewrap func(keys.WrappedKey) (keys.WrappedKey, bool, error), batch int) (int, error) {
	var stale []keys.WrappedKey
	err := db.Read(ctx, func(tx *Tx) error {
		for _, c := range seal.Compartments() {
			// Older epochs only: a key made during a rotation may already be
			// on an epoch newer than the current reading.
			rows, err := tx.Query(`SELECT `+dataKeyColumns+` FROM data_keys WHERE compartment = ? AND epoch < ? LIMIT ?`, string(c), current(c), batch-len(stale))
			if err != nil {
				return err
			}
			for rows.Next() {
				w, err := scanDataKey(rows)
				if err != nil {
					rows.Close()
					return err
				}
				stale = append(stale, w)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(stale) >= batch {
				break
			}
		}
		return nil
	})
	if err != nil || len(stale) == 0 {
		return 0, err
	}
	type change struct {
		from uint32 // the epoch read
		to   keys.WrappedKey
	}
	// Each rewrap costs three X25519 operations: spread them over the CPUs
	// (seal.RewrapDataKey is safe for concurrent use).
	done := make([]change, len(stale))
	ok := make([]bool, len(stale))
	errs := make([]error, len(stale))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(stale)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(stale); i = int(next.Add(1)) - 1 {
				var nw keys.WrappedKey
				nw, ok[i], errs[i] = rewrap(stale[i])
				done[i] = change{stale[i].Epoch, nw}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err // the first: a destroyed epoch fails them all alike
		}
	}
	fresh := make([]change, 0, len(stale))
	for i, c := range done {
		if ok[i] {
			fresh = append(fresh, c)
		}
	}
	n := 0
	err = db.Write(ctx, func(tx *Tx) error {
		for _, c := range fresh {
			// Only if the row is still the one read: a shred in between wins.
			w := c.to
			res, err := tx.Exec(`UPDATE data_keys SET epoch = ?, wrapped = ? WHERE id = ? AND epoch = ?`, w.Epoch, w.Wrapped, w.ID[:], c.from)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// LiveDataKeys counts the data keys still wrapped to one compartment epoch.
func (db *DB) LiveDataKeys(ctx context.Context, c seal.Compartment, epoch uint32) (int64, error) {
	var n int64
	err := db.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM data_keys WHERE compartment = ? AND epoch = ?`, string(c), epoch).Scan(&n)
	})
	return n, err
}
