// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// The registration questionnaire's store: its definitions, versioned, and
// one bot session per conversation (internal/questionnaire runs them).

// QuestionnaireVersion is one saved questionnaire definition.
type QuestionnaireVersion struct {
	Version    int
	Definition []byte // JSON; internal/questionnaire.Parse reads it
	CreatedBy  string // the operator's username, or cli or system
	CreatedDay lifeline.Day
}

// maxQuestionnaireBytes caps a stored definition.
const maxQuestionnaireBytes = 256 << 10

// Questionnaire returns the newest definition; ENOTFOUND if none was saved.
func (db *DB) Questionnaire(ctx context.Context) (*QuestionnaireVersion, error) {
	return db.questionnaireVersion(ctx, `ORDER BY q.version DESC LIMIT 1`)
}

// QuestionnaireVersion returns one version of the definition; ENOTFOUND if
// there is none.
func (db *DB) QuestionnaireVersion(ctx context.Context, version int) (*QuestionnaireVersion, error) {
	return db.questionnaireVersion(ctx, `WHERE q.version = ?`, version)
}

func (db *DB) questionnaireVersion(ctx context.Context, where string, args ...any) (*QuestionnaireVersion, error) {
	var v QuestionnaireVersion
	var def, day string
	err := db.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(`SELECT q.version, q.definition, COALESCE(o.username, q.created_by), q.created_day
			FROM questionnaires q LEFT JOIN operators o ON o.id = q.created_by `+where, args...).Scan(&v.Version, &def, &v.CreatedBy, &day)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lifeline.Errorf(lifeline.ENOTFOUND, "No questionnaire has been saved.")
	}
	if err != nil {
		return nil, err
	}
	v.Definition = []byte(def)
	v.CreatedDay, err = lifeline.ParseDay(day)
	return &v, err
}

// QuestionnaireVersions lists the saved versions, newest first, without
// their definitions.
func (db *DB) QuestionnaireVersions(ctx context.Context) ([]QuestionnaireVersion, error) {
	var out []QuestionnaireVersion
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (v QuestionnaireVersion, err error) {
			var day string
			if err = rows.Scan(&v.Version, &v.CreatedBy, &day); err == nil {
				v.CreatedDay, err = lifeline.ParseDay(day)
			}
			return v, err
		}, `SELECT q.version, COALESCE(o.username, q.created_by), q.created_day
			FROM questionnaires q LEFT JOIN operators o ON o.id = q.created_by ORDER BY q.version DESC`)
		return err
	})
	return out, err
}

// SaveQuestionnaire stores a definition as the next version, audited
// (questionnaire.save, the version as the object), and returns the
// version. The caller checks the definition (questionnaire.Parse); the
// store only refuses what is not JSON (EINVALID). Sessions under way keep
// the version they started on.
func (db *DB) SaveQuestionnaire(ctx context.Context, by lifeline.Actor, definition []byte) (int, error) {
	if len(definition) == 0 || len(definition) > maxQuestionnaireBytes || !json.Valid(definition) {
		return 0, lifeline.Errorf(lifeline.EINVALID, "A questionnaire is a JSON object of at most %d KiB.", maxQuestionnaireBytes>>10)
	}
	var version int
	err := db.Write(ctx, func(tx *Tx) error {
		if err := tx.QueryRow(`SELECT COALESCE(MAX(version), 0) + 1 FROM questionnaires`).Scan(&version); err != nil {
			return err
		}
		return db.insertQuestionnaire(tx, by, version, definition)
	})
	return version, err
}

func (db *DB) insertQuestionnaire(tx *Tx, by lifeline.Actor, version int, definition []byte) error {
	if _, err := tx.Exec(`INSERT INTO questionnaires (version, definition, created_by, created_day) VALUES (?, ?, ?, ?)`,
		version, string(definition), by.ID, lifeline.DayOf(tx.Now()).String()); err != nil {
		return err
	}
	_, err := AppendAudit(tx, audit.Entry{
		Actor: by.ID, Role: string(by.Role), Action: "questionnaire.save", Object: "v" + strconv.Itoa(version),
		Decision: audit.DecisionAllow, RequestID: by.RequestID,
	})
	return err
}

