// SPDX-License-Identifier: AGPL-3.0-or-later

// Package questionnaire runs the registration questionnaire (stage 1 of
// DESIGN.md): a bot that asks a new contact, in plain numbered text that
// reads the same on Telegram, WhatsApp and SMS, who he is, and turns the
// answers into a case in registered.
//
// The questions are data (a [Definition], JSON, versioned in the store and
// edited by supervisors in the console); the engine ([Definition.Start],
// [Definition.Handle]) is a pure function from a [Session] and one inbound
// message to the next session and the replies; the [Worker] reads
// conversations, runs the engine and writes each step back in one
// transaction with the replies it queues.
//
// Staged disclosure: the bot only asks, and says what happens next and how
// to stay safe. Nothing about procedures, meeting points or staff is in a
// definition (Parse refuses the words) or in the engine.
package questionnaire

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

// State is where a session stands.
type State string

// Session states. A session is active while the bot asks; paused while a
// human talks (the contact asked for it, or an operator answered); it is
// completing between the last answer and the case that the answers become,
// and done after.
const (
	Active     State = "active"
	Paused     State = "paused"
	Completing State = "completing"
	Done       State = "done"
)

// Who paused a session.
const (
	PausedByContact  = "contact"
	PausedByOperator = "operator"
	PausedByBot      = "bot" // the bot handed the contact to operators (Session.Handoff says why)
)

// Why the bot hands a contact to operators. A message the bot cannot use
// is a question for a human: the bot says an operator will answer, pauses,
// and the conversation waits for a person like any other (timer, place in
// the queue, escalation).
const (
	// HandoffQuestion: the contact asked something (lifeline.LooksLikeQuestion):
	// an answer the question cannot take, a text answer with a question
	// mark, or a first message that asks.
	HandoffQuestion = "question"
	// HandoffUnusable: MaxUnusable answers in a row the question could not take.
	HandoffUnusable = "unusable"
)

// MaxUnusable is how many answers in a row the question cannot take before
// the bot hands the contact to operators; the first gets the bot's hint
// (what is wrong, and the question again).
const MaxUnusable = 2

// Cursor is the question a session waits on: a top-level step, or inside a
// group the entry and the sub-step; Sub is -1 at a group's yes-or-no
// question (the first one for entry 0, "another?" after).
type Cursor struct {
	Step  string
	Entry int
	Sub   int
}

// String is the cursor as the store keeps it: "name", "relatives/1/2".
func (c Cursor) String() string {
	if c.Entry == 0 && c.Sub == 0 {
		return c.Step
	}
	return fmt.Sprintf("%s/%d/%d", c.Step, c.Entry, c.Sub)
}

// ParseCursor reads a cursor String wrote.
func ParseCursor(s string) (Cursor, error) {
	parts := strings.Split(s, "/")
	c := Cursor{Step: parts[0]}
	if len(parts) == 1 {
		return c, nil
	}
	if len(parts) != 3 {
		return c, fmt.Errorf("questionnaire cursor %q", s)
	}
	var err1, err2 error
	c.Entry, err1 = strconv.Atoi(parts[1])
	c.Sub, err2 = strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || c.Entry < 0 || c.Sub < -1 {
		return c, fmt.Errorf("questionnaire cursor %q", s)
	}
	return c, nil
}

// Answers are what the contact has told the bot. They identify him and his
// family: the store keeps them sealed.
type Answers struct {
	Language  string              `json:"language,omitempty"`
	Stream    string              `json:"stream,omitempty"`
	Applicant map[string]string   `json:"applicant,omitempty"` // person field (name, birth_date, …) → answer
	Relatives []map[string]string `json:"relatives,omitempty"` // each: relation, relocate (yes/no), person fields
}

// Session is one conversation's run through a questionnaire.
type Session struct {
	State    State
	PausedBy string // while paused: contact, operator or bot
	Cursor   Cursor
	Language string
	Answers  Answers
	// Misses counts the answers in a row the question could not take; a
	// usable answer, a hand-off and a resume reset it.
	Misses int
	// Handoff is why the bot handed the contact to operators (HandoffQuestion,
	// HandoffUnusable), kept while the session stays paused (an operator
	// taking over keeps it), cleared by a resume; "" otherwise.
	Handoff string
}

