// SPDX-License-Identifier: AGPL-3.0-or-later

// Package intake is the inbound pipeline behind the webhook handler: for
// each provider event it recognises duplicates, finds or creates the
// contact, opens or continues the conversation, stores the message sealed,
// records delivery statuses, and queues the greeting of a first contact: all
// of a webhook's events in one durable write, before the provider hears 200.
package intake

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// Refs makes the keyed references intake stores instead of provider ids;
// *keys.Keeper is one. It works while the server is sealed.
type Refs interface {
	IntakeRef(parts ...string) []byte
}

// Notice tells live operator views that something arrived. It carries ids
// only.
type Notice struct {
	Conversation lifeline.ConversationID
	Message      lifeline.MessageID
	Kind         lifeline.ChannelKind
	Media        bool // the message came with media for the media worker
	// Held: the notice stands for messages over their sender's budget or
	// storage cap, folded (one a second per sender and conversation); it
	// is for the live views, and starts no work.
	Held bool
}

// Config tunes the service.
type Config struct {
	// Greetings are sent to a contact's first conversation on a channel
	// kind; none if empty. DefaultGreeting is Russian.
	Greetings map[lifeline.ChannelKind]string
	// Greet, if set, says whether to greet now: the registration bot
	// greets when it runs, and intake only when it cannot (sealed).
	Greet func() bool
	// Notify, if set, is called after each commit with what it stored.
	Notify func([]Notice)
	// Callback, if set, is called after the commit for each inline-button
	// press stored, with the provider's id of the press, so that the
	// provider can be told it was received (Telegram's answerCallbackQuery).
	Callback func(kind lifeline.ChannelKind, channel, callbackID string)
	// Limits are the per-sender flood budgets (flood.go); zero is the default.
	Limits Limits
	// Now, if set, is the budgets' clock (tests); else time.Now.
	Now func() time.Time
}

// DefaultGreeting answers a first message: in Russian, what happens next
// and how to stay safe, and nothing about procedures or staff.
const DefaultGreeting = "Здравствуйте. Вы написали на горячую линию «Хочу жить». Ваше сообщение получено, оператор ответит вам в ближайшее время. " +
	"Для вашей безопасности удаляйте переписку после каждого сеанса связи."

// Service implements channel.Receiver.
type Service struct {
	db   *sqlstore.DB
	refs Refs
	cfg  Config

	// While the server is sealed no blind index can be computed, so a
	// returning sender cannot be found in the database. Within one boot,
	// senders are threaded by an HMAC under a key that lives only in
	// memory: nothing linkable reaches the disk, and the unseal-time
	// reconciliation merges what is left.
	bootKey [32]byte
	mu      sync.Mutex
	threads map[string]lifeline.ContactID

	door door // per-sender budgets and what they turned away (flood.go)
}

var _ channel.Receiver = (*Service)(nil)

// New returns the intake service.
func New(db *sqlstore.DB, refs Refs, cfg Config) *Service {
	s := &Service{db: db, refs: refs, cfg: cfg, threads: map[string]lifeline.ContactID{}}
	rand.Read(s.bootKey[:])
	s.door.budgets.init(cfg.Limits)
	return s
}

func (s *Service) threadKey(kind lifeline.ChannelKind, sender string) string {
	m := hmac.New(sha256.New, s.bootKey[:])
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(sender))
	return string(m.Sum(nil))
}