// EnsureQuestionnaire saves definition as version 1, by the system, if no
// version exists yet, and returns the newest version.
func (db *DB) EnsureQuestionnaire(ctx context.Context, definition []byte) (int, error) {
	var version int
	err := db.Write(ctx, func(tx *Tx) error {
		if err := tx.QueryRow(`SELECT COALESCE(MAX(version), 0) FROM questionnaires`).Scan(&version); err != nil || version > 0 {
			return err
		}
		version = 1
		return db.insertQuestionnaire(tx, lifeline.Actor{ID: lifeline.ActorSystem}, version, definition)
	})
	return version, err
}

// Questionnaire session states (internal/questionnaire names them too).
const (
	QuestionnaireActive     = "active"
	QuestionnairePaused     = "paused"
	QuestionnaireCompleting = "completing"
	QuestionnaireDone       = "done"
)

// Questionnaire outcomes of a done session.
const (
	QuestionnaireRegistered = "registered" // the answers are a case
	QuestionnaireHandoff    = "handoff"    // no case: operators take the conversation
	QuestionnaireSkipped    = "skipped"    // the bot never ran (an operator's conversation, a known contact, another stream)
)

// QuestionnaireSession is the bot's place in one conversation.
type QuestionnaireSession struct {
	Conversation lifeline.ConversationID
	Contact      lifeline.ContactID
	Version      int    // the definition it runs on; 0 before it started
	State        string // active, paused, completing, done
	PausedBy     string // contact, operator or bot, while paused
	Step         string // the question it waits on; "" before the first
	Language     string
	// Answers are the answers so far, JSON, opened; nil when the store
	// was asked for the session without them, and after it is done.
	Answers   []byte
	LastRowid int64 // the last message of the conversation it has dealt with
	Reask     bool  // resumed by an operator: ask the current question again (or start)
	Outcome   string
	Misses    int    // answers in a row the question could not take
	Handoff   string // why the bot handed the contact to operators (question, unusable), while paused; "" otherwise
	// AwaitsIdentity: the question it waits on is an identity question;
	// the contact's messages it has not dealt with yet are then shown as
	// awaiting the bot, never their text.
	AwaitsIdentity         bool
	Case                   lifeline.CaseID
	Plan                   []byte // completing: the ids the case and its persons get, JSON
	Seq                    int64  // every change bumps it; writes are conditional on it
	StartedDay, UpdatedDay lifeline.Day
}

func questionnaireOwner(conv lifeline.ConversationID) string { return "questionnaire:" + string(conv) }

func questionnaireAAD(conv lifeline.ConversationID) seal.AAD {
	return seal.AAD{Table: "questionnaire_sessions", Column: "answers", Row: string(conv)}
}

const questionnaireSessionColumns = `conversation_id, contact_id, version, state, paused_by, step, language, answers, last_rowid, reask, outcome, misses, handoff, COALESCE(case_id, ''), plan, seq, started_day, updated_day, awaits_identity`

func (db *DB) scanQuestionnaireSession(tx *Tx, row interface{ Scan(...any) error }, open bool) (*QuestionnaireSession, error) {
	var s QuestionnaireSession
	var answers []byte
	var plan, started, updated string
	if err := row.Scan(&s.Conversation, &s.Contact, &s.Version, &s.State, &s.PausedBy, &s.Step, &s.Language, &answers,
		&s.LastRowid, &s.Reask, &s.Outcome, &s.Misses, &s.Handoff, &s.Case, &plan, &s.Seq, &started, &updated, &s.AwaitsIdentity); err != nil {
		return nil, err
	}
	var err error
	if s.StartedDay, err = lifeline.ParseDay(started); err != nil {
		return nil, err
	}
	if s.UpdatedDay, err = lifeline.ParseDay(updated); err != nil {
		return nil, err
	}
	if plan != "" {
		s.Plan = []byte(plan)
	}
	if open && len(answers) > 0 {
		if s.Answers, err = db.openField(tx, questionnaireAAD(s.Conversation), answers); err != nil {
			return nil, unavailable(err)
		}
	}
	return &s, nil
}