// Input is one message from the contact.
type Input struct {
	Text  string
	Media bool // a photo, voice note, file…: there may be no text
}

// Result is what a step of the engine asks the world to do.
type Result struct {
	// Replies are the bot's messages, in order.
	Replies []string
	// Answered: the replies answer the contact, so the conversation no
	// longer waits for an operator. False for a pause, a hand-off and the
	// end: a human should look then.
	Answered bool
	// Language is set when the contact chose one; Stream likewise.
	Language string
	Stream   string
	// Changed: the session is not what it was.
	Changed bool
	// Handoff is set when this step handed the contact to operators: why.
	// The conversation then waits for a human from the message that caused
	// it.
	Handoff string
	// Identity is set when the message was taken as the answer to an
	// identity question (or an attempt at one the bot asked again): the
	// question's key (applicant.name, relatives.birth_date, …). Its text
	// then goes only into the identity compartment, and the conversation
	// keeps a marker in its place. A keyword, a hand-off (a question the
	// operators must read) and media without text are not answers.
	Identity string
}

// lang is the language the session speaks.
func (d *Definition) lang(s Session) string {
	if slices.Contains(d.Languages, s.Language) {
		return s.Language
	}
	return d.Languages[0]
}

// step finds a top-level step.
func (d *Definition) step(id string) (*Step, int) {
	for i := range d.Steps {
		if d.Steps[i].ID == id {
			return &d.Steps[i], i
		}
	}
	return nil, -1
}

// at returns the step a cursor is on, and its group if it is in one (the
// step is then nil at the group's yes-or-no question).
func (d *Definition) at(c Cursor) (step, group *Step) {
	s, _ := d.step(c.Step)
	if s == nil || s.Type != TypeGroup {
		return s, nil
	}
	if c.Sub < 0 || c.Sub >= len(s.Steps) {
		return nil, s
	}
	return &s.Steps[c.Sub], s
}

// land puts the cursor on step id, skipping into a group's question.
func land(d *Definition, id string) Cursor {
	s, _ := d.step(id)
	if s != nil && s.Type == TypeGroup {
		return Cursor{Step: id, Sub: -1}
	}
	return Cursor{Step: id}
}

// following is the step after top-level step id, by its next or its place.
func (d *Definition) following(s *Step) string {
	if s.Next != "" {
		return s.Next
	}
	_, i := d.step(s.ID)
	if i+1 < len(d.Steps) {
		return d.Steps[i+1].ID
	}
	return "" // Parse makes the last step an end, so this is not reached
}

// Start opens a session: the greeting and the first question, in the
// questionnaire's first language. opening are the contact's messages
// before the bot (none when an operator starts it): if one of them asks
// something, the bot hands him to operators at once instead, on its first
// question, to be resumed there.
func (d *Definition) Start(opening ...Input) (Session, Result) {
	s := Session{State: Active, Language: d.Languages[0], Cursor: land(d, d.Steps[0].ID)}
	for _, in := range opening {
		if lifeline.LooksLikeQuestion(in.Text, lifeline.AnswerNone) {
			return d.handoff(s, HandoffQuestion, in.Text)
		}
	}
	s, res := d.settle(s, Result{Answered: true, Changed: true})
	greeting := d.Greeting[d.lang(s)]
	if len(res.Replies) > 0 {
		res.Replies[0] = greeting + "\n\n" + res.Replies[0]
	} else {
		res.Replies = []string{greeting}
	}
	return s, res
}

// Question renders the question a session waits on, with its numbered
// options and, for one that may be skipped, how to skip it.
func (d *Definition) Question(s Session) string {
	step, group := d.at(s.Cursor)
	l := d.lang(s)
	if step == nil && group != nil {
		text := group.Text[l]
		if s.Cursor.Entry > 0 {
			text = group.Again[l]
		}
		return text + "\n1. " + d.Messages.Yes[l] + "\n2. " + d.Messages.No[l]
	}
	if step == nil {
		return ""
	}
	return d.render(step, l)
}