// Receive stores a webhook's events, once each, in one durable write:
// every message event, unless its sender is blocked (flood.go).
//
// The writer serialises every webhook, so what can be done before the
// write is done first, in the caller's goroutine: the dedupe keys, and for
// each message its sender's state and contact, read from a snapshot, the
// keys it needs and its sealing (sqlstore.DB.PrepareInbound). Inside the
// write only what must be decided there is: whether the event is new,
// whether its sender has budget left, and whether the snapshot still holds
// (if not, the message is stored the long way, all of it inside the write).
func (s *Service) Receive(ctx context.Context, kind lifeline.ChannelKind, name string, events []channel.Event) error {
	pre := make([]prepared, len(events))
	for i := range events {
		if err := s.prepare(ctx, kind, name, &events[i], &pre[i]); err != nil {
			return err
		}
	}
	var notices []lifeline.MessageID
	var convs []lifeline.ConversationID
	var media []bool
	var holds []lifeline.Hold
	var threads []string
	var callbacks []string
	newThreads := map[string]lifeline.ContactID{}
	adm := s.admission()
	err := s.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		notices, convs, media, holds, threads, callbacks = notices[:0], convs[:0], media[:0], holds[:0], threads[:0], callbacks[:0]
		clear(newThreads)
		adm.reset()
		for i, e := range events {
			p := &pre[i]
			fresh, err := in.MarkSeen(kind, name, p.ref)
			if err != nil {
				return err
			}
			if !fresh {
				continue // a retry or a duplicate: stored already
			}
			switch e.Type {
			case channel.EventStatus:
				if e.Status == nil {
					continue
				}
				ref := s.refs.IntakeRef(string(kind), name, "message", e.ProviderMessageID)
				if _, err := in.SetMessageStatus(ref, e.Status.State, statusReason(e.Status)); err != nil {
					return err
				}
			case channel.EventMessage, channel.EventEdit, channel.EventCallback:
				if p.edit != nil {
					// The same edit under another event id (Telegram: the same
					// chat, message and edit_date).
					if fresh, err := in.MarkSeen(kind, name, p.edit); err != nil || !fresh {
						if err != nil {
							return err
						}
						continue
					}
				}
				if found, ok, err := in.FindInbound(p.msg); err != nil {
					return err
				} else if ok {
					changed, hold, err := s.changeMessage(in, adm, kind, &e, p, found)
					if err != nil {
						return err
					}
					if changed {
						convs, notices, media = append(convs, found.Conversation), append(notices, found.ID), append(media, false)
						holds, threads = append(holds, hold), append(threads, p.thread)
					}
					continue
				}
				st, err := s.storeMessage(in, adm, kind, name, &e, p, newThreads)
				if err != nil {
					return err
				}
				if !st.stored {
					continue // blocked: acknowledged, not stored; its dedupe key stays
				}
				convs, notices, media = append(convs, st.conv), append(notices, st.msg), append(media, st.fetch)
				holds, threads = append(holds, st.hold), append(threads, p.thread)
				// A press answered spins no more; a held one times out.
				if e.Type == channel.EventCallback && e.ProviderMessageID != "" && st.hold == lifeline.HoldNone {
					callbacks = append(callbacks, e.ProviderMessageID)
				}
			}
		}
		return nil
	})
	adm.end(err)
	if err != nil {
		return err
	}
	s.mu.Lock()
	for k, v := range newThreads {
		s.threads[k] = v
	}
	s.mu.Unlock()
	if s.cfg.Callback != nil {
		for _, id := range callbacks {
			s.cfg.Callback(kind, name, id)
		}
	}
	if s.cfg.Notify != nil && len(notices) > 0 {
		ns := make([]Notice, 0, len(notices))
		for i := range notices {
			n := Notice{Conversation: convs[i], Message: notices[i], Kind: kind, Media: media[i]}
			if holds[i] != lifeline.HoldNone {
				// Over budget: the views hear of it folded; a worker is
				// poked only for media it is to fetch.
				n.Held = true
				if !n.Media {
					s.fold(threads[i], n)
					continue
				}
			}
			ns = append(ns, n)
		}
		if len(ns) > 0 {
			s.cfg.Notify(ns)
		}
	}
	return nil
}

// prepared is what Receive works out for an event before its write.
type prepared struct {
	ref    []byte            // the dedupe key
	msg    []byte            // messages and edits with a MessageRef: the message's provider reference
	edit   []byte            // edits: the edit's own dedupe key, of the message and the edit's time
	thread string            // messages: the sender's boot-keyed thread key
	sender []byte            // messages: the sender's reference, by which it may be blocked
	plan   *sqlstore.Inbound // messages: the message made ready
}

func isMessage(t channel.EventType) bool {
	return t == channel.EventMessage || t == channel.EventEdit || t == channel.EventCallback
}