// QuestionnaireSession reads a conversation's session with its answers
// opened; ENOTFOUND if it has none, EUNAVAILABLE while sealed. For the bot
// only: a person reading answers is a read of identity data.
func (db *DB) QuestionnaireSession(ctx context.Context, conv lifeline.ConversationID) (*QuestionnaireSession, error) {
	return db.questionnaireSession(ctx, conv, true)
}

// QuestionnaireStatus reads a conversation's session without its answers,
// for the console; ENOTFOUND if it has none.
func (db *DB) QuestionnaireStatus(ctx context.Context, conv lifeline.ConversationID) (*QuestionnaireSession, error) {
	return db.questionnaireSession(ctx, conv, false)
}

func (db *DB) questionnaireSession(ctx context.Context, conv lifeline.ConversationID, open bool) (*QuestionnaireSession, error) {
	var s *QuestionnaireSession
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		s, err = db.scanQuestionnaireSession(tx, tx.QueryRow(`SELECT `+questionnaireSessionColumns+` FROM questionnaire_sessions WHERE conversation_id = ?`, conv), open)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lifeline.Errorf(lifeline.ENOTFOUND, "The bot has no session in this conversation.")
	}
	return s, err
}

// QuestionnaireCandidate is a conversation the bot has not looked at yet.
type QuestionnaireCandidate struct {
	Conversation     lifeline.ConversationID
	Contact          lifeline.ContactID
	Kind             lifeline.ChannelKind
	Stream           lifeline.Stream
	Closed           bool
	HasCase          bool  // its contact is linked to a case already
	OperatorAnswered bool  // an operator has written in it
	Rowid            int64 // its place among conversations: pass the last one seen as after
}

// QuestionnaireCandidates lists up to limit conversations without a
// session, oldest first. The bot starts a session on each or marks it
// skipped, so that each is looked at once.
//
// after is the Rowid of the last candidate the caller has dealt with (0 at
// first): the scan starts past it, so it costs what is new, not every
// conversation there is.
func (db *DB) QuestionnaireCandidates(ctx context.Context, after int64, limit int) ([]QuestionnaireCandidate, error) {
	var out []QuestionnaireCandidate
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (c QuestionnaireCandidate, err error) {
			return c, rows.Scan(&c.Conversation, &c.Contact, &c.Kind, &c.Stream, &c.Closed, &c.HasCase, &c.OperatorAnswered, &c.Rowid)
		}, `SELECT v.id, v.contact_id, v.channel_kind, v.stream, v.state = 'closed', c.case_id IS NOT NULL,
				EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = v.id AND m.direction = 'out' AND m.author_id IS NOT NULL),
				v.rowid
			FROM conversations v JOIN contacts c ON c.id = v.contact_id
			WHERE v.rowid > ? AND NOT EXISTS (SELECT 1 FROM questionnaire_sessions s WHERE s.conversation_id = v.id)
			ORDER BY v.rowid LIMIT ?`, after, limit)
		return err
	})
	return out, err
}

// PendingQuestionnaires lists up to limit conversations whose session has
// work: a message of the contact or an operator it has not dealt with (the
// system's own replies are no work), a question to ask again, or a case to
// finish.
func (db *DB) PendingQuestionnaires(ctx context.Context, limit int) ([]lifeline.ConversationID, error) {
	var out []lifeline.ConversationID
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (id lifeline.ConversationID, err error) {
			return id, rows.Scan(&id)
		}, `SELECT s.conversation_id FROM questionnaire_sessions s
			WHERE s.state IN ('active', 'paused', 'completing')
				AND (s.state = 'completing' OR s.reask = 1
					OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = s.conversation_id AND m.rowid > s.last_rowid
						AND m.hold = '' AND (m.direction = 'in' OR m.author_id IS NOT NULL)))
			ORDER BY s.updated_day, s.conversation_id LIMIT ?`, limit)
		return err
	})
	return out, err
}

// BotMessage is a message of a conversation as the bot sees it.
type BotMessage struct {
	Rowid      int64
	ID         lifeline.MessageID
	Direction  lifeline.Direction
	Kind       string
	Text       lifeline.Sensitive // opened for inbound messages only
	ByOperator bool               // written by an operator (a reply, a template or a note)
}