func (d *Definition) render(step *Step, l string) string {
	var b strings.Builder
	b.WriteString(step.Text[l])
	for i, o := range step.Options {
		fmt.Fprintf(&b, "\n%d. %s", i+1, o.Label[l])
	}
	if !step.Required && step.Type != TypeEnd && step.Type != TypeGroup {
		b.WriteString("\n" + d.Messages.Optional[l])
	}
	return b.String()
}

// Final is the message of the end step a session reached.
func (d *Definition) Final(s Session) string {
	step, _ := d.at(s.Cursor)
	if step == nil || step.Type != TypeEnd {
		return ""
	}
	return step.Text[d.lang(s)]
}

// Outcome is the outcome of the end step a session reached, or "".
func (d *Definition) Outcome(s Session) string {
	step, _ := d.at(s.Cursor)
	if step == nil || step.Type != TypeEnd {
		return ""
	}
	return step.Outcome
}

// Resume makes a paused session active again and asks its question anew.
func (d *Definition) Resume(s Session) (Session, Result) {
	if s.State != Paused && s.State != Active {
		return s, Result{}
	}
	s.State, s.PausedBy, s.Misses, s.Handoff = Active, "", 0, ""
	l := d.lang(s)
	return s, Result{Replies: []string{d.Messages.Resumed[l] + "\n\n" + d.Question(s)}, Answered: true, Changed: true}
}

// Takeover pauses a session because an operator wrote in its conversation:
// a human has taken over, and only an operator resumes the bot.
func (d *Definition) Takeover(s Session) (Session, Result) {
	if (s.State != Active && s.State != Paused) || s.PausedBy == PausedByOperator {
		return s, Result{}
	}
	s.State, s.PausedBy = Paused, PausedByOperator
	return s, Result{Changed: true}
}

// Handle runs one message of the contact through a session at time now
// (dates in the future are refused). The message is an answer to the
// question the session waits on, or a keyword: pause, resume (of a pause
// the contact made himself), skip (a question that is not required).
func (d *Definition) Handle(s Session, in Input, now time.Time) (Session, Result) {
	next, res := d.handle(s, in, now)
	if key, ok := d.AwaitsIdentity(s); ok && res.Handoff == "" && strings.TrimSpace(in.Text) != "" && !d.keyword(in.Text) {
		res.Identity = key
	}
	return next, res
}

// AwaitsIdentity reports whether an active session waits on an identity
// question, and that question's key.
func (d *Definition) AwaitsIdentity(s Session) (string, bool) {
	if s.State != Active {
		return "", false
	}
	step, group := d.at(s.Cursor)
	switch {
	case step != nil && step.identity(group):
		return step.answerKey(group), true
	case step == nil && group != nil && group.identity(nil):
		return group.answerKey(nil), true
	}
	return "", false
}

// keyword reports whether text is one of the keywords (pause, resume,
// skip).
func (d *Definition) keyword(text string) bool {
	word := normalize(strings.TrimSpace(text))
	is := func(k string) bool { return normalize(k) == word }
	return slices.ContainsFunc(d.Keywords.Pause, is) || slices.ContainsFunc(d.Keywords.Resume, is) || slices.ContainsFunc(d.Keywords.Skip, is)
}

