// SPDX-License-Identifier: AGPL-3.0-or-later

package questionnaire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustDefault(t *testing.T) *Definition {
	t.Helper()
	d, err := Parse(DefaultJSON)
	if err != nil {
		t.Fatalf("the default questionnaire: %v", err)
	}
	return d
}

// at is a session of the default questionnaire in Russian, on a step.
func at(cursor string) Session {
	c, err := ParseCursor(cursor)
	if err != nil {
		panic(err)
	}
	return Session{State: Active, Language: "ru", Cursor: c}
}

func TestDefaultDefinition(t *testing.T) {
	d := mustDefault(t)
	if d.Languages[0] != "ru" || len(d.Languages) != 3 {
		t.Errorf("languages %v, want ru first of three", d.Languages)
	}
	s, res := d.Start()
	if s.State != Active || s.Cursor.Step != "language" || len(res.Replies) != 1 || !res.Answered {
		t.Fatalf("start: %+v %+v", s, res)
	}
	first := res.Replies[0]
	for _, want := range []string{"Здравствуйте", "\n1. Русский", "\n2. Українська", "\n3. English", "пауза"} {
		if !strings.Contains(first, want) {
			t.Errorf("first message lacks %q:\n%s", want, first)
		}
	}
}

// TestHandle walks single steps of the default questionnaire.
func TestHandle(t *testing.T) {
	d := mustDefault(t)
	withApplicant := at("relatives/0/-1")
	type want struct {
		state    State
		cursor   string
		reply    string // a substring of the last reply; "" for none
		answered bool
		check    func(t *testing.T, s Session, r Result)
	}
	for _, tc := range []struct {
		name string
		s    Session
		in   Input
		want want
	}{
		{"language by number", at("language"), Input{Text: "2"}, want{Active, "stream", "Хто ви?", true, func(t *testing.T, s Session, r Result) {
			if s.Language != "uk" || r.Language != "uk" || s.Answers.Language != "uk" {
				t.Errorf("language %q %q", s.Language, r.Language)
			}
		}}},
		{"language by label", at("language"), Input{Text: " english. "}, want{Active, "stream", "Who are you?", true, nil}},
		{"choice out of range", at("language"), Input{Text: "7"}, want{Active, "language", "Ответьте номером", true, nil}},
		{"soldier", at("stream"), Input{Text: "1"}, want{Active, "name", "фамилия", true, func(t *testing.T, s Session, r Result) {
			if r.Stream != "surrender" || s.Answers.Stream != "surrender" {
				t.Errorf("stream %q", r.Stream)
			}
		}}},
		{"relative jumps to the hand-off", at("stream"), Input{Text: "2"}, want{Done, "relatives_end", "родственникам", false, func(t *testing.T, s Session, r Result) {
			if r.Stream != "relatives" {
				t.Errorf("stream %q", r.Stream)
			}
		}}},
		{"required skipped", at("name"), Input{Text: "пропустить"}, want{Active, "name", "нужен ответ", true, nil}},
		{"name", at("name"), Input{Text: "Тестов Тест Тестович"}, want{Active, "birth_date", "Дата рождения", true, func(t *testing.T, s Session, r Result) {
			if s.Answers.Applicant["name"] != "Тестов Тест Тестович" {
				t.Errorf("answers %v", s.Answers)
			}
		}}},
		{"too short", at("name"), Input{Text: "Т"}, want{Active, "name", "Не удалось", true, nil}},
		{"too long", at("name"), Input{Text: strings.Repeat("я", 201)}, want{Active, "name", "слишком длинный", true, nil}},
		{"photo instead of text", at("name"), Input{Media: true}, want{Active, "name", "текстом", true, nil}},
		{"date", at("birth_date"), Input{Text: "7.3.1994"}, want{Active, "unit", "воинская часть", true, func(t *testing.T, s Session, r Result) {
			if s.Answers.Applicant["birth_date"] != "07.03.1994" {
				t.Errorf("birth date %q", s.Answers.Applicant["birth_date"])
			}
		}}},
		{"ISO date", at("birth_date"), Input{Text: "1994-03-07"}, want{Active, "unit", "", true, nil}},
		{"no such day", at("birth_date"), Input{Text: "31.02.1994"}, want{Active, "birth_date", "ДД.ММ.ГГГГ", true, nil}},
		{"date in the future", at("birth_date"), Input{Text: "01.01.2030"}, want{Active, "birth_date", "ДД.ММ.ГГГГ", true, nil}},
		{"words for a date", at("birth_date"), Input{Text: "весной"}, want{Active, "birth_date", "ДД.ММ.ГГГГ", true, nil}},
		{"optional skipped", at("rank"), Input{Text: "Пропустить"}, want{Active, "service_number", "личный номер", true, func(t *testing.T, s Session, r Result) {
			if _, ok := s.Answers.Applicant["rank"]; ok {
				t.Errorf("a skipped answer was kept")
			}
		}}},
		{"pattern refuses", at("service_number"), Input{Text: "#!"}, want{Active, "service_number", "Не удалось", true, nil}},
		{"pattern takes", at("service_number"), Input{Text: "ЖЕ-000001"}, want{Active, "whereabouts", "", true, nil}},
		{"pause", at("unit"), Input{Text: "Пауза"}, want{Paused, "unit", "приостановлены", false, func(t *testing.T, s Session, r Result) {
			if s.PausedBy != PausedByContact {
				t.Errorf("paused by %q", s.PausedBy)
			}
		}}},
		{"resume own pause", Session{State: Paused, PausedBy: PausedByContact, Language: "ru", Cursor: Cursor{Step: "unit"}}, Input{Text: "/resume"},
			want{Active, "unit", "воинская часть", true, nil}},
		{"no resume of an operator's pause", Session{State: Paused, PausedBy: PausedByOperator, Language: "ru", Cursor: Cursor{Step: "unit"}}, Input{Text: "продолжить"},
			want{Paused, "unit", "", false, nil}},
		{"paused: answers are for people", Session{State: Paused, PausedBy: PausedByContact, Language: "ru", Cursor: Cursor{Step: "unit"}}, Input{Text: "в/ч 00000"},
			want{Paused, "unit", "", false, nil}},
		{"no family", withApplicant, Input{Text: "2"}, want{Completing, "done", "", false, nil}},
		{"family: yes", withApplicant, Input{Text: "да"}, want{Active, "relatives", "Кем он или она", true, func(t *testing.T, s Session, r Result) {
			if len(s.Answers.Relatives) != 1 {
				t.Errorf("relatives %v", s.Answers.Relatives)
			}
		}}},
		{"family: neither", withApplicant, Input{Text: "может быть"}, want{Active, "relatives/0/-1", "номером", true, nil}},
		{"relation", Session{State: Active, Language: "ru", Cursor: Cursor{Step: "relatives", Entry: 0, Sub: 0}, Answers: Answers{Relatives: []map[string]string{{}}}},
			Input{Text: "1"}, want{Active, "relatives/0/1", "Фамилия", true, func(t *testing.T, s Session, r Result) {
				if s.Answers.Relatives[0]["relation"] != "spouse" {
					t.Errorf("relative %v", s.Answers.Relatives[0])
				}
			}}},
		{"last of an entry asks for another", Session{State: Active, Language: "ru", Cursor: Cursor{Step: "relatives", Entry: 0, Sub: 4}, Answers: Answers{Relatives: []map[string]string{{"relation": "spouse"}}}},
			Input{Text: "1"}, want{Active, "relatives/1/-1", "ещё одного", true, func(t *testing.T, s Session, r Result) {
				if s.Answers.Relatives[0]["relocate"] != "yes" {
					t.Errorf("relative %v", s.Answers.Relatives[0])
				}
			}}},
		{"no more family", Session{State: Active, Language: "ru", Cursor: Cursor{Step: "relatives", Entry: 1, Sub: -1}, Answers: Answers{Relatives: []map[string]string{{"relation": "spouse"}}}},
			Input{Text: "нет"}, want{Completing, "done", "", false, nil}},
		{"done ignores", Session{State: Done, Cursor: Cursor{Step: "done"}}, Input{Text: "1"}, want{Done, "done", "", false, nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := json.Marshal(tc.s.Answers)
			s, r := d.Handle(tc.s, tc.in, now)
			if after, _ := json.Marshal(tc.s.Answers); string(after) != string(before) {
				t.Errorf("Handle changed the caller's answers")
			}
			if s.State != tc.want.state || s.Cursor.String() != tc.want.cursor || r.Answered != tc.want.answered {
				t.Errorf("got %s at %q answered %v, want %s at %q answered %v", s.State, s.Cursor, r.Answered, tc.want.state, tc.want.cursor, tc.want.answered)
			}
			if tc.want.reply == "" && tc.want.state != Active && len(r.Replies) > 0 {
				t.Errorf("replies %q, want none", r.Replies)
			}
			if tc.want.reply != "" && (len(r.Replies) == 0 || !strings.Contains(r.Replies[len(r.Replies)-1], tc.want.reply)) {
				t.Errorf("replies %q, want one with %q", r.Replies, tc.want.reply)
			}
			if tc.want.check != nil {
				tc.want.check(t, s, r)
			}
		})
	}
}