// QuestionnaireInput reads up to limit messages of a conversation after
// rowid, oldest first, inbound ones opened; EUNAVAILABLE while sealed.
func (db *DB) QuestionnaireInput(ctx context.Context, conv lifeline.ConversationID, after int64, limit int) ([]BotMessage, error) {
	var out []BotMessage
	err := db.Read(ctx, func(tx *Tx) error {
		contact, err := conversationContact(tx, conv)
		if err != nil {
			return err
		}
		type row struct {
			m  BotMessage
			ct []byte
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.m.Rowid, &r.m.ID, &r.m.Direction, &r.m.Kind, &r.ct, &r.m.ByOperator)
		}, `SELECT rowid, id, direction, kind, body, author_id IS NOT NULL FROM messages
			WHERE conversation_id = ? AND rowid > ? AND hold = '' ORDER BY rowid LIMIT ?`, conv, after, limit)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.m.Direction == lifeline.Inbound {
				text, err := db.openMessage(tx, r.m.ID, contact, conv, r.ct)
				if err != nil {
					return fmt.Errorf("message %s: %w", r.m.ID, err)
				}
				r.m.Text = lifeline.Sensitive(text)
			}
			out = append(out, r.m)
		}
		return nil
	})
	return out, unavailable(err)
}

// QuestionnaireStep is what one step of the bot writes besides its session.
type QuestionnaireStep struct {
	// Replies are queued in order, as replies of the system.
	Replies []string
	// Answered: the replies answer the contact, and the conversation
	// leaves the waiting queue as after an operator's reply. False keeps it
	// waiting for a human (a pause, a hand-off, the end).
	Answered bool
	// Language and Stream, if set, become the conversation's.
	Language lifeline.Language
	Stream   lifeline.Stream
	// Handoff, if set, says why the bot hands the contact to operators
	// (question, unusable): audited (questionnaire.handoff), and the
	// conversation waits for a person from the message at rowid Since on,
	// unless it waits already, whatever the bot answered before.
	Handoff string
	Since   int64
	// Answer, if set, is the contact's message the bot took as the answer
	// to an identity question, and AnswerKey that question's key
	// (applicant.name, relatives.birth_date, …): the message's text is
	// replaced by a marker (RecordIdentityAnswer) in the same transaction.
	Answer    lifeline.MessageID
	AnswerKey string
}

// AnswerMarker is what a conversation shows, in every reader (console, API,
// exports), in place of a contact's answer to an identity question: that an
// answer was recorded, and to which question, never the answer.
func AnswerMarker(key string) string { return "answer recorded: " + key }

// validAnswerKey: a question's key is a field or step id, a-z, 0-9, '.'
// and '_'.
func validAnswerKey(k string) bool {
	if k == "" || len(k) > 80 {
		return false
	}
	for _, c := range []byte(k) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// recordIdentityAnswer replaces the text of an inbound message of conv
// that the bot took as the answer to an identity question by
// AnswerMarker(key), sealed as bodies are, and drops its other versions
// (edits): the answer itself lives only in the identity compartment (the
// session's sealed answers, then the case's persons). The old ciphertext is
// overwritten in place (secure_delete zeroes what SQLite frees); see
// docs/compartments.md for the copies that can outlive it.
func (db *DB) recordIdentityAnswer(tx *Tx, conv lifeline.ConversationID, id lifeline.MessageID, key string) error {
	if !validAnswerKey(key) {
		return lifeline.Errorf(lifeline.EINVALID, "An answer's key is a question's field or id.")
	}
	var contact lifeline.ContactID
	err := tx.QueryRow(`SELECT contact_id FROM messages WHERE id = ? AND conversation_id = ? AND direction = 'in'`, id, conv).Scan(&contact)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // erased meanwhile: nothing to hide
	}
	if err != nil {
		return err
	}
	ct, err := db.sealField(tx, contactOwner(contact), messageOwner(id), seal.CompartmentConversation, messageAAD(id, conv), []byte(AnswerMarker(key)))
	if err != nil {
		return unavailable(err)
	}
	// The bot took the text first sent; an edit that came before the bot
	// did is the contact's correction of it, for the identity compartment.
	vs, err := db.conversationVersions(tx, conv)
	if err != nil {
		return err
	}
	var latest *version
	for i, v := range vs[id] {
		if v.seq > 0 && (latest == nil || v.at.Compare(latest.at) >= 0) {
			latest = &vs[id][i]
		}
	}
	if _, err := tx.Exec(`UPDATE messages SET body = ?, answer = ? WHERE id = ?`, ct, key, id); err != nil {
		return err
	}
	if _, err = tx.Exec(`DELETE FROM message_versions WHERE message_id = ?`, id); err != nil {
		return err
	}
	if latest == nil {
		return nil
	}
	in := &Ingest{db: db, tx: tx}
	m := StoredInbound{ID: id, Contact: contact, Conversation: conv}
	if err := in.addCorrection(m, key, latest.text, latest.at); err != nil {
		return err
	}
	return in.addVersion(m, lifeline.Sensitive(AnswerCorrectedMarker(key)), latest.at, nextSeq)
}