func (d *Definition) handle(s Session, in Input, now time.Time) (Session, Result) {
	s.Answers = s.Answers.clone() // the caller's session stays as it was
	l := d.lang(s)
	text := strings.TrimSpace(in.Text)
	word := normalize(text)
	switch s.State {
	case Paused:
		if s.PausedBy == PausedByContact && slices.ContainsFunc(d.Keywords.Resume, func(k string) bool { return normalize(k) == word }) {
			return d.Resume(s)
		}
		return s, Result{} // a human deals with it
	case Active:
	default:
		return s, Result{}
	}
	if slices.ContainsFunc(d.Keywords.Pause, func(k string) bool { return normalize(k) == word }) {
		s.State, s.PausedBy = Paused, PausedByContact
		return s, Result{Replies: []string{d.Messages.Paused[l]}, Changed: true}
	}
	// again answers an answer the question cannot take: with what is
	// wrong and the question again the first time; a question, or the
	// MaxUnusable-th in a row, goes to an operator.
	kind := lifeline.AnswerNone // what the question waited on asks for (answerKind), once known
	again := func(problem Text) (Session, Result) {
		s.Misses++
		switch {
		case lifeline.LooksLikeQuestion(text, kind):
			return d.handoff(s, HandoffQuestion, text)
		case s.Misses >= MaxUnusable:
			return d.handoff(s, HandoffUnusable, text)
		}
		return s, Result{Replies: []string{problem[l] + "\n\n" + d.Question(s)}, Answered: true, Changed: true}
	}
	skip := slices.ContainsFunc(d.Keywords.Skip, func(k string) bool { return normalize(k) == word })
	step, group := d.at(s.Cursor)
	if step == nil && group == nil {
		return s, Result{} // a cursor its definition does not have: leave it to people
	}
	if step != nil {
		kind = answerKind(step)
	}
	if step == nil { // the group's yes-or-no
		yes, ok := yesNo(d, word)
		if skip {
			yes, ok = false, true
		}
		if !ok {
			return again(d.Messages.Choose)
		}
		s.Misses = 0
		if yes {
			s.Answers.Relatives = append(s.Answers.Relatives, map[string]string{})
			s.Cursor = Cursor{Step: group.ID, Entry: len(s.Answers.Relatives) - 1, Sub: 0}
		} else {
			s.Cursor = land(d, d.following(group))
		}
		return d.settle(s, Result{Answered: true, Changed: true})
	}
	if text == "" {
		if in.Media {
			return again(d.Messages.TextOnly)
		}
		return again(d.Messages.Invalid)
	}
	var res Result
	var next string // a choice's jump
	if skip && step.Type != TypeLanguage {
		if step.Required {
			return again(d.Messages.Required)
		}
	} else {
		var value string
		switch step.Type {
		case TypeLanguage, TypeChoice:
			o := choose(d, step, word)
			if o == nil {
				if skip && !step.Required {
					break
				}
				return again(d.Messages.Choose)
			}
			value, next = o.Value, o.Next
		case TypeText:
			max := step.MaxLen
			if max == 0 {
				max = 300
			}
			switch n := runeLen(text); {
			case n > max:
				return again(d.Messages.TooLong)
			case n < step.MinLen:
				return again(d.Messages.Invalid)
			}
			if step.Pattern != "" && !step.matches(text) {
				return again(d.Messages.Invalid)
			}
			if lifeline.LooksLikeQuestion(text, kind) {
				// Free text takes anything, but a name, unit or place is
				// no question ("А зачем вам моё имя", "Как вы меня
				// заберёте"): he asks, a person answers.
				return d.handoff(s, HandoffQuestion, text)
			}
			value = text
		case TypeDate:
			v, ok := parseDate(text, now)
			if !ok {
				return again(d.Messages.Date)
			}
			value = v
		}
		if value != "" {
			s, res = d.record(s, group, step, value)
		}
	}
	// Move on.
	s.Misses = 0
	switch {
	case group != nil && s.Cursor.Sub+1 < len(group.Steps):
		s.Cursor.Sub++
	case group != nil && s.Cursor.Entry+1 < group.Max:
		s.Cursor = Cursor{Step: group.ID, Entry: s.Cursor.Entry + 1, Sub: -1}
	case group != nil:
		s.Cursor = land(d, d.following(group))
	case next != "":
		s.Cursor = land(d, next)
	default:
		s.Cursor = land(d, d.following(step))
	}
	res.Answered, res.Changed = true, true
	return d.settle(s, res)
}

// answerKind is what a step's free-text answer is, for
// lifeline.LooksLikeQuestion, by the field it fills (applicant.name, or
// name inside the relatives group).
func answerKind(step *Step) lifeline.AnswerKind {
	switch step.Type {
	case TypeDate:
		return lifeline.AnswerDate
	case TypeText:
	default:
		return lifeline.AnswerNone
	}
	_, field, _ := strings.Cut(step.Field, ".")
	if field == "" {
		field = step.Field
	}
	switch field {
	case "name":
		return lifeline.AnswerName
	case "unit", "rank", "service_number", "document_number":
		return lifeline.AnswerUnit
	case "whereabouts":
		return lifeline.AnswerPlace
	case "phone":
		return lifeline.AnswerReach
	case "birth_date":
		return lifeline.AnswerDate
	}
	return lifeline.AnswerText
}

