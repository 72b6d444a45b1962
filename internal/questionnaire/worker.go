// SPDX-License-Identifier: AGPL-3.0-or-later

package questionnaire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/wake"
)

// Worker runs the questionnaire in every conversation that has one: it
// starts sessions on new conversations, answers each message the contact
// sends while a session is active, notices an operator taking over, and
// turns finished sessions into cases. Every message is dealt with in one
// transaction with the session's new state and the replies it causes
// (sqlstore.AdvanceQuestionnaire), so a crash neither skips nor repeats an
// answer.
//
// One Worker per store: two would only lose races to each other (writes
// are conditional on the session's seq), never double a reply.
type Worker struct {
	DB     *sqlstore.DB
	Logger *slog.Logger

	// AutoStart lists the streams whose new conversations get a session
	// on their own. nil means surrender only; an empty, non-nil slice
	// turns automatic starts off (operators can still start the bot).
	AutoStart []lifeline.Stream
	// Default is the definition saved as version 1 when the first
	// session starts on a store that has none; nil means DefaultJSON.
	Default []byte
	// Poll is how often the worker looks without being poked; default 1 s.
	Poll time.Duration
	// Now is the clock for date answers; nil means time.Now.
	Now func() time.Time

	// Queued, if set, is called after replies were queued (to wake the
	// outbox); Changed after a conversation's session changed (for live
	// consoles).
	Queued  func()
	Changed func(lifeline.ConversationID)

	once sync.Once
	poke chan struct{}
	seen atomic.Int64 // the rowid of the last new conversation looked at
	mu   sync.Mutex
	defs map[int]*Definition

	// afterPersons, if set, runs between the case's persons and the end
	// of the session (tests: a crash there).
	afterPersons func() error
}

func (w *Worker) init() {
	w.once.Do(func() {
		if w.Logger == nil {
			w.Logger = slog.New(slog.DiscardHandler)
		}
		if w.Poll <= 0 {
			w.Poll = time.Second
		}
		if w.AutoStart == nil {
			w.AutoStart = []lifeline.Stream{lifeline.StreamSurrender}
		}
		if w.Default == nil {
			w.Default = DefaultJSON
		}
		if w.Now == nil {
			w.Now = time.Now
		}
		w.poke = make(chan struct{}, 1)
		w.defs = map[int]*Definition{}
	})
}

// Poke wakes the worker: a message was stored, or a session changed.
func (w *Worker) Poke() {
	w.init()
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// minGap is the shortest time between two idle looks when poked.
const minGap = 200 * time.Millisecond

// Run works until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		start := time.Now()
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil && lifeline.ErrorCode(err) != lifeline.EUNAVAILABLE {
			w.Logger.Error("questionnaire", "error", err.Error())
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.poke:
			// Under a flood every message pokes: look at most every
			// minGap, not once per message. A contact waits for the bot a
			// fraction of a second at most.
			if !wake.Settle(ctx, start, minGap) {
				return
			}
		}
	}
}

// batch is how many conversations one round takes of each kind.
const batch = 32

// RunOnce starts sessions on new conversations, works the sessions that
// have something to do, and applies the contacts' corrections of their
// identity answers, and returns how many conversations and corrections it
// handled.
// While the server is sealed nothing can be read: EUNAVAILABLE.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.init()
	n := 0
	// New conversations matter only where the bot starts by itself; an
	// operator starts it on one conversation from the console.
	if len(w.AutoStart) > 0 {
		cands, err := w.DB.QuestionnaireCandidates(ctx, w.seen.Load(), batch)
		if err != nil {
			return 0, err
		}
		for _, c := range cands {
			if err := w.start(ctx, c); err != nil {
				return n, fmt.Errorf("start %s: %w", c.Conversation, err)
			}
			w.seen.Store(c.Rowid)
			n++
		}
	}
	pending, err := w.DB.PendingQuestionnaires(ctx, batch)
	if err != nil {
		return n, err
	}
	for _, conv := range pending {
		if err := w.Process(ctx, conv); err != nil {
			return n, fmt.Errorf("conversation %s: %w", conv, err)
		}
		n++
	}
	// A contact's edits of his identity answers go to the session's
	// answers, or to the case (sqlstore.ApplyAnswerCorrections).
	c, err := w.DB.ApplyAnswerCorrections(ctx, batch)
	if err != nil {
		return n, fmt.Errorf("answer corrections: %w", err)
	}
	return n + c, nil
}

