// SPDX-License-Identifier: AGPL-3.0-or-later

package questionnaire

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline"
)

// DefaultJSON is the questionnaire a new installation starts with: Russian
// first, every text also in Ukrainian and English.
//
//go:embed default.json
var DefaultJSON []byte

// MaxDefinitionBytes caps a definition's JSON.
const MaxDefinitionBytes = 256 << 10

// maxReply is the longest text one bot message may be (QueueReply's cap).
const maxReply = 4096

// Text is one text in each language of the questionnaire: language code
// (ru, uk, en) to text.
type Text map[string]string

// Definition is a questionnaire: the data the bot runs. Parse reads and
// checks one.
type Definition struct {
	// Languages the questionnaire speaks; the first is the one it starts in.
	Languages []string `json:"languages"`
	// Greeting opens a session, before the first question.
	Greeting Text `json:"greeting"`
	// Keywords the contact may type at any question.
	Keywords Keywords `json:"keywords"`
	// Messages are the bot's own words around the questions.
	Messages Messages `json:"messages"`
	// Steps are asked in order; a choice may jump (Option.Next), and the
	// questionnaire ends at the first end step it reaches.
	Steps []Step `json:"steps"`
}

// Keywords are typed answers with a meaning of their own, compared after
// trimming and folding case.
type Keywords struct {
	Pause  []string `json:"pause"`  // the contact pauses the bot (an operator may answer him meanwhile)
	Resume []string `json:"resume"` // the contact resumes a pause of his own
	Skip   []string `json:"skip"`   // skips a question that is not required
}

// Messages are the bot's words around the questions.
type Messages struct {
	Invalid  Text `json:"invalid"`   // an answer the question cannot take
	Required Text `json:"required"`  // a skip of a required question
	Choose   Text `json:"choose"`    // a choice answered with no option's number
	Date     Text `json:"date"`      // how to write a date
	TooLong  Text `json:"too_long"`  // an answer over the step's max_len
	TextOnly Text `json:"text_only"` // a photo, voice note or file where text is asked
	Optional Text `json:"optional"`  // follows a question that may be skipped
	Paused   Text `json:"paused"`    // the contact paused the bot
	Resumed  Text `json:"resumed"`   // the bot resumes (then asks the question again)
	Yes      Text `json:"yes"`       // the options of a group's yes-or-no question
	No       Text `json:"no"`

	// Handoff tells the contact an operator will answer him: the bot hands
	// him over (a question, or answers it cannot take). Optional: without
	// it (definitions saved before hand-offs) the bot says its own.
	Handoff Text `json:"handoff,omitempty"`
}

// Step types.
const (
	TypeLanguage = "language" // a choice of the contact's language: options are language codes
	TypeChoice   = "choice"   // numbered options
	TypeText     = "text"     // free text, min_len to max_len, optionally a pattern
	TypeDate     = "date"     // a date in the past: 31.12.1990, 31/12/1990, 1990-12-31
	TypeGroup    = "group"    // repeated entries (family members): yes or no, then its steps, then again
	TypeEnd      = "end"      // the end: the final message and the outcome
)

// Outcomes of an end step.
const (
	OutcomeRegister = "register" // the answers become a case in registered
	OutcomeHandoff  = "handoff"  // no case: the conversation waits for an operator
)

// Step is one question, a group of them, or the end.
type Step struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Field is what the answer fills: for the applicant applicant.name,
	// applicant.birth_date, applicant.unit, applicant.rank,
	// applicant.service_number, applicant.document_number,
	// applicant.whereabouts, applicant.phone; "stream" for the stream
	// choice; "relatives" for the family group; and, inside that group,
	// relation, relocate and the person fields without the prefix (name,
	// birth_date, …). Empty: the answer is not kept.
	Field    string   `json:"field,omitempty"`
	Text     Text     `json:"text"`
	Required bool     `json:"required,omitempty"`
	Options  []Option `json:"options,omitempty"`
	MinLen   int      `json:"min_len,omitempty"` // text: in characters
	MaxLen   int      `json:"max_len,omitempty"` // text: in characters; default 300
	Pattern  string   `json:"pattern,omitempty"` // text: a regular expression the whole answer must match
	Next     string   `json:"next,omitempty"`    // the step after this one, if not the following
	// A group asks Text (yes or no), then Steps for one entry, then Again
	// (yes or no), at most Max entries.
	Steps []Step `json:"steps,omitempty"`
	Again Text   `json:"again,omitempty"`
	Max   int    `json:"max,omitempty"`
	// An end step's outcome.
	Outcome string `json:"outcome,omitempty"`
	// Identity marks an identity question: its answers go only into the
	// case's identity compartment, and the conversation shows that an
	// answer was recorded, never the answer. A question that fills a
	// person field (applicant.*, the relatives group and what it asks) is
	// one whether marked or not; the mark adds others.
	Identity bool `json:"identity,omitempty"`

	pattern *regexp.Regexp
}

