// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

// Event is a live update for open consoles. It carries ids only: a console
// that cares fetches what changed through its own permission checks, so
// nothing reaches a browser that its operator may not see. And an event
// about a conversation goes only to the consoles of those who may see it
// (lifeline.Reaches): its id and that it changed are not for others.
type Event struct {
	Type         string                  `json:"type"` // message, status, assign, state, escalate
	Conversation lifeline.ConversationID `json:"conversation,omitempty"`
	// To, if set, limits the event to these operators' consoles (an
	// escalation goes to the supervisors on duty).
	To []lifeline.OperatorID `json:"-"`

	// obj is what need-to-know knows of the conversation, read once when
	// the event is published; nil if it could not be read (the event then
	// goes to no one: consoles refetch every 30 s anyway).
	obj *lifeline.Object
}

// for_ reports whether the event goes to the session's console at time
// now. An escalation with no one named goes to everyone who runs the
// floor; an event about a conversation only to those whose grant to read
// it reaches it, or, while no one has it, whose grant to see the
// new-contact queue does.
func (e Event) for_(s *session, now time.Time) bool {
	switch {
	case len(e.To) > 0 && !slices.Contains(e.To, s.Operator.ID):
		return false
	case len(e.To) == 0 && e.Type == "escalate" && !permit(s, Access{Action: lifeline.ActionFloorManage}):
		return false
	case e.Conversation == "":
		return true
	case e.obj == nil:
		return false
	}
	who := lifeline.ReacherOf(&s.Operator, now)
	if lifeline.Reaches(who, lifeline.ActionReadConversation, *e.obj) {
		return true
	}
	return e.obj.Handles && lifeline.Reaches(who, lifeline.ActionSeeNewContacts, *e.obj)
}

// Hub fans events out to the consoles listening. A slow console misses
// events rather than slowing anyone: each has a small buffer, and a full
// buffer drops (the console refetches on the next event, and every 30 s).
type Hub struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
	// resolve reads what need-to-know knows of a conversation; the
	// console sets it. Without it, events about conversations go to no one.
	resolve func(context.Context, lifeline.ConversationID) (lifeline.Object, error)
}

// NewHub returns a hub with no listeners.
func NewHub() *Hub { return &Hub{subs: map[chan Event]struct{}{}} }

// Publish sends e to every listener without blocking; an event about a
// conversation reads, once, who may see it.
func (h *Hub) Publish(e Event) {
	h.mu.Lock()
	n, resolve := len(h.subs), h.resolve
	h.mu.Unlock()
	if n == 0 {
		return
	}
	if e.Conversation != "" && resolve != nil {
		if o, err := resolve(context.Background(), e.Conversation); err == nil {
			e.obj = &o
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

func (h *Hub) subscribe() chan Event {
	ch := make(chan Event, 64)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *Hub) unsubscribe(ch chan Event) {
	h.mu.Lock()
	delete(h.subs, ch)
	h.mu.Unlock()
}

// Listeners returns the number of consoles listening.
func (h *Hub) Listeners() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// heartbeat keeps idle connections open through proxies, and is when a
// stream notices that its session has ended.
const heartbeat = 15 * time.Second

// events streams live events as Server-Sent Events until the client goes
// away, the session ends or expires, or the server shuts down.
func (c *Console) events(w http.ResponseWriter, r *http.Request, s *session) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	ch := c.hub.subscribe()
	defer c.hub.unsubscribe(ch)
	send := func(event string, data []byte) bool {
		// The server's write timeout would cut a stream: extend it per write.
		rc.SetWriteDeadline(time.Now().Add(heartbeat * 2))
		var err error
		if event == "" {
			_, err = w.Write([]byte(": keep-alive\n\n"))
		} else {
			_, err = w.Write([]byte("event: " + event + "\ndata: " + string(data) + "\n\n"))
		}
		return err == nil && rc.Flush() == nil
	}
	if !send("hello", []byte(`{}`)) {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-ch:
			if !e.for_(s, c.cfg.Now()) {
				continue
			}
			b, _ := json.Marshal(e)
			if !send(e.Type, b) {
				return
			}
		case <-tick.C:
			if c.cfg.Keys.Sealed() || c.authenticate(r, false) == nil {
				send("end", []byte(`{}`))
				return
			}
			if !send("", nil) {
				return
			}
		}
	}
}