// definition returns a version of the definition, parsed once; version 0
// means the newest.
func (w *Worker) definition(ctx context.Context, version int) (*Definition, int, error) {
	var v *sqlstore.QuestionnaireVersion
	var err error
	if version == 0 {
		v, err = w.DB.Questionnaire(ctx)
		if lifeline.ErrorCode(err) == lifeline.ENOTFOUND {
			// The first session ever: the default becomes version 1.
			if _, perr := Parse(w.Default); perr != nil {
				return nil, 0, fmt.Errorf("default questionnaire: %w", perr)
			}
			if _, err = w.DB.EnsureQuestionnaire(ctx, w.Default); err == nil {
				v, err = w.DB.Questionnaire(ctx)
			}
		}
	} else {
		w.mu.Lock()
		d := w.defs[version]
		w.mu.Unlock()
		if d != nil {
			return d, version, nil
		}
		v, err = w.DB.QuestionnaireVersion(ctx, version)
	}
	if err != nil {
		return nil, 0, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if d := w.defs[v.Version]; d != nil {
		return d, v.Version, nil
	}
	d, err := Parse(v.Definition)
	if err != nil {
		return nil, 0, fmt.Errorf("questionnaire version %d: %w", v.Version, err)
	}
	w.defs[v.Version] = d
	return d, v.Version, nil
}

// start opens a session on a new conversation, or marks it skipped: the
// bot runs only where nobody else does (no operator has written, the
// contact has no case) and only in the streams it starts in.
func (w *Worker) start(ctx context.Context, c sqlstore.QuestionnaireCandidate) error {
	if c.Closed || c.HasCase || c.OperatorAnswered || !slices.Contains(w.AutoStart, c.Stream) {
		return w.DB.SkipQuestionnaire(ctx, c.Conversation, c.Contact)
	}
	d, version, err := w.definition(ctx, 0)
	if err != nil {
		return err
	}
	// What he wrote before the bot: a question goes to an operator at once.
	msgs, err := w.DB.QuestionnaireInput(ctx, c.Conversation, 0, inputBatch)
	if err != nil {
		return err
	}
	var opening []Input
	var last int64
	for _, m := range msgs {
		if m.Direction == lifeline.Inbound {
			opening = append(opening, Input{Text: m.Text.Reveal(), Media: m.Kind != "text"})
			last = m.Rowid
		}
	}
	s, res := d.Start(opening...)
	rec, err := record(d, c.Conversation, c.Contact, version, s)
	if err != nil {
		return err
	}
	err = w.DB.StartQuestionnaire(ctx, rec, step(res, last))
	if lifeline.ErrorCode(err) == lifeline.ECONFLICT {
		return nil // started meanwhile
	}
	if err == nil {
		w.changed(c.Conversation, len(res.Replies) > 0)
	}
	return err
}

// Process works one conversation's session: it deals with every message
// after the last one it dealt with, in order, then finishes a completing
// session. A change made meanwhile (an operator's pause) makes it read the
// session again.
func (w *Worker) Process(ctx context.Context, conv lifeline.ConversationID) error {
	w.init()
	for range 5 {
		err := w.process(ctx, conv)
		if lifeline.ErrorCode(err) != lifeline.ECONFLICT {
			return err
		}
	}
	return nil // busy: the next round tries again
}

// inputBatch is how many messages one read takes.
const inputBatch = 50

func (w *Worker) process(ctx context.Context, conv lifeline.ConversationID) error {
	rec, err := w.DB.QuestionnaireSession(ctx, conv)
	if err != nil {
		return err
	}
	d, version, err := w.definition(ctx, rec.Version)
	if err != nil {
		return err
	}
	if rec.Reask && rec.Step == "" {
		// An operator started the bot: from the greeting, on the newest version.
		s, res := d.Start()
		next, err := record(d, conv, rec.Contact, version, s)
		if err != nil {
			return err
		}
		next.LastRowid = rec.LastRowid
		if err := w.advance(ctx, rec, next, res, 0, ""); err != nil {
			return err
		}
		return w.process(ctx, conv)
	}
	s, err := session(rec)
	if err != nil {
		return err
	}
	switch rec.State {
	case sqlstore.QuestionnaireCompleting:
		return w.complete(ctx, rec, d, s)
	case sqlstore.QuestionnaireDone:
		return nil
	}
	if rec.Reask {
		s2, res := d.Resume(s)
		if err := w.save(ctx, rec, d, s2, rec.LastRowid, "", res); err != nil {
			return err
		}
		return w.process(ctx, conv)
	}
	msgs, err := w.DB.QuestionnaireInput(ctx, conv, rec.LastRowid, inputBatch)
	if err != nil {
		return err
	}
	// Messages that change nothing (our own replies, an operator's note)
	// move the cursor with the next one that does, or at the end.
	last := rec.LastRowid
	for _, m := range msgs {
		last = m.Rowid
		var next Session
		var res Result
		switch {
		case m.Direction == lifeline.Outbound && m.ByOperator:
			next, res = d.Takeover(s)
		case m.Direction == lifeline.Inbound:
			next, res = d.Handle(s, Input{Text: m.Text.Reveal(), Media: m.Kind != "text"}, w.Now())
		default:
			continue
		}
		if !res.Changed && len(res.Replies) == 0 {
			continue
		}
		var answer lifeline.MessageID
		if res.Identity != "" {
			answer = m.ID
		}
		if err := w.save(ctx, rec, d, next, m.Rowid, answer, res); err != nil {
			return err
		}
		// The next write is conditional on the seq this one made.
		if rec, err = w.DB.QuestionnaireSession(ctx, conv); err != nil {
			return err
		}
		if s, err = session(rec); err != nil {
			return err
		}
		if rec.State != sqlstore.QuestionnaireActive && rec.State != sqlstore.QuestionnairePaused {
			break // what follows the end is the operators'
		}
	}
	switch rec.State {
	case sqlstore.QuestionnaireActive, sqlstore.QuestionnairePaused:
		if last > rec.LastRowid {
			if err := w.save(ctx, rec, d, s, last, "", Result{}); err != nil {
				return err
			}
		}
		if len(msgs) == inputBatch {
			return w.process(ctx, conv)
		}
	case sqlstore.QuestionnaireCompleting:
		return w.complete(ctx, rec, d, s)
	}
	return nil
}

// save writes a session's next state with the message it dealt with and
// the replies it caused; a session that reached a hand-off ends here, one
// that registers gets its plan. answer, if set, is that message, taken as
// the answer to an identity question (res.Identity): the store replaces its
// text by a marker in the same write.
func (w *Worker) save(ctx context.Context, rec *sqlstore.QuestionnaireSession, d *Definition, s Session, rowid int64, answer lifeline.MessageID, res Result) error {
	next, err := record(d, rec.Conversation, rec.Contact, rec.Version, s)
	if err != nil {
		return err
	}
	next.LastRowid = rowid
	if s.State == Done {
		err := w.DB.FinishQuestionnaire(ctx, next, rec.Seq, sqlstore.QuestionnaireHandoff, answered(step(res, rowid), answer, res))
		if err == nil {
			w.changed(rec.Conversation, len(res.Replies) > 0)
		}
		return err
	}
	if s.State == Completing {
		p := sqlstore.QuestionnairePlan{Case: lifeline.NewCaseID(), Applicant: lifeline.NewPersonID()}
		for _, r := range s.Answers.Relatives {
			id := lifeline.NewPersonID()
			p.Relatives = append(p.Relatives, id)
			if r["relocate"] == "yes" {
				p.Relocate = append(p.Relocate, id)
			}
		}
		if next.Plan, err = json.Marshal(p); err != nil {
			return err
		}
	}
	return w.advance(ctx, rec, next, res, rowid, answer)
}

// advance writes a session's next state; rowid is the message that caused
// it (0 for none), answer that message if it answered an identity question.
func (w *Worker) advance(ctx context.Context, rec, next *sqlstore.QuestionnaireSession, res Result, rowid int64, answer lifeline.MessageID) error {
	err := w.DB.AdvanceQuestionnaire(ctx, next, rec.Seq, answered(step(res, rowid), answer, res))
	if err == nil && (res.Changed || len(res.Replies) > 0) {
		w.changed(rec.Conversation, len(res.Replies) > 0)
	}
	return err
}

// complete makes the case a completing session planned, step by step, each
// step done only if it was not before (a crash between them leaves the
// session completing, and the next round carries on), then ends the
// session with the final message.
func (w *Worker) complete(ctx context.Context, rec *sqlstore.QuestionnaireSession, d *Definition, s Session) error {
	var p sqlstore.QuestionnairePlan
	if err := json.Unmarshal(rec.Plan, &p); err != nil || !p.Case.Valid() || !p.Applicant.Valid() {
		return fmt.Errorf("plan of a completing session: %v", err)
	}
	system := lifeline.Actor{ID: lifeline.ActorSystem}
	ok, err := w.DB.CaseExists(ctx, p.Case)
	if err != nil {
		return err
	}
	if !ok {
		stream := lifeline.Stream(s.Answers.Stream)
		if !stream.Valid() {
			stream = lifeline.StreamSurrender
		}
		for try := 0; !ok; try++ {
			c, err := lifeline.NewCase(stream, w.Now())
			if err != nil {
				return err
			}
			c.ID = p.Case
			switch err := w.DB.CreateCase(ctx, system, c); {
			case err == nil:
				ok = true
			case lifeline.ErrorCode(err) == lifeline.ECONFLICT && try < 5:
				// The code name is taken: draw another.
			default:
				return err
			}
		}
	}
	applicant, relatives := s.Answers.Persons()
	persons := []lifeline.Person{applicant}
	for _, r := range relatives {
		persons = append(persons, r.Person)
	}
	ids := append([]lifeline.PersonID{p.Applicant}, p.Relatives...)
	if len(ids) != len(persons) {
		return errors.New("the plan and the answers name different relatives")
	}
	for i := range persons {
		ok, err := w.DB.PersonExists(ctx, ids[i])
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		persons[i].ID, persons[i].CaseID = ids[i], p.Case
		if err := w.DB.AddPerson(ctx, system, &persons[i]); err != nil {
			return err
		}
	}
	if w.afterPersons != nil {
		if err := w.afterPersons(); err != nil {
			return err
		}
	}
	if err := w.DB.CompleteQuestionnaire(ctx, rec.Conversation, rec.Seq, d.Final(s)); err != nil {
		return err
	}
	w.changed(rec.Conversation, true)
	return nil
}

func (w *Worker) changed(conv lifeline.ConversationID, queued bool) {
	if queued && w.Queued != nil {
		w.Queued()
	}
	if w.Changed != nil {
		w.Changed(conv)
	}
}

// answered adds to a step the message taken as the answer to an identity
// question, if there is one.
func answered(st sqlstore.QuestionnaireStep, answer lifeline.MessageID, res Result) sqlstore.QuestionnaireStep {
	if answer != "" && res.Identity != "" {
		st.Answer, st.AnswerKey = answer, res.Identity
	}
	return st
}

// record turns an engine session into the store's, answers as JSON.
func record(d *Definition, conv lifeline.ConversationID, contact lifeline.ContactID, version int, s Session) (*sqlstore.QuestionnaireSession, error) {
	var answers []byte
	if s.State != Done {
		var err error
		if answers, err = json.Marshal(s.Answers); err != nil {
			return nil, err
		}
	}
	return &sqlstore.QuestionnaireSession{
		Conversation: conv, Contact: contact, Version: version, State: string(s.State), PausedBy: s.PausedBy,
		Step: s.Cursor.String(), Language: s.Language, Answers: answers, Misses: s.Misses, Handoff: s.Handoff,
		AwaitsIdentity: awaits(d, s),
	}, nil
}

// awaits reports whether s waits on an identity question of d.
func awaits(d *Definition, s Session) bool {
	_, ok := d.AwaitsIdentity(s)
	return ok
}

// session turns the store's session into the engine's.
func session(rec *sqlstore.QuestionnaireSession) (Session, error) {
	s := Session{State: State(rec.State), PausedBy: rec.PausedBy, Language: rec.Language, Misses: rec.Misses, Handoff: rec.Handoff}
	var err error
	if s.Cursor, err = ParseCursor(rec.Step); err != nil {
		return s, err
	}
	if len(rec.Answers) > 0 {
		if err := json.Unmarshal(rec.Answers, &s.Answers); err != nil {
			return s, fmt.Errorf("answers: %w", err)
		}
	}
	return s, nil
}

// step turns an engine result into what the store writes; rowid is the
// message that caused it.
func step(res Result, rowid int64) sqlstore.QuestionnaireStep {
	st := sqlstore.QuestionnaireStep{
		Replies: res.Replies, Answered: res.Answered,
		Language: lifeline.Language(res.Language), Stream: lifeline.Stream(res.Stream),
	}
	if res.Handoff != "" {
		st.Handoff, st.Since = res.Handoff, rowid
	}
	return st
}