// prepare works out p for e outside the write.
func (s *Service) prepare(ctx context.Context, kind lifeline.ChannelKind, name string, e *channel.Event, p *prepared) error {
	p.ref = s.refs.IntakeRef(string(kind), name, "event", e.ID)
	if !isMessage(e.Type) {
		return nil
	}
	if e.Location != nil {
		// The coordinates are the message: sealed as its text, with the
		// place's name and address the provider sent, if any.
		e.Text = e.Location.Text(e.Text)
	}
	sender := e.Sender.Reveal()
	p.thread = s.threadKey(kind, sender)
	s.mu.Lock()
	known := s.threads[p.thread]
	s.mu.Unlock()
	p.sender = s.refs.IntakeRef(string(kind), "sender", sender)
	if e.MessageRef != "" && e.Type != channel.EventCallback {
		// Keyed with the sender too: an edit names a message of its
		// sender's, never another contact's.
		p.msg = s.refs.IntakeRef(string(kind), name, "inbound", sender, e.MessageRef.Reveal())
		if e.Type == channel.EventEdit {
			// The edit's time and a keyed hash of its text (the key is
			// the intake key's: nothing of the text is stored): two edits
			// within one second of edit_date are two edits, the same edit
			// delivered again is one.
			p.edit = s.refs.IntakeRef(string(kind), name, "edit", sender, e.MessageRef.Reveal(), strconv.FormatInt(e.Time.Unix(), 10), e.Text.Reveal())
		}
	}
	var err error
	p.plan, err = s.db.PrepareInbound(ctx, sqlstore.InboundArgs{
		Kind: kind, Channel: name, Handle: sender, SenderRef: p.sender, Known: known, Body: e.Text,
		Ref: p.msg, Edit: e.Type == channel.EventEdit, EditedAt: editTime(e),
	})
	return err
}

// stored is what storeMessage did with a message event.
type stored struct {
	stored bool // false: its sender is blocked
	conv   lifeline.ConversationID
	msg    lifeline.MessageID
	hold   lifeline.Hold
	fetch  bool // it has media for the media worker to fetch
}

// changeMessage applies a fresh message or edit event to the message
// already stored under its provider reference, and reports whether it
// changed it. The same message under a new event id changes nothing; its
// original, after an edit that came first, becomes the earliest version; an
// edit becomes the current text. Edits pass the door as messages do. An edit
// of a live location (Telegram sends one per move) is the contact's new
// position: the current text, his earlier ones kept as the earlier texts.
func (s *Service) changeMessage(in *sqlstore.Ingest, adm *admission, kind lifeline.ChannelKind, e *channel.Event, p *prepared, m sqlstore.StoredInbound) (bool, lifeline.Hold, error) {
	switch {
	case e.Type == channel.EventMessage && !m.OriginalMissing:
		return false, lifeline.HoldNone, nil // a duplicate under a new event id
	case e.Type != channel.EventMessage && e.Type != channel.EventEdit:
		return false, lifeline.HoldNone, nil
	}
	blocked, err := in.IsBlocked(kind, p.sender)
	if err != nil {
		return false, lifeline.HoldNone, err
	}
	if blocked {
		adm.blocked()
		return false, lifeline.HoldNone, nil
	}
	// A change is of text: the media are the message's own. It takes its
	// sender's budget like a message, and is kept whatever the budget says:
	// the hold decides only how the views hear of it.
	e.Media = nil
	hold, _ := adm.take(e, p)
	if e.Type == channel.EventMessage {
		return true, hold, in.AddOriginal(m, e.Text)
	}
	return true, hold, in.AddEdit(m, e.Text, editTime(e))
}

// editTime is the provider's time of an edit (Telegram's edit_date), or
// zero for what is not an edit.
func editTime(e *channel.Event) time.Time {
	if e.Type != channel.EventEdit {
		return time.Time{}
	}
	return e.Time
}

// storeMessage passes a fresh message event through the door and stores
// it, unless its sender is blocked. A message made Ready takes its
// sender's budget and goes in with one guarded statement, which also
// refuses a blocked sender; if that does not store it, the budget is given
// back and the message takes the long way: the blocked check, the budget,
// and all of the storing inside the write (store).
func (s *Service) storeMessage(in *sqlstore.Ingest, adm *admission, kind lifeline.ChannelKind, name string, e *channel.Event, p *prepared, newThreads map[string]lifeline.ContactID) (stored, error) {
	if p.plan.Ready() {
		hold, skip := adm.take(e, p)
		ok, err := in.StoreInbound(p.plan, kind, string(e.Kind), hold)
		if err != nil {
			return stored{}, err
		}
		if ok {
			contact, _ := p.plan.Contact()
			if err := s.storeMedia(in, p.plan.Message(), contact, kind, name, *e, skip); err != nil {
				return stored{}, err
			}
			return stored{true, p.plan.Conversation(), p.plan.Message(), hold, fetchable(*e) && skip == ""}, nil
		}
		adm.untake()
	}
	blocked, err := in.IsBlocked(kind, p.sender)
	if err != nil {
		return stored{}, err
	}
	if blocked {
		adm.blocked()
		return stored{}, nil
	}
	hold, skip := adm.take(e, p)
	conv, msg, err := s.store(in, kind, name, *e, p, newThreads, hold, skip)
	return stored{err == nil, conv, msg, hold, fetchable(*e) && skip == ""}, err
}