// handoff pauses a session for operators, for why, and tells the contact,
// in his language (guessed from what he wrote, text, while he has not
// chosen one), that an operator will answer. It asks nothing more: the
// conversation waits for a person.
func (d *Definition) handoff(s Session, why, text string) (Session, Result) {
	s.State, s.PausedBy, s.Handoff, s.Misses = Paused, PausedByBot, why, 0
	l := d.lang(s)
	if s.Answers.Language == "" {
		if g := guessLanguage(text); slices.Contains(d.Languages, g) {
			l = g
		}
	}
	msg := d.Messages.Handoff[l]
	if msg == "" {
		msg = defaultHandoff[l]
	}
	return s, Result{Replies: []string{msg}, Changed: true, Handoff: why}
}

// defaultHandoff is the hand-off message of a definition that has none
// (one saved before the bot handed contacts over).
var defaultHandoff = Text{
	"ru": "Ваше сообщение передано оператору, он ответит вам здесь как можно скорее. Пока ждёте, ничего не предпринимайте сами и удаляйте переписку после каждого сеанса связи.",
	"uk": "Ваше повідомлення передано операторові, він відповість вам тут якнайшвидше. Поки чекаєте, нічого не робіть самі й видаляйте листування після кожного сеансу зв'язку.",
	"en": "Your message has been passed to an operator, who will answer you here as soon as possible. While you wait, do nothing on your own, and delete the chat after every exchange.",
}

// guessLanguage guesses the language of a contact's text by its letters:
// uk for the letters only Ukrainian has (і, ї, є, ґ), en for Latin without
// Cyrillic, ru for other Cyrillic, "" for none.
func guessLanguage(text string) string {
	cyrillic, latin := false, false
	for _, r := range strings.ToLower(text) {
		switch {
		case strings.ContainsRune("іїєґ", r):
			return "uk"
		case r >= 'а' && r <= 'я' || r == 'ё':
			cyrillic = true
		case r >= 'a' && r <= 'z':
			latin = true
		}
	}
	switch {
	case cyrillic:
		return "ru"
	case latin:
		return "en"
	}
	return ""
}

// Place says where a cursor stands, for people: the number of its
// top-level question (a group counts as one), how many there are, and a
// short title (the question's text in lang, or the first language, cut to
// a line). n is 0 for a cursor the definition does not have.
func (d *Definition) Place(c Cursor, lang string) (n, of int, title string) {
	for _, st := range d.Steps {
		if st.Type == TypeEnd {
			continue
		}
		of++
		if st.ID == c.Step {
			n = of
		}
	}
	step, group := d.at(c)
	var t Text
	switch {
	case step != nil:
		t = step.Text
	case group != nil:
		t = group.Text
	}
	title = t[lang]
	if title == "" {
		title = t[d.Languages[0]]
	}
	if r := []rune(title); len(r) > 60 {
		title = strings.TrimSpace(string(r[:59])) + "…"
	}
	return n, of, title
}

// settle finishes a move: on an end step the session ends (completing, to
// become a case, or done with the end message); else the next question is
// asked.
func (d *Definition) settle(s Session, res Result) (Session, Result) {
	step, _ := d.at(s.Cursor)
	if step != nil && step.Type == TypeEnd {
		if step.Outcome == OutcomeRegister {
			s.State = Completing // the final message goes with the case
		} else {
			s.State = Done
			res.Replies = append(res.Replies, step.Text[d.lang(s)])
		}
		res.Answered = false // a human takes it from here
		return s, res
	}
	if s.State == Active && res.Answered {
		res.Replies = append(res.Replies, d.Question(s))
	}
	return s, res
}