// TestGroupMax: a group asks no more than max entries.
func TestGroupMax(t *testing.T) {
	d := mustDefault(t)
	d.Steps[9].Max = 1
	s := Session{State: Active, Language: "en", Cursor: Cursor{Step: "relatives", Sub: 4}, Answers: Answers{Relatives: []map[string]string{{"relation": "child"}}}}
	s, _ = d.Handle(s, Input{Text: "2"}, now)
	if s.State != Completing {
		t.Errorf("after the last allowed entry: %s at %s, want completing", s.State, s.Cursor)
	}
}

func TestTakeoverAndResume(t *testing.T) {
	d := mustDefault(t)
	s, r := d.Takeover(at("unit"))
	if s.State != Paused || s.PausedBy != PausedByOperator || len(r.Replies) != 0 || !r.Changed {
		t.Fatalf("takeover: %+v %+v", s, r)
	}
	if _, r := d.Takeover(s); r.Changed {
		t.Errorf("a second takeover changed something")
	}
	s, r = d.Resume(s)
	if s.State != Active || len(r.Replies) != 1 || !strings.HasPrefix(r.Replies[0], "Продолжим.") || !strings.Contains(r.Replies[0], "воинская часть") {
		t.Errorf("resume: %+v %q", s, r.Replies)
	}
}