// Option is one numbered choice.
type Option struct {
	Value string `json:"value"`
	Label Text   `json:"label"`
	Next  string `json:"next,omitempty"` // the step this choice leads to, if not the step's next
}

// The fields a step may fill.
var (
	personFields   = []string{"name", "birth_date", "unit", "rank", "service_number", "document_number", "whereabouts", "phone"}
	relationValues = []string{
		string(lifeline.RelationSpouse), string(lifeline.RelationChild), string(lifeline.RelationParent),
		string(lifeline.RelationSibling), string(lifeline.RelationOther),
	}
)

// identity reports whether a step, in its group (nil for none), is an
// identity question: marked so, in a group that is, or filling a person
// field.
func (s *Step) identity(group *Step) bool {
	switch {
	case s.Identity, group != nil && group.identity(nil):
		return true
	case s.Field == "relatives", strings.HasPrefix(s.Field, "applicant."):
		return true
	}
	return false
}

// answerKey names a step's answers in the marker a conversation shows: its
// field, or its id if it fills none; inside a group, prefixed with the
// group's.
func (s *Step) answerKey(group *Step) string {
	k := s.Field
	if k == "" {
		k = s.ID
	}
	if group != nil {
		return group.answerKey(nil) + "." + k
	}
	return k
}

// ValidationError lists everything wrong with a definition, each problem
// naming where it is.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "the questionnaire has " + fmt.Sprint(len(e.Problems)) + " problem(s): " + strings.Join(e.Problems, "; ")
}

// Parse reads a definition from JSON and checks it whole: unknown keys,
// missing translations, unknown fields and types, dangling jumps, choices
// without options, a text a message cannot carry, and words a stage-1
// contact must not be told. A failure is a *ValidationError.
func Parse(b []byte) (*Definition, error) {
	if len(b) > MaxDefinitionBytes {
		return nil, &ValidationError{[]string{fmt.Sprintf("the definition is longer than %d KiB", MaxDefinitionBytes>>10)}}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, &ValidationError{[]string{"not valid JSON for a questionnaire: " + jsonProblem(b, err)}}
	}
	if dec.More() {
		return nil, &ValidationError{[]string{"text after the end of the JSON object"}}
	}
	if p := d.validate(); len(p) > 0 {
		return nil, &ValidationError{p}
	}
	return &d, nil
}

// jsonProblem says where a JSON error is, as a line number.
func jsonProblem(b []byte, err error) string {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
		err = fmt.Errorf("%s must be %s, not %s", e.Field, e.Type, e.Value)
	}
	if off < 0 || off > int64(len(b)) {
		return err.Error()
	}
	return fmt.Sprintf("line %d: %v", bytes.Count(b[:off], []byte("\n"))+1, err)
}

var stepID = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

type checker struct {
	d        *Definition
	problems []string
}

func (c *checker) add(where, format string, args ...any) {
	c.problems = append(c.problems, where+": "+fmt.Sprintf(format, args...))
}

// text checks that t has every language, within the size a message takes.
func (c *checker) text(where string, t Text) {
	for _, l := range c.d.Languages {
		s := strings.TrimSpace(t[l])
		if s == "" {
			c.add(where, "no text in %s", l)
			continue
		}
		if len(s) > maxReply/2 {
			c.add(where, "the %s text is longer than %d bytes", l, maxReply/2)
		}
		if ds := lifeline.Disclosures(s); len(ds) > 0 {
			c.add(where, "the %s text names a %s: no times, places, meeting points, units or staff before verification", l, strings.ReplaceAll(lifeline.JoinDisclosures(ds), ",", ", "))
		}
	}
	for l := range t {
		if !slices.Contains(c.d.Languages, l) {
			c.add(where, "text in %q, which is not one of the languages", l)
		}
	}
}