// record keeps one answer where its field says.
func (d *Definition) record(s Session, group, step *Step, value string) (Session, Result) {
	var res Result
	f := step.Field
	switch {
	case step.Type == TypeLanguage:
		s.Language, s.Answers.Language, res.Language = value, value, value
	case f == "":
	case group != nil:
		if s.Cursor.Entry < len(s.Answers.Relatives) {
			s.Answers.Relatives[s.Cursor.Entry][f] = value
		}
	case f == "stream":
		s.Answers.Stream, res.Stream = value, value
	case strings.HasPrefix(f, "applicant."):
		if s.Answers.Applicant == nil {
			s.Answers.Applicant = map[string]string{}
		}
		s.Answers.Applicant[strings.TrimPrefix(f, "applicant.")] = value
	}
	return s, res
}

// choose finds the option an answer names: its number, its label in any
// language, or its value.
func choose(d *Definition, step *Step, word string) *Option {
	if n, err := strconv.Atoi(word); err == nil {
		if n >= 1 && n <= len(step.Options) {
			return &step.Options[n-1]
		}
		return nil
	}
	for i := range step.Options {
		o := &step.Options[i]
		if normalize(o.Value) == word {
			return o
		}
		for _, l := range d.Languages {
			if normalize(o.Label[l]) == word {
				return o
			}
		}
	}
	return nil
}

// yesNo reads the answer to a group's yes-or-no question.
func yesNo(d *Definition, word string) (yes, ok bool) {
	switch word {
	case "1":
		return true, true
	case "2":
		return false, true
	}
	for _, l := range d.Languages {
		if normalize(d.Messages.Yes[l]) == word {
			return true, true
		}
		if normalize(d.Messages.No[l]) == word {
			return false, true
		}
	}
	return false, false
}

func (s *Step) matches(text string) bool {
	re := s.pattern
	if re == nil {
		var err error
		if re, err = regexp.Compile(`^(?:` + s.Pattern + `)$`); err != nil {
			return false
		}
	}
	return re.MatchString(text)
}

var (
	dmy = regexp.MustCompile(`^(\d{1,2})[./\- ](\d{1,2})[./\- ](\d{4})$`)
	ymd = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})$`)
)

// parseDate reads a date in the past (after 1900) as people write it, and
// returns it as DD.MM.YYYY.
func parseDate(s string, now time.Time) (string, bool) {
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	var d, m, y int
	if p := dmy.FindStringSubmatch(s); p != nil {
		d, _ = strconv.Atoi(p[1])
		m, _ = strconv.Atoi(p[2])
		y, _ = strconv.Atoi(p[3])
	} else if p := ymd.FindStringSubmatch(s); p != nil {
		y, _ = strconv.Atoi(p[1])
		m, _ = strconv.Atoi(p[2])
		d, _ = strconv.Atoi(p[3])
	} else {
		return "", false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d || int(t.Month()) != m || y < 1900 || t.After(now) {
		return "", false
	}
	return t.Format("02.01.2006"), true
}

// Relative is a family member from the answers.
type Relative struct {
	Person   lifeline.Person // without ids
	Relocate bool
}

// Persons turns the answers into the applicant and his relatives, without
// ids or case.
func (a Answers) Persons() (lifeline.Person, []Relative) {
	applicant := person(a.Applicant)
	applicant.Relation = lifeline.RelationApplicant
	var rs []Relative
	for _, e := range a.Relatives {
		p := person(e)
		p.Relation = lifeline.Relation(e["relation"])
		if !p.Relation.Valid() || p.Relation == lifeline.RelationApplicant {
			p.Relation = lifeline.RelationOther
		}
		rs = append(rs, Relative{Person: p, Relocate: e["relocate"] == "yes"})
	}
	return applicant, rs
}

func person(m map[string]string) lifeline.Person {
	v := func(k string) lifeline.Sensitive { return lifeline.Sensitive(m[k]) }
	return lifeline.Person{
		Name: v("name"), BirthDate: v("birth_date"), Unit: v("unit"), Rank: v("rank"),
		ServiceNumber: v("service_number"), DocumentNumber: v("document_number"),
		Whereabouts: v("whereabouts"), Phone: v("phone"),
	}
}

// clone copies the answers deeply.
func (a Answers) clone() Answers {
	c := a
	if a.Applicant != nil {
		c.Applicant = maps.Clone(a.Applicant)
	}
	c.Relatives = nil
	for _, e := range a.Relatives {
		c.Relatives = append(c.Relatives, maps.Clone(e))
	}
	return c
}