// SkipQuestionnaire marks a conversation the bot is not to run on.
func (db *DB) SkipQuestionnaire(ctx context.Context, conv lifeline.ConversationID, contact lifeline.ContactID) error {
	return db.Write(ctx, func(tx *Tx) error {
		day := lifeline.DayOf(tx.Now()).String()
		_, err := tx.Exec(`INSERT INTO questionnaire_sessions (conversation_id, contact_id, version, state, outcome, started_day, updated_day)
			VALUES (?, ?, 0, 'done', 'skipped', ?, ?) ON CONFLICT DO NOTHING`, conv, contact, day, day)
		return err
	})
}

// StartQuestionnaire opens a session on a conversation that has none and
// queues its first messages, in one transaction. Every message already in
// the conversation counts as dealt with: the bot answers what comes after
// its first question. ECONFLICT if the conversation has a session.
func (db *DB) StartQuestionnaire(ctx context.Context, s *QuestionnaireSession, step QuestionnaireStep) error {
	return db.Write(ctx, func(tx *Tx) error {
		day := lifeline.DayOf(tx.Now()).String()
		res, err := tx.Exec(`INSERT INTO questionnaire_sessions (conversation_id, contact_id, version, state, paused_by, step, language, misses, handoff, awaits_identity, last_rowid, started_day, updated_day)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(rowid), 0) FROM messages WHERE conversation_id = ?), ?, ?) ON CONFLICT DO NOTHING`,
			s.Conversation, s.Contact, s.Version, s.State, s.PausedBy, s.Step, s.Language, s.Misses, s.Handoff, s.AwaitsIdentity, s.Conversation, day, day)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ECONFLICT, "The conversation has a bot session already.")
		}
		if err := db.sealAnswers(tx, s.Conversation, s.Answers); err != nil {
			return err
		}
		return db.applyStep(tx, s.Conversation, s.Contact, step)
	})
}

// sealAnswers stores a session's answers sealed (identity) under the
// session's own key.
func (db *DB) sealAnswers(tx *Tx, conv lifeline.ConversationID, answers []byte) error {
	var ct []byte
	if len(answers) > 0 {
		var err error
		ct, err = db.sealField(tx, questionnaireOwner(conv), "", seal.CompartmentIdentity, questionnaireAAD(conv), answers)
		if err != nil {
			return unavailable(err)
		}
	}
	_, err := tx.Exec(`UPDATE questionnaire_sessions SET answers = ? WHERE conversation_id = ?`, ct, conv)
	return err
}