func (d *Definition) validate() []string {
	c := &checker{d: d}
	if len(d.Languages) == 0 {
		c.add("languages", "name at least one language (ru, uk, en)")
	}
	for i, l := range d.Languages {
		if !lifeline.Language(l).Valid() {
			c.add(fmt.Sprintf("languages[%d]", i), "%q is not ru, uk or en", l)
		}
		if slices.Index(d.Languages, l) != i {
			c.add(fmt.Sprintf("languages[%d]", i), "%q twice", l)
		}
	}
	c.text("greeting", d.Greeting)
	for name, t := range map[string]Text{
		"messages.invalid": d.Messages.Invalid, "messages.required": d.Messages.Required, "messages.choose": d.Messages.Choose,
		"messages.date": d.Messages.Date, "messages.too_long": d.Messages.TooLong, "messages.text_only": d.Messages.TextOnly,
		"messages.optional": d.Messages.Optional, "messages.paused": d.Messages.Paused, "messages.resumed": d.Messages.Resumed,
		"messages.yes": d.Messages.Yes, "messages.no": d.Messages.No,
	} {
		c.text(name, t)
	}
	if len(d.Messages.Handoff) > 0 {
		c.text("messages.handoff", d.Messages.Handoff)
	}
	seen := map[string]string{}
	for name, words := range map[string][]string{"keywords.pause": d.Keywords.Pause, "keywords.resume": d.Keywords.Resume, "keywords.skip": d.Keywords.Skip} {
		if len(words) == 0 {
			c.add(name, "give at least one word")
		}
		for _, w := range words {
			n := normalize(w)
			switch {
			case n == "":
				c.add(name, "an empty word")
			case isNumber(n):
				c.add(name, "%q is a number, which answers a choice", w)
			case seen[n] != "" && seen[n] != name:
				c.add(name, "%q is also in %s", w, seen[n])
			}
			seen[n] = name
		}
	}
	if len(d.Steps) == 0 {
		c.add("steps", "a questionnaire needs steps")
		return c.problems
	}
	ids := map[string]bool{}
	for _, s := range d.Steps {
		if ids[s.ID] {
			c.add("steps", "the id %q twice", s.ID)
		}
		ids[s.ID] = true
	}
	jump := func(where, to string) {
		if to != "" && !ids[to] {
			c.add(where, "next %q is no step's id", to)
		}
	}
	for i := range d.Steps {
		s := &d.Steps[i]
		where := fmt.Sprintf("steps[%d] %q", i, s.ID)
		c.step(where, s, false)
		jump(where, s.Next)
		for j, o := range s.Options {
			jump(fmt.Sprintf("%s options[%d]", where, j), o.Next)
		}
		for j := range s.Steps {
			sub := &s.Steps[j]
			sw := fmt.Sprintf("%s steps[%d] %q", where, j, sub.ID)
			c.step(sw, sub, true)
			if sub.Next != "" {
				c.add(sw, "a step in a group cannot jump")
			}
			for _, o := range sub.Options {
				if o.Next != "" {
					c.add(sw, "a choice in a group cannot jump")
				}
			}
		}
	}
	if last := d.Steps[len(d.Steps)-1]; last.Type != TypeEnd {
		c.add("steps", "the last step must be an end step, so that no path runs off the end")
	}
	if !slices.ContainsFunc(d.Steps, func(s Step) bool { return s.Type == TypeEnd && s.Outcome == OutcomeRegister }) {
		c.add("steps", "no end step registers a case (outcome %q)", OutcomeRegister)
	}
	return c.problems
}