// store stores one message event the long way, all of it inside the write:
// contact, conversation, message with its hold and media (skipped for
// skip, if not ""), and the greeting of a first conversation; with the ids
// and keys its plan made.
func (s *Service) store(in *sqlstore.Ingest, kind lifeline.ChannelKind, name string, e channel.Event, p *prepared, newThreads map[string]lifeline.ContactID, hold lifeline.Hold, skip string) (lifeline.ConversationID, lifeline.MessageID, error) {
	plan := p.plan
	in.Use(plan)
	sender := e.Sender.Reveal()
	contact, found, err := in.FindContact(kind, sender)
	if errors.Is(err, sqlstore.ErrSealed) {
		s.mu.Lock()
		contact, found = s.threads[p.thread]
		s.mu.Unlock()
		if !found {
			contact, found = newThreads[p.thread]
		}
	} else if err != nil {
		return "", "", err
	}
	if !found {
		// The id the plan made keys for, unless the plan had found a
		// contact that is gone since: ids are never used twice.
		id, planFound := plan.Contact()
		if planFound {
			id = lifeline.NewContactID()
		}
		c := &lifeline.Contact{ID: id, Channel: kind, Handle: e.Sender}
		if err := in.CreateContact(c); err != nil {
			return "", "", err
		}
		contact = c.ID
		newThreads[p.thread] = contact
	}
	conv, created, err := in.OpenConversation(contact, kind, name, e.Campaign, e.ReplyTo)
	if err != nil {
		return "", "", err
	}
	m := &lifeline.Message{ID: plan.Message(), ContactID: contact, Direction: lifeline.Inbound, Body: e.Text, Hold: hold}
	if err := in.AddMessage(m, conv, string(e.Kind), plan.Ref(), ""); err != nil {
		return "", "", err
	}
	if plan.Edit() {
		if err := in.MarkEditOfUnknown(m.ID, editTime(&e)); err != nil {
			return "", "", err
		}
	}
	if err := s.storeMedia(in, m.ID, contact, kind, name, e, skip); err != nil {
		return "", "", err
	}
	// A new sender's first message is always within budget; the check
	// keeps a held message from greeting all the same.
	if created && !found && hold == lifeline.HoldNone {
		if greeting := s.greeting(kind); greeting != "" {
			g := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: contact, Direction: lifeline.Outbound, Body: lifeline.Sensitive(greeting)}
			if err := in.AddMessage(g, conv, string(channel.KindText), nil, "queued"); err != nil {
				return "", "", err
			}
			if err := in.Enqueue(g.ID, conv, kind, sqlstore.PriorityAutomatic); err != nil {
				return "", "", err
			}
		}
	}
	return conv, m.ID, nil
}

// storeMedia records a message's media and queues them for the media
// worker (internal/media), which fetches them at once; with a skip reason,
// it records them as skipped, for the reason, instead; files the channel
// refused are recorded as arrived and refused. It also records an opt-out
// (SMS STOP) or opt-in the message carries: it is part of the message.
func (s *Service) storeMedia(in *sqlstore.Ingest, message lifeline.MessageID, contact lifeline.ContactID, kind lifeline.ChannelKind, name string, e channel.Event, skip string) error {
	for _, md := range e.Media {
		if md.Refused != "" {
			if _, err := in.AddRefusedMedia(message, contact, string(e.Kind), md.MIME, md.Refused); err != nil {
				return err
			}
			continue
		}
		if _, err := in.AddMedia(message, contact, string(e.Kind), lifeline.Sensitive(md.ProviderID), md.MIME, md.Size, skip); err != nil {
			return err
		}
	}
	if e.OptOut == channel.OptOutStop || e.OptOut == channel.OptOutStart {
		return in.SetOptOut(contact, kind, name, e.OptOut == channel.OptOutStop)
	}
	return nil
}

// fetchable reports whether an event carries a file for the media worker.
func fetchable(e channel.Event) bool {
	for _, md := range e.Media {
		if md.Refused == "" {
			return true
		}
	}
	return false
}

func (s *Service) greeting(kind lifeline.ChannelKind) string {
	if s.cfg.Greet != nil && !s.cfg.Greet() {
		return ""
	}
	if s.cfg.Greetings == nil {
		return DefaultGreeting
	}
	return s.cfg.Greetings[kind]
}

// statusReason keeps a failed status's code and short reason, bounded.
func statusReason(st *channel.Status) string {
	r := st.ErrorCode
	if st.Reason != "" {
		r += " " + st.Reason
	}
	if len(r) > 200 {
		r = r[:200]
	}
	return r
}
