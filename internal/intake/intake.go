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
}

// Config tunes the service.
type Config struct {
	// Greetings are sent to a contact's first conversation on a channel
	// kind; none if empty. DefaultGreeting is Russian.
	Greetings map[lifeline.ChannelKind]string
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
func (s *Service) Receive(ctx context.Context, kind lifeline.ChannelKind, name string, events []channel.Event) error {
	var notices []lifeline.MessageID
	var convs []lifeline.ConversationID
	var callbacks []string
	newThreads := map[string]lifeline.ContactID{}
	adm := s.admission()
	err := s.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		notices, convs, callbacks = notices[:0], convs[:0], callbacks[:0]
		clear(newThreads)
		adm.reset()
		for _, e := range events {
			fresh, err := in.MarkSeen(kind, name, s.refs.IntakeRef(string(kind), name, "event", e.ID))
			if err != nil {
				return err
			}
			if !fresh {
				continue // a retry or a duplicate: stored already
			}
			if ok, err := adm.admit(in, kind, &e); err != nil {
				return err
			} else if !ok {
				continue // blocked or over budget: acknowledged, not stored; its dedupe key stays
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
				conv, msg, err := s.store(in, kind, name, e, newThreads)
				if err != nil {
					return err
				}
				convs, notices = append(convs, conv), append(notices, msg)
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
			ns[i] = Notice{Conversation: convs[i], Message: notices[i], Kind: kind}
		}
		s.cfg.Notify(ns)
	}
	return nil
}

// store stores one message event: contact, conversation, message, and the
// greeting of a first conversation.
func (s *Service) store(in *sqlstore.Ingest, kind lifeline.ChannelKind, name string, e channel.Event, newThreads map[string]lifeline.ContactID) (lifeline.ConversationID, lifeline.MessageID, error) {
	sender := e.Sender.Reveal()
	tk := s.threadKey(kind, sender)
	contact, found, err := in.FindContact(kind, sender)
	if errors.Is(err, sqlstore.ErrSealed) {
		s.mu.Lock()
		contact, found = s.threads[tk]
		s.mu.Unlock()
		if !found {
			contact, found = newThreads[tk]
		}
	} else if err != nil {
		return "", "", err
	}
	if !found {
		c := &lifeline.Contact{ID: lifeline.NewContactID(), Channel: kind, Handle: e.Sender}
		if err := in.CreateContact(c); err != nil {
			return "", "", err
		}
		contact = c.ID
		newThreads[tk] = contact
	}
	conv, created, err := in.OpenConversation(contact, kind, name, e.Campaign, e.ReplyTo)
	if err != nil {
		return "", "", err
	}
	m := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: contact, Direction: lifeline.Inbound, Body: e.Text}
	// No provider reference for an inbound message: nothing looks one up,
	// and a Telegram message_id is unique only within its chat.
	if err := in.AddMessage(m, conv, string(e.Kind), nil, ""); err != nil {
		return "", "", err
	}
	// Media: recorded with the message and queued for the media worker
	// (internal/media), which fetches it at once.
	for _, md := range e.Media {
		if _, err := in.AddMedia(m.ID, contact, string(e.Kind), lifeline.Sensitive(md.ProviderID), md.MIME, md.Size); err != nil {
			return "", "", err
		}
	}
	if created && !found {
		if greeting := s.greeting(kind); greeting != "" {
			g := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: contact, Direction: lifeline.Outbound, Body: lifeline.Sensitive(greeting)}
			if err := in.AddMessage(g, conv, string(channel.KindText), nil, "queued"); err != nil {
				return "", "", err
			}
			if err := in.Enqueue(g.ID); err != nil {
				return "", "", err
			}
		}
	}
	return conv, m.ID, nil
}

func (s *Service) greeting(kind lifeline.ChannelKind) string {
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