// AdvanceQuestionnaire writes a session's new state (State, PausedBy,
// Step, Language, Answers, LastRowid, Misses, Handoff, Plan; Reask is
// cleared) and queues
// the step's replies, in one transaction, if the session is still at seq;
// else ECONFLICT (read it again). The message at LastRowid and everything
// it caused commit together: after a crash the bot neither skips nor
// repeats it.
func (db *DB) AdvanceQuestionnaire(ctx context.Context, s *QuestionnaireSession, seq int64, step QuestionnaireStep) error {
	return db.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE questionnaire_sessions SET state = ?, paused_by = ?, step = ?, language = ?, last_rowid = ?, plan = ?,
				misses = ?, handoff = ?, awaits_identity = ?, reask = 0, seq = seq + 1, updated_day = ?
			WHERE conversation_id = ? AND seq = ? AND state <> 'done'`,
			s.State, s.PausedBy, s.Step, s.Language, s.LastRowid, string(s.Plan), s.Misses, s.Handoff, s.AwaitsIdentity, lifeline.DayOf(tx.Now()).String(), s.Conversation, seq)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ECONFLICT, "The bot session changed meanwhile.")
		}
		if err := db.sealAnswers(tx, s.Conversation, s.Answers); err != nil {
			return err
		}
		return db.applyStep(tx, s.Conversation, s.Contact, step)
	})
}

// applyStep queues a step's replies, sets the conversation's language and
// stream, and records a hand-off.
func (db *DB) applyStep(tx *Tx, conv lifeline.ConversationID, contact lifeline.ContactID, step QuestionnaireStep) error {
	if step.Answer != "" {
		if err := db.recordIdentityAnswer(tx, conv, step.Answer, step.AnswerKey); err != nil {
			return err
		}
	}
	if step.Handoff != "" {
		// The contact waits for a person, exactly as if no bot had run: the
		// router's rule (waiting_seq) takes the conversation, its timer
		// starts at the message that caused the hand-off, and it escalates
		// past the target. The bot's earlier replies may have ended an
		// earlier wait; a wait already running keeps its start.
		if _, err := tx.Exec(`UPDATE conversations SET waiting_seq = COALESCE(waiting_seq, ?) WHERE id = ? AND state <> 'closed'`, step.Since, conv); err != nil {
			return err
		}
		if _, err := AppendAudit(tx, audit.Entry{Actor: lifeline.ActorSystem, Action: "questionnaire.handoff", Object: string(conv), Reason: step.Handoff, Decision: audit.DecisionAllow}); err != nil {
			return err
		}
	}
	if step.Language != "" && step.Language.Valid() {
		if _, err := tx.Exec(`UPDATE conversations SET language = ? WHERE id = ?`, step.Language, conv); err != nil {
			return err
		}
	}
	if step.Stream != "" && step.Stream.Valid() {
		if _, err := tx.Exec(`UPDATE conversations SET stream = ? WHERE id = ?`, step.Stream, conv); err != nil {
			return err
		}
	}
	return db.queueBotReplies(tx, conv, contact, step.Replies, step.Answered)
}

// queueBotReplies stores and queues the bot's messages as QueueReply does
// for the system (audited as conversation.reply), inside the caller's
// transaction. On WhatsApp past the 24-hour window nothing free-form may
// go: the replies are dropped, and the bot carries on when the contact
// writes again.
func (db *DB) queueBotReplies(tx *Tx, conv lifeline.ConversationID, contact lifeline.ContactID, replies []string, answered bool) error {
	if len(replies) == 0 {
		return nil
	}
	var kind lifeline.ChannelKind
	var lastInbound sql.NullString
	if err := tx.QueryRow(`SELECT channel_kind, last_inbound_hour FROM conversations WHERE id = ?`, conv).Scan(&kind, &lastInbound); err != nil {
		return err
	}
	if !windowOpen(kind, lastInbound, tx.Now()) {
		return nil
	}
	system := lifeline.Actor{ID: lifeline.ActorSystem}
	for i, text := range replies {
		if text == "" || len(text) > 4096 {
			return lifeline.Errorf(lifeline.EINVALID, "A reply is 1 to 4096 bytes of text.")
		}
		m := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: contact, Direction: lifeline.Outbound, Body: lifeline.Sensitive(text)}
		if err := db.addMessage(tx, m, conv, "text", nil, "queued"); err != nil {
			return unavailable(err)
		}
		if err := enqueueAt(tx, m.ID, conv, kind, PriorityBot, tx.Now().Add(time.Duration(i)*time.Microsecond)); err != nil {
			return err
		}
		if _, err := AppendAudit(tx, audit.Entry{Actor: system.ID, Action: "conversation.reply", Object: string(conv) + " " + string(m.ID), Decision: audit.DecisionAllow}); err != nil {
			return err
		}
	}
	q := `UPDATE conversations SET last_activity_day = ? WHERE id = ?`
	if answered {
		q = `UPDATE conversations SET last_activity_day = ?, waiting_seq = NULL, escalated = 0 WHERE id = ?`
	}
	_, err := tx.Exec(q, lifeline.DayOf(tx.Now()).String(), conv)
	return err
}

// QuestionnairePlan is what a completing session becomes: the ids of the
// case and of its persons, drawn once, so that finishing again after a
// crash finds what it made before instead of making it twice.
type QuestionnairePlan struct {
	Case      lifeline.CaseID     `json:"case"`
	Applicant lifeline.PersonID   `json:"applicant"`
	Relatives []lifeline.PersonID `json:"relatives,omitempty"`
	Relocate  []lifeline.PersonID `json:"relocate,omitempty"` // relatives who need relocation
}

// CaseExists reports whether a case is stored.
func (db *DB) CaseExists(ctx context.Context, id lifeline.CaseID) (bool, error) {
	return db.exists(ctx, `SELECT 1 FROM cases WHERE id = ?`, id)
}

// PersonExists reports whether a person is stored.
func (db *DB) PersonExists(ctx context.Context, id lifeline.PersonID) (bool, error) {
	return db.exists(ctx, `SELECT 1 FROM persons WHERE id = ?`, id)
}

func (db *DB) exists(ctx context.Context, q string, arg any) (bool, error) {
	var one int
	err := db.Read(ctx, func(tx *Tx) error { return tx.QueryRow(q, arg).Scan(&one) })
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// CompleteQuestionnaire finishes a completing session whose case and
// persons (the plan's) are stored: the relatives who need it are marked
// for relocation, the contact is linked to the case, the session is done
// (registered) and its answers and their key erased, and the final message
// is queued (the conversation stays waiting for an operator), in one
// transaction, if the session is still at seq; else ECONFLICT.
func (db *DB) CompleteQuestionnaire(ctx context.Context, conv lifeline.ConversationID, seq int64, final string) error {
	var shredded []seal.KeyID
	err := db.audited(ctx, lifeline.Actor{ID: lifeline.ActorSystem}, "questionnaire.complete", string(conv), "", func(tx *Tx) error {
		var contact lifeline.ContactID
		var plan string
		err := tx.QueryRow(`SELECT contact_id, plan FROM questionnaire_sessions WHERE conversation_id = ? AND seq = ? AND state = 'completing'`, conv, seq).Scan(&contact, &plan)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ECONFLICT, "The bot session changed meanwhile.")
		}
		if err != nil {
			return err
		}
		var p QuestionnairePlan
		if err := json.Unmarshal([]byte(plan), &p); err != nil || !p.Case.Valid() {
			return fmt.Errorf("questionnaire plan of %s: %v", conv, err)
		}
		for _, id := range p.Relocate {
			if _, err := tx.Exec(`UPDATE persons SET relocate = 1 WHERE id = ? AND case_id = ?`, id, p.Case); err != nil {
				return err
			}
		}
		day := lifeline.DayOf(tx.Now()).String()
		if _, err := tx.Exec(`UPDATE contacts SET case_id = ? WHERE id = ? AND case_id IS NULL`, p.Case, contact); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE cases SET last_contact_day = ? WHERE id = ?`, day, p.Case); err != nil {
			return err
		}
		// The case's timeline starts with the questionnaire's answers.
		if err := db.addEvent(tx, lifeline.Actor{ID: lifeline.ActorSystem}, p.Case, "created", "", string(lifeline.CaseRegistered), seal.CompartmentIdentity, ""); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE questionnaire_sessions SET state = 'done', paused_by = '', outcome = 'registered', case_id = ?, answers = NULL, awaits_identity = 0,
				seq = seq + 1, updated_day = ? WHERE conversation_id = ?`, p.Case, day, conv); err != nil {
			return err
		}
		if shredded, err = db.deleteDataKeys(tx, questionnaireOwner(conv)); err != nil {
			return err
		}
		if final == "" {
			return nil
		}
		return db.queueBotReplies(tx, conv, contact, []string{final}, false)
	})
	if err == nil && db.sealer != nil {
		db.sealer.Forget(shredded...)
	}
	return err
}

// FinishQuestionnaire ends a session without a case (a hand-off): done,
// with the outcome, its answers and their key erased, the step's replies
// queued, if the session is still at seq; else ECONFLICT.
func (db *DB) FinishQuestionnaire(ctx context.Context, s *QuestionnaireSession, seq int64, outcome string, step QuestionnaireStep) error {
	var shredded []seal.KeyID
	err := db.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE questionnaire_sessions SET state = 'done', paused_by = '', step = ?, language = ?, last_rowid = ?, outcome = ?,
				answers = NULL, reask = 0, awaits_identity = 0, seq = seq + 1, updated_day = ?
			WHERE conversation_id = ? AND seq = ? AND state <> 'done'`,
			s.Step, s.Language, s.LastRowid, outcome, lifeline.DayOf(tx.Now()).String(), s.Conversation, seq)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ECONFLICT, "The bot session changed meanwhile.")
		}
		if shredded, err = db.deleteDataKeys(tx, questionnaireOwner(s.Conversation)); err != nil {
			return err
		}
		return db.applyStep(tx, s.Conversation, s.Contact, step)
	})
	if err == nil && db.sealer != nil {
		db.sealer.Forget(shredded...)
	}
	return err
}