func TestPersons(t *testing.T) {
	a := Answers{
		Applicant: map[string]string{"name": "Тестов Т. Т.", "birth_date": "01.01.1990", "unit": "в/ч 00000", "service_number": "ЖЕ-000001", "phone": "этот чат"},
		Relatives: []map[string]string{
			{"relation": "spouse", "name": "Тестова А. А.", "relocate": "yes"},
			{"relation": "bogus", "name": "Тестов Б. Т.", "relocate": "no"},
		},
	}
	ap, rs := a.Persons()
	if ap.Relation != lifeline.RelationApplicant || ap.Name.Reveal() != "Тестов Т. Т." || ap.ServiceNumber.Reveal() != "ЖЕ-000001" || ap.Phone.Reveal() != "этот чат" {
		t.Errorf("applicant %#v", ap)
	}
	if len(rs) != 2 || rs[0].Person.Relation != lifeline.RelationSpouse || !rs[0].Relocate || rs[1].Person.Relation != lifeline.RelationOther || rs[1].Relocate {
		t.Errorf("relatives %+v", rs)
	}
}

// TestParseRefuses: every problem is named, with where it is.
func TestParseRefuses(t *testing.T) {
	var base map[string]any
	if err := json.Unmarshal(DefaultJSON, &base); err != nil {
		t.Fatal(err)
	}
	steps := func(m map[string]any) []any { return m["steps"].([]any) }
	step := func(m map[string]any, i int) map[string]any { return steps(m)[i].(map[string]any) }
	for _, tc := range []struct {
		name   string
		change func(m map[string]any)
		raw    string
		want   string
	}{
		{name: "not JSON", raw: "{\n\"languages\": [", want: "not valid JSON"},
		{name: "unknown key", raw: `{"languages": ["ru"], "stepz": []}`, want: `unknown field "stepz"`},
		{name: "missing translation", change: func(m map[string]any) { delete(step(m, 2)["text"].(map[string]any), "uk") }, want: `steps[2] "name" text: no text in uk`},
		{name: "unknown language", change: func(m map[string]any) { m["languages"] = []any{"ru", "de"} }, want: `"de" is not ru, uk or en`},
		{name: "unknown field", change: func(m map[string]any) { step(m, 2)["field"] = "applicant.shoe_size" }, want: `unknown field "applicant.shoe_size"`},
		{name: "unknown type", change: func(m map[string]any) { step(m, 3)["type"] = "datetime" }, want: `unknown type "datetime"`},
		{name: "dangling jump", change: func(m map[string]any) {
			step(m, 1)["options"].([]any)[1].(map[string]any)["next"] = "nowhere"
		}, want: `next "nowhere" is no step's id`},
		{name: "one option", change: func(m map[string]any) { step(m, 0)["options"] = step(m, 0)["options"].([]any)[:1] }, want: "2 to 9 options"},
		{name: "bad pattern", change: func(m map[string]any) { step(m, 6)["pattern"] = "[" }, want: "not a regular expression"},
		{name: "no end", change: func(m map[string]any) { m["steps"] = steps(m)[:10] }, want: "the last step must be an end step"},
		{name: "staged disclosure", change: func(m map[string]any) {
			step(m, 10)["text"].(map[string]any)["ru"] = "Ждите на месте встречи. Место встречи сообщим."
		}, want: "meeting points"},
		{name: "duplicate id", change: func(m map[string]any) { step(m, 3)["id"] = "name" }, want: `the id "name" twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.raw)
			if tc.change != nil {
				var m map[string]any
				json.Unmarshal(DefaultJSON, &m)
				tc.change(m)
				raw, _ = json.Marshal(m)
			}
			_, err := Parse(raw)
			ve, ok := err.(*ValidationError)
			if !ok {
				t.Fatalf("Parse = %v, want a *ValidationError", err)
			}
			if !strings.Contains(strings.Join(ve.Problems, "\n"), tc.want) {
				t.Errorf("problems:\n%s\nwant one with %q", strings.Join(ve.Problems, "\n"), tc.want)
			}
		})
	}
	_ = base
}

func TestCursor(t *testing.T) {
	for _, s := range []string{"name", "relatives/1/-1", "relatives/2/3"} {
		c, err := ParseCursor(s)
		if err != nil || c.String() != s {
			t.Errorf("%q → %+v %v → %q", s, c, err, c.String())
		}
	}
	for _, s := range []string{"a/b", "a/1/x", "a/-1/0"} {
		if _, err := ParseCursor(s); err == nil {
			t.Errorf("ParseCursor(%q) took it", s)
		}
	}
}

// TestHandoff: a message the bot cannot use is a question for a person.
// The first unusable answer gets the hint and the question again; the
// second in a row, or at once one that reads as a question, hands the
// contact to operators in his language: the bot says so once, pauses
// (reason kept), and asks nothing more. A usable answer resets the count.
func TestHandoff(t *testing.T) {
	d := mustDefault(t)
	missed := func(cursor string) Session { s := at(cursor); s.Misses = 1; return s }
	chosen := func(s Session, lang string) Session { s.Language, s.Answers.Language = lang, lang; return s }
	handedOff := Session{State: Paused, PausedBy: PausedByBot, Handoff: HandoffQuestion, Language: "ru", Cursor: Cursor{Step: "unit"}}
	for _, tc := range []struct {
		name    string
		s       Session
		in      Input
		handoff string // the reason, "" for none
		misses  int    // after the step
		reply   string // a substring of the only reply; "" for none
	}{
		{"first unusable choice: the hint", at("language"), Input{Text: "Я могу писать только ночью."}, "", 1, "Ответьте номером"},
		{"second unusable in a row", missed("language"), Input{Text: "Спасибо. Я на связи."}, HandoffUnusable, 0, "передано оператору"},
		{"a question at once", at("stream"), Input{Text: "Как это сделать безопасно?"}, HandoffQuestion, 0, "передано оператору"},
		{"a question without a question mark", at("stream"), Input{Text: "Жена просит узнать, что будет с семьёй"}, HandoffQuestion, 0, "передано оператору"},
		{"a usable answer resets the count", missed("stream"), Input{Text: "1"}, "", 0, "фамилия"},
		{"free text with a question mark", at("name"), Input{Text: "А зачем вам моё имя?"}, HandoffQuestion, 0, "передано оператору"},
		{"free text opening with a question word is an answer", at("reach"), Input{Text: "Можно писать вечером"}, "", 0, "члены семьи"},
		{"a bad date, then another", missed("birth_date"), Input{Text: "не помню точно"}, HandoffUnusable, 0, "передано оператору"},
		{"a bad date that asks", at("birth_date"), Input{Text: "а зачем это"}, HandoffQuestion, 0, "передано оператору"},
		{"two photos", missed("name"), Input{Media: true}, HandoffUnusable, 0, "передано оператору"},
		{"a required question skipped twice", missed("unit"), Input{Text: "пропустить"}, HandoffUnusable, 0, "передано оператору"},
		{"the family question, asked back", at("relatives/0/-1"), Input{Text: "А если у меня нет семьи"}, HandoffQuestion, 0, "передано оператору"},
		{"a Ukrainian question before a language is chosen", at("language"), Input{Text: "Що буде з моєю сім'єю?"}, HandoffQuestion, 0, "передано операторові"},
		{"an English question before a language is chosen", at("language"), Input{Text: "how do I do it safely"}, HandoffQuestion, 0, "passed to an operator"},
		{"the chosen language wins over the script", chosen(at("unit"), "en"), Input{Text: "Как долго ждать?"}, HandoffQuestion, 0, "passed to an operator"},
		{"handed off: the bot stays silent", handedOff, Input{Text: "Ну что там?"}, "", 0, ""},
		{"handed off: his resume word cannot lift it", handedOff, Input{Text: "продолжить"}, "", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, r := d.Handle(tc.s, tc.in, now)
			if r.Handoff != tc.handoff || s.Misses != tc.misses {
				t.Errorf("got hand-off %q, misses %d; want %q, %d", r.Handoff, s.Misses, tc.handoff, tc.misses)
			}
			switch {
			case tc.reply == "" && len(r.Replies) > 0:
				t.Errorf("replies %q, want none", r.Replies)
			case tc.reply != "" && (len(r.Replies) != 1 || !strings.Contains(r.Replies[0], tc.reply)):
				t.Errorf("replies %q, want one with %q", r.Replies, tc.reply)
			}
			if tc.handoff == "" {
				return
			}
			if s.State != Paused || s.PausedBy != PausedByBot || s.Handoff != tc.handoff || s.Cursor != tc.s.Cursor || r.Answered || !r.Changed {
				t.Errorf("after the hand-off: %+v, %+v; want paused by the bot at %s, not answered", s, r, tc.s.Cursor)
			}
		})
	}
}

// TestHandoffResume: an operator taking over keeps the reason; resuming
// clears it and asks the question the bot stopped at.
func TestHandoffResume(t *testing.T) {
	d := mustDefault(t)
	s, _ := d.Handle(at("unit"), Input{Text: "Что будет с семьёй?"}, now)
	s, r := d.Takeover(s)
	if s.PausedBy != PausedByOperator || s.Handoff != HandoffQuestion || !r.Changed {
		t.Fatalf("takeover: %+v", s)
	}
	s, r = d.Resume(s)
	if s.State != Active || s.Handoff != "" || s.Misses != 0 || s.Cursor.Step != "unit" || len(r.Replies) != 1 || !strings.Contains(r.Replies[0], "воинская часть") {
		t.Fatalf("resume: %+v %q", s, r.Replies)
	}
}

// TestStartOnQuestion: a first message that asks goes to an operator
// before any question; one that does not gets the greeting.
func TestStartOnQuestion(t *testing.T) {
	d := mustDefault(t)
	s, r := d.Start(Input{Text: "Здравствуйте. Я видел ваше видео. Это правда, что можно сдаться?"})
	if s.State != Paused || s.PausedBy != PausedByBot || s.Handoff != HandoffQuestion || s.Cursor.Step != "language" ||
		r.Handoff != HandoffQuestion || r.Answered || len(r.Replies) != 1 || !strings.Contains(r.Replies[0], "передано оператору") {
		t.Fatalf("start on a question: %+v %+v", s, r)
	}
	s, r = d.Start(Input{Text: "Здравствуйте. Хочу сдаться."}, Input{Media: true})
	if s.State != Active || r.Handoff != "" || !r.Answered || len(r.Replies) != 1 || !strings.Contains(r.Replies[0], "Здравствуйте") {
		t.Fatalf("start on a greeting: %+v %+v", s, r)
	}
}

// TestHandoffMessageOptional: a definition saved before hand-offs (no
// messages.handoff) still parses, and the bot says its own words; one that
// has the message must have it in every language.
func TestHandoffMessageOptional(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(DefaultJSON, &m); err != nil {
		t.Fatal(err)
	}
	msgs := m["messages"].(map[string]any)
	msgs["handoff"] = map[string]any{"ru": "Оператор ответит."}
	raw, _ := json.Marshal(m)
	if _, err := Parse(raw); err == nil || !strings.Contains(err.Error(), "messages.handoff: no text in uk") {
		t.Errorf("a hand-off message in one language: %v", err)
	}
	delete(msgs, "handoff")
	raw, _ = json.Marshal(m)
	d, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, r := d.Handle(at("language"), Input{Text: "Что делать?"}, now)
	if len(r.Replies) != 1 || r.Replies[0] != defaultHandoff["ru"] {
		t.Errorf("replies %q, want the built-in hand-off message", r.Replies)
	}
}

func TestPlace(t *testing.T) {
	d := mustDefault(t)
	for _, tc := range []struct {
		cursor, lang string
		n, of        int
		title        string
	}{
		{"language", "uk", 1, 10, "На каком языке вам удобнее? / Якою мовою вам зручніше? / Wh…"},
		{"unit", "en", 5, 10, "Your military unit (number or name, subunit)?"},
		{"unit", "de", 5, 10, "Ваша воинская часть (номер или название, подразделение)?"},
		{"relatives/1/2", "uk", 10, 10, "Дата народження (ДД.ММ.РРРР)?"},
		{"relatives/0/-1", "en", 10, 10, "Are there family members who may need protection or relocat…"},
		{"nowhere", "en", 0, 10, ""},
	} {
		c, _ := ParseCursor(tc.cursor)
		n, of, title := d.Place(c, tc.lang)
		if n != tc.n || of != tc.of || title != tc.title {
			t.Errorf("Place(%s, %s) = %d, %d, %q; want %d, %d, %q", tc.cursor, tc.lang, n, of, title, tc.n, tc.of, tc.title)
		}
	}
}

// TestPreviewShowsEveryQuestionInOrder: the editor's preview of the default
// questionnaire starts with the greeting, shows each question as the bot
// sends it (numbered options, the skip hint), the relatives group's yes or
// no, the branches of the stream choice, and ends with end steps.
func TestPreviewShowsEveryQuestionInOrder(t *testing.T) {
	d, err := Parse(DefaultJSON)
	if err != nil {
		t.Fatal(err)
	}
	items := d.Preview("uk")
	if items[0].Step != "greeting" || items[0].Text != d.Greeting["uk"] {
		t.Fatalf("first item %+v, want the Ukrainian greeting", items[0])
	}
	byStep := map[string]PreviewItem{}
	for _, it := range items {
		if _, seen := byStep[it.Step]; !seen {
			byStep[it.Step] = it
		}
	}
	if st := byStep["stream"]; !strings.Contains(st.Text, "1. Військовослужбовець") || len(st.Branches) != 1 || st.Branches[0].To != "relatives_end" {
		t.Errorf("stream step %+v, want numbered Ukrainian options and the branch to relatives_end", st)
	}
	if r := byStep["rank"]; !strings.HasSuffix(r.Text, d.Messages.Optional["uk"]) {
		t.Errorf("rank (optional) %q, want the skip hint at the end", r.Text)
	}
	if g := byStep["relatives"]; !strings.HasSuffix(g.Text, "\n1. Так\n2. Ні") {
		t.Errorf("relatives group %q, want a yes-or-no question", g.Text)
	}
	if last := items[len(items)-1]; !last.End {
		t.Errorf("last item %+v, want an end step", last)
	}
}
