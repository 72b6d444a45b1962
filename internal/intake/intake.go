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

// Receive stores a webhook's events, once each, in one durable write.
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
	var callbacks []string
	newThreads := map[string]lifeline.ContactID{}
	adm := s.admission()
	err := s.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		notices, convs, media, callbacks = notices[:0], convs[:0], media[:0], callbacks[:0]
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
				conv, msg, stored, err := s.storeMessage(in, adm, kind, name, &e, p, newThreads)
				if err != nil {
					return err
				}
				if !stored {
					continue // blocked or over budget: acknowledged, not stored; its dedupe key stays
				}
				convs, notices, media = append(convs, conv), append(notices, msg), append(media, len(e.Media) > 0)
				if e.Type == channel.EventCallback && e.ProviderMessageID != "" {
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
		ns := make([]Notice, len(notices))
		for i := range notices {
			ns[i] = Notice{Conversation: convs[i], Message: notices[i], Kind: kind, Media: media[i]}
		}
		s.cfg.Notify(ns)
	}
	return nil
}

// prepared is what Receive works out for an event before its write.
type prepared struct {
	ref    []byte            // the dedupe key
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
	sender := e.Sender.Reveal()
	p.thread = s.threadKey(kind, sender)
	s.mu.Lock()
	known := s.threads[p.thread]
	s.mu.Unlock()
	p.sender = s.refs.IntakeRef(string(kind), "sender", sender)
	var err error
	p.plan, err = s.db.PrepareInbound(ctx, sqlstore.InboundArgs{
		Kind: kind, Channel: name, Handle: sender, SenderRef: p.sender, Known: known, Body: e.Text,
	})
	return err
}

// storeMessage passes a fresh message event through the door and stores
// it; stored is false if the door turned it away. A message made Ready
// takes its sender's budget and goes in with one guarded statement, which
// also refuses a blocked sender; if that does not store it, the budget is
// given back and the message takes the long way: the blocked check, the
// budget, and all of the storing inside the write (store).
func (s *Service) storeMessage(in *sqlstore.Ingest, adm *admission, kind lifeline.ChannelKind, name string, e *channel.Event, p *prepared, newThreads map[string]lifeline.ContactID) (lifeline.ConversationID, lifeline.MessageID, bool, error) {
	if p.plan.Ready() && adm.take(e, p) {
		ok, err := in.StoreInbound(p.plan, kind, string(e.Kind))
		if err != nil {
			return "", "", false, err
		}
		if ok {
			contact, _ := p.plan.Contact()
			if err := s.storeMedia(in, p.plan.Message(), contact, *e); err != nil {
				return "", "", false, err
			}
			return p.plan.Conversation(), p.plan.Message(), true, nil
		}
		adm.untake()
	}
	blocked, err := in.IsBlocked(kind, p.sender)
	if err != nil {
		return "", "", false, err
	}
	if !adm.admit(e, p, blocked) {
		return "", "", false, nil
	}
	conv, msg, err := s.store(in, kind, name, *e, p, newThreads)
	return conv, msg, err == nil, err
}

// store stores one message event the long way, all of it inside the write:
// contact, conversation, message, and the greeting of a first
// conversation; with the ids and keys its plan made.
func (s *Service) store(in *sqlstore.Ingest, kind lifeline.ChannelKind, name string, e channel.Event, p *prepared, newThreads map[string]lifeline.ContactID) (lifeline.ConversationID, lifeline.MessageID, error) {
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
	m := &lifeline.Message{ID: plan.Message(), ContactID: contact, Direction: lifeline.Inbound, Body: e.Text}
	// No provider reference for an inbound message: nothing looks one up,
	// and a Telegram message_id is unique only within its chat.
	if err := in.AddMessage(m, conv, string(e.Kind), nil, ""); err != nil {
		return "", "", err
	}
	if err := s.storeMedia(in, m.ID, contact, e); err != nil {
		return "", "", err
	}
	if created && !found {
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
// worker (internal/media), which fetches them at once.
func (s *Service) storeMedia(in *sqlstore.Ingest, message lifeline.MessageID, contact lifeline.ContactID, e channel.Event) error {
	for _, md := range e.Media {
		if _, err := in.AddMedia(message, contact, string(e.Kind), lifeline.Sensitive(md.ProviderID), md.MIME, md.Size); err != nil {
			return err
		}
	}
	return nil
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