// PauseQuestionnaire pauses the bot in a conversation on an operator's
// word, audited (questionnaire.pause); a pause the contact asked for
// becomes the operator's. ENOTFOUND if there is no such conversation,
// ECONFLICT if the bot is not running there or an operator paused it
// already.
func (db *DB) PauseQuestionnaire(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID) error {
	return db.audited(ctx, by, "questionnaire.pause", string(conv), "", func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE questionnaire_sessions SET state = 'paused', paused_by = 'operator', reask = 0, seq = seq + 1, updated_day = ?
			WHERE conversation_id = ? AND (state = 'active' OR (state = 'paused' AND paused_by <> 'operator'))`, lifeline.DayOf(tx.Now()).String(), conv)
		if err != nil {
			return err
		}
		return sessionChanged(tx, res, conv, "The bot is not running in this conversation, or an operator has paused it already.")
	})
}

// ResumeQuestionnaire resumes the bot in a conversation on an operator's
// word, audited (questionnaire.resume): a paused session asks its question
// again; a conversation the bot skipped, or never saw, gets a fresh
// session that starts from the greeting. ECONFLICT if the bot is running
// or has finished there.
func (db *DB) ResumeQuestionnaire(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID) error {
	return db.audited(ctx, by, "questionnaire.resume", string(conv), "", func(tx *Tx) error {
		day := lifeline.DayOf(tx.Now()).String()
		var contact lifeline.ContactID
		err := tx.QueryRow(`SELECT contact_id FROM conversations WHERE id = ?`, conv).Scan(&contact)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		if err != nil {
			return err
		}
		// A fresh start: every message so far is the operators'.
		if _, err := tx.Exec(`INSERT INTO questionnaire_sessions (conversation_id, contact_id, version, state, outcome, started_day, updated_day)
			VALUES (?, ?, 0, 'done', 'skipped', ?, ?) ON CONFLICT DO NOTHING`, conv, contact, day, day); err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE questionnaire_sessions SET state = 'active', paused_by = '', step = '', version = 0, outcome = '', answers = NULL, misses = 0, handoff = '',
				last_rowid = (SELECT COALESCE(MAX(rowid), 0) FROM messages WHERE conversation_id = ?), reask = 1, seq = seq + 1, started_day = ?, updated_day = ?
			WHERE conversation_id = ? AND state = 'done' AND outcome = 'skipped'`, conv, day, day, conv)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		res, err = tx.Exec(`UPDATE questionnaire_sessions SET state = 'active', paused_by = '', misses = 0, handoff = '', reask = 1, seq = seq + 1, updated_day = ?,
				last_rowid = (SELECT COALESCE(MAX(rowid), 0) FROM messages WHERE conversation_id = ?)
			WHERE conversation_id = ? AND state = 'paused'`, day, conv, conv)
		if err != nil {
			return err
		}
		return sessionChanged(tx, res, conv, "The bot is running or has finished in this conversation.")
	})
}

// sessionChanged turns an update that touched no session into ENOTFOUND
// (no such conversation) or ECONFLICT (the bot is not where it must be).
func sessionChanged(tx *Tx, res sql.Result, conv lifeline.ConversationID, conflict string) error {
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	var one int
	if err := tx.QueryRow(`SELECT 1 FROM conversations WHERE id = ?`, conv).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
	}
	return lifeline.Errorf(lifeline.ECONFLICT, "%s", conflict)
}