func (c *checker) step(where string, s *Step, inGroup bool) {
	if !stepID.MatchString(s.ID) {
		c.add(where, "an id is a lower-case word (a-z, 0-9, _), up to 40 characters")
	}
	c.text(where+" text", s.Text)
	optionsAllowed, lenAllowed := false, false
	switch s.Type {
	case TypeLanguage:
		optionsAllowed = true
		if inGroup {
			c.add(where, "a language step cannot be in a group")
		}
		if s.Field != "" && s.Field != "language" {
			c.add(where, "a language step fills the field \"language\"")
		}
		for j, o := range s.Options {
			if !slices.Contains(c.d.Languages, o.Value) {
				c.add(fmt.Sprintf("%s options[%d]", where, j), "%q is not one of the questionnaire's languages", o.Value)
			}
		}
	case TypeChoice:
		optionsAllowed = true
		c.field(where, s, inGroup)
		switch {
		case s.Field == "stream":
			for j, o := range s.Options {
				if !lifeline.Stream(o.Value).Valid() {
					c.add(fmt.Sprintf("%s options[%d]", where, j), "%q is not a stream (surrender, relatives)", o.Value)
				}
			}
		case inGroup && s.Field == "relation":
			for j, o := range s.Options {
				if !slices.Contains(relationValues, o.Value) {
					c.add(fmt.Sprintf("%s options[%d]", where, j), "%q is not a relation (%s)", o.Value, strings.Join(relationValues, ", "))
				}
			}
		case inGroup && s.Field == "relocate":
			for j, o := range s.Options {
				if o.Value != "yes" && o.Value != "no" {
					c.add(fmt.Sprintf("%s options[%d]", where, j), "relocate is \"yes\" or \"no\"")
				}
			}
		}
	case TypeText:
		lenAllowed = true
		c.field(where, s, inGroup)
		if s.Pattern != "" {
			re, err := regexp.Compile(`^(?:` + s.Pattern + `)$`)
			if err != nil {
				c.add(where, "the pattern is not a regular expression: %v", err)
			}
			s.pattern = re
		}
		if s.MinLen < 0 || s.MaxLen < 0 || s.MaxLen > 2000 || (s.MaxLen > 0 && s.MinLen > s.MaxLen) {
			c.add(where, "min_len and max_len are 0 to 2000 characters, min_len not above max_len")
		}
	case TypeDate:
		c.field(where, s, inGroup)
	case TypeGroup:
		if inGroup {
			c.add(where, "a group cannot be in a group")
		}
		if s.Field != "relatives" {
			c.add(where, "a group fills the field \"relatives\"")
		}
		c.text(where+" again", s.Again)
		if s.Max < 1 || s.Max > 20 {
			c.add(where, "max is 1 to 20 entries")
		}
		if len(s.Steps) == 0 {
			c.add(where, "a group needs steps")
		}
		if !slices.ContainsFunc(s.Steps, func(x Step) bool { return x.Field == "relation" }) {
			c.add(where, "a group needs a step that fills \"relation\"")
		}
	case TypeEnd:
		if inGroup {
			c.add(where, "an end step cannot be in a group")
		}
		if s.Outcome != OutcomeRegister && s.Outcome != OutcomeHandoff {
			c.add(where, "an end step's outcome is %q or %q", OutcomeRegister, OutcomeHandoff)
		}
		if s.Field != "" || s.Next != "" {
			c.add(where, "an end step fills nothing and leads nowhere")
		}
	default:
		c.add(where, "unknown type %q (language, choice, text, date, group, end)", s.Type)
	}
	if optionsAllowed {
		if len(s.Options) < 2 || len(s.Options) > 9 {
			c.add(where, "a choice has 2 to 9 options (answered by one digit)")
		}
		values := map[string]bool{}
		for j, o := range s.Options {
			ow := fmt.Sprintf("%s options[%d]", where, j)
			if o.Value == "" || values[o.Value] {
				c.add(ow, "each option needs a value of its own")
			}
			values[o.Value] = true
			c.text(ow+" label", o.Label)
		}
	} else if len(s.Options) > 0 {
		c.add(where, "only a choice has options")
	}
	if !lenAllowed && (s.MinLen != 0 || s.MaxLen != 0 || s.Pattern != "") {
		c.add(where, "only a text step has min_len, max_len or pattern")
	}
	if s.Type != TypeGroup && (len(s.Steps) > 0 || len(s.Again) > 0 || s.Max != 0) {
		c.add(where, "only a group has steps, again and max")
	}
	if s.Type != TypeEnd && s.Outcome != "" {
		c.add(where, "only an end step has an outcome")
	}
	if s.Type == TypeEnd || s.Type == TypeGroup {
		return
	}
	// A question must fit one message with its options and hints.
	for _, l := range c.d.Languages {
		if q := c.d.render(s, l); len(q) > maxReply {
			c.add(where, "the %s question with its options is longer than %d bytes", l, maxReply)
		}
	}
}

// field checks a question's field against where it is.
func (c *checker) field(where string, s *Step, inGroup bool) {
	f := s.Field
	switch {
	case f == "":
	case inGroup && (f == "relation" || f == "relocate"):
		if s.Type != TypeChoice {
			c.add(where, "%s is filled by a choice", f)
		}
	case inGroup && slices.Contains(personFields, f):
	case !inGroup && f == "stream":
		if s.Type != TypeChoice {
			c.add(where, "stream is filled by a choice")
		}
	case !inGroup && strings.HasPrefix(f, "applicant.") && slices.Contains(personFields, strings.TrimPrefix(f, "applicant.")):
	default:
		if inGroup {
			c.add(where, "unknown field %q: in a group, relation, relocate or %s", f, strings.Join(personFields, ", "))
		} else {
			c.add(where, "unknown field %q: stream or applicant.%s", f, strings.Join(personFields, ", applicant."))
		}
	}
}

// normalize folds an answer for comparison: trimmed, lower case, without
// the punctuation people end a word with.
func normalize(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimRight(s, ".!)» ")
	return strings.TrimSpace(s)
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// runeLen counts characters, not bytes.
func runeLen(s string) int { return utf8.RuneCountInString(s) }
