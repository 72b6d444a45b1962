// SPDX-License-Identifier: AGPL-3.0-or-later

package questionnaire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// rig is a store on real keys in a directory of its own, reopened at will
// as after a crash, with intake in front of it as in serve.
type rig struct {
	t        *testing.T
	dir      string
	keysDir  string
	unseal   string
	db       *sqlstore.DB
	keeper   *keys.Keeper
	intake   *intake.Service
	worker   *Worker
	event    int
	operator lifeline.OperatorID
}

func newRig(t *testing.T) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{t: t, dir: dir, keysDir: filepath.Join(dir, "keys"), unseal: filepath.Join(dir, "unseal")}
	if _, err := keys.Init(r.keysDir, keys.Options{DevFile: r.unseal}); err != nil {
		t.Fatal(err)
	}
	r.open()
	if _, err := r.db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	op := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: "test-operator", Role: lifeline.RoleIntake}
	if err := r.db.CreateOperator(context.Background(), lifeline.CLIActor, op, sqlstore.Credentials{PasswordHash: "x", TOTPSecret: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	r.operator = op.ID
	return r
}

// open opens keys, store, intake and a fresh worker, as a server starts.
func (r *rig) open() {
	r.t.Helper()
	k, err := keys.Open(r.keysDir)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := k.UnsealWithFile(r.unseal); err != nil {
		r.t.Fatal(err)
	}
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(r.dir, "lifeline.db"), sqlstore.Options{Sealer: k})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { db.Close() })
	r.db, r.keeper = db, k
	r.intake = intake.New(db, k, intake.Config{})
	r.worker = &Worker{DB: db, Now: func() time.Time { return now }}
}

// restart closes everything and opens it again: what was not committed is
// gone, as after a crash.
func (r *rig) restart() {
	r.t.Helper()
	if err := r.db.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.keeper.Seal()
	r.open()
}

// send stores one message from sender as a webhook would.
func (r *rig) send(kind lifeline.ChannelKind, sender, text string) {
	r.t.Helper()
	r.event++
	e := channel.Event{ID: fmt.Sprintf("event-%d", r.event), Type: channel.EventMessage, Kind: channel.KindText,
		Sender: lifeline.Sensitive(sender), Text: lifeline.Sensitive(text)}
	if err := r.intake.Receive(context.Background(), kind, "bot", []channel.Event{e}); err != nil {
		r.t.Fatal(err)
	}
}

// run lets the worker do all there is to do.
func (r *rig) run() {
	r.t.Helper()
	for range 10 {
		n, err := r.worker.RunOnce(context.Background())
		if err != nil {
			r.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	r.t.Fatal("the worker keeps finding work")
}

// conversation finds the conversation of a contact's first message.
func (r *rig) conversation(kind lifeline.ChannelKind) lifeline.ConversationID {
	r.t.Helper()
	convs, err := r.db.Conversations(context.Background(), 100, "")
	if err != nil {
		r.t.Fatal(err)
	}
	for _, c := range convs {
		if c.Kind == kind {
			return c.ID
		}
	}
	r.t.Fatalf("no %s conversation", kind)
	return ""
}

// bot lists what the bot has sent in a conversation (not intake's greeting).
func (r *rig) bot(conv lifeline.ConversationID) []string {
	r.t.Helper()
	msgs, err := r.db.ConversationMessages(context.Background(), conv)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if m.Direction == lifeline.Outbound && m.Author == "" && m.Text.Reveal() != intake.DefaultGreeting {
			out = append(out, m.Text.Reveal())
		}
	}
	return out
}

// answer sends an answer, runs the worker, and checks that exactly one
// message came back, containing want.
func (r *rig) answer(kind lifeline.ChannelKind, sender string, conv lifeline.ConversationID, text, want string) {
	r.t.Helper()
	before := len(r.bot(conv))
	r.send(kind, sender, text)
	r.run()
	got := r.bot(conv)
	if len(got) != before+1 || !strings.Contains(got[len(got)-1], want) {
		r.t.Fatalf("answer %q: the bot sent %q, want one message with %q", text, got[before:], want)
	}
}

func (r *rig) session(conv lifeline.ConversationID) *sqlstore.QuestionnaireSession {
	r.t.Helper()
	s, err := r.db.QuestionnaireStatus(context.Background(), conv)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// The invented soldier: no real person.
var soldier = map[string]string{
	"name": "Тестовый Иван Петрович", "birth": "19.11.1991", "unit": "в/ч 00000 (тестовая рота)", "rank": "рядовой-тест",
	"service": "ЖЕ-424242", "where": "пгт Выдуманное", "reach": "этот чат после 21:00",
	"wife": "Тестовая Анна Сергеевна", "wifeWhere": "г. Несуществующий",
}

// TestDialogue follows one invented soldier through the whole
// questionnaire on Telegram: answers in Russian, a mistake, an operator
// taking over and resuming the bot, a restart mid-dialogue, his wife who
// needs relocating, and a crash while the case is being made. It ends in
// one case in registered with both persons, the contact linked, the final
// message sent, and no answer in plaintext anywhere in the database files.
func TestDialogue(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	tg, from := lifeline.ChannelTelegram, "100000777"

	r.send(tg, from, "/start")
	r.run()
	conv := r.conversation(tg)
	if got := r.bot(conv); len(got) != 1 || !strings.Contains(got[0], "1. Русский") {
		t.Fatalf("first bot message %q", got)
	}
	r.answer(tg, from, conv, "1", "Кто вы?")
	r.answer(tg, from, conv, "1", "фамилия, имя")
	r.answer(tg, from, conv, soldier["name"], "Дата рождения")
	r.answer(tg, from, conv, "в прошлом году", "ДД.ММ.ГГГГ") // a mistake: asked again
	r.answer(tg, from, conv, soldier["birth"], "воинская часть")
	r.answer(tg, from, conv, soldier["unit"], "звание")

	// An operator answers: the bot stops at once, the contact's next
	// message is left to her.
	if _, err := r.db.QueueReply(ctx, lifeline.Actor{ID: string(r.operator), Role: lifeline.RoleIntake}, conv, "Здравствуйте, я оператор."); err != nil {
		t.Fatal(err)
	}
	r.run()
	if s := r.session(conv); s.State != "paused" || s.PausedBy != "operator" {
		t.Fatalf("after an operator's reply: %s by %q, want paused by operator", s.State, s.PausedBy)
	}
	before := len(r.bot(conv))
	r.send(tg, from, "Хорошо, жду.")
	r.send(tg, from, "продолжить") // his own resume word cannot lift an operator's pause
	r.run()
	if got := r.bot(conv); len(got) != before {
		t.Fatalf("the paused bot answered: %q", got[before:])
	}
	// She hands back: the bot asks its question again.
	if err := r.db.ResumeQuestionnaire(ctx, lifeline.Actor{ID: string(r.operator), Role: lifeline.RoleIntake}, conv); err != nil {
		t.Fatal(err)
	}
	r.run()
	if got := r.bot(conv); len(got) != before+1 || !strings.HasPrefix(got[before], "Продолжим.") || !strings.Contains(got[before], "звание") {
		t.Fatalf("resumed: %q", got[before:])
	}
	r.answer(tg, from, conv, soldier["rank"], "личный номер")
	r.answer(tg, from, conv, soldier["service"], "Где вы сейчас")

	// A crash: his answer is stored, the server goes down before the bot
	// looks at it. After the restart it is answered exactly once.
	before = len(r.bot(conv))
	r.send(tg, from, soldier["where"])
	r.restart()
	r.run()
	r.run()
	if got := r.bot(conv); len(got) != before+1 || !strings.Contains(got[before], "безопасно связаться") {
		t.Fatalf("after the restart: %q, want exactly the next question", got[before:])
	}
	r.answer(tg, from, conv, soldier["reach"], "члены семьи")
	r.answer(tg, from, conv, "1", "Кем он или она")
	r.answer(tg, from, conv, "1", "Фамилия")
	r.answer(tg, from, conv, soldier["wife"], "Дата рождения")
	r.answer(tg, from, conv, "пропустить", "Где он или она живёт")
	r.answer(tg, from, conv, soldier["wifeWhere"], "переезд")
	r.answer(tg, from, conv, "Да", "ещё одного")

	// The last answer; the server crashes after the case and its persons
	// are made, before the session ends.
	before = len(r.bot(conv))
	r.worker.afterPersons = func() error { return errors.New("crash") }
	r.send(tg, from, "2")
	if _, err := r.worker.RunOnce(ctx); err == nil {
		t.Fatal("the crash hook did not fire")
	}
	if s := r.session(conv); s.State != "completing" {
		t.Fatalf("after the crash: %s, want completing", s.State)
	}
	r.restart()
	r.run()
	got := r.bot(conv)
	if len(got) != before+1 || !strings.Contains(got[before], "зарегистрирована") || !strings.Contains(got[before], "удалите эту переписку") {
		t.Fatalf("final message: %q", got[before:])
	}

	s := r.session(conv)
	if s.State != "done" || s.Outcome != "registered" || !s.Case.Valid() {
		t.Fatalf("session %+v, want done, registered, with a case", s)
	}
	c, err := r.db.Case(ctx, s.Case)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != lifeline.CaseRegistered || c.Stream != lifeline.StreamSurrender {
		t.Errorf("case %s in %s, stream %s", c.CodeName, c.Status, c.Stream)
	}
	if linked, err := r.db.CaseOfConversation(ctx, conv); err != nil || linked != s.Case {
		t.Errorf("contact linked to %q (%v), want %q", linked, err, s.Case)
	}
	cases, err := r.db.Cases(ctx, sqlstore.CaseFilter{})
	if err != nil || len(cases) != 1 {
		t.Errorf("%d cases (%v), want exactly one after the crash", len(cases), err)
	}
	persons, err := r.db.Persons(ctx, s.Case)
	if err != nil {
		t.Fatal(err)
	}
	relocate, err := r.db.PersonRelocations(ctx, s.Case)
	if err != nil {
		t.Fatal(err)
	}
	if len(persons) != 2 {
		t.Fatalf("%d persons, want the applicant and his wife", len(persons))
	}
	for _, p := range persons {
		switch p.Relation {
		case lifeline.RelationApplicant:
			if p.Name.Reveal() != soldier["name"] || p.BirthDate.Reveal() != soldier["birth"] || p.Unit.Reveal() != soldier["unit"] ||
				p.Rank.Reveal() != soldier["rank"] || p.ServiceNumber.Reveal() != soldier["service"] || p.Whereabouts.Reveal() != soldier["where"] ||
				p.Phone.Reveal() != soldier["reach"] || relocate[p.ID] {
				t.Errorf("applicant %#v", p)
			}
		case lifeline.RelationSpouse:
			if p.Name.Reveal() != soldier["wife"] || p.Whereabouts.Reveal() != soldier["wifeWhere"] || p.BirthDate.Reveal() != "" || !relocate[p.ID] {
				t.Errorf("wife %#v relocate %v", p, relocate[p.ID])
			}
		default:
			t.Errorf("a person as %s", p.Relation)
		}
	}
	events, err := r.db.CaseTimeline(ctx, s.Case, false, false)
	if err != nil || len(events) == 0 || events[0].Kind != "created" {
		t.Errorf("timeline %+v (%v), want it to start with created", events, err)
	}
	// Nothing after the end is the bot's.
	before = len(r.bot(conv))
	r.send(tg, from, "Спасибо")
	r.run()
	if got := r.bot(conv); len(got) != before {
		t.Errorf("the bot answered after the end: %q", got[before:])
	}
	// Stage 1: no word of procedures, meeting points or staff.
	for _, m := range r.bot(conv) {
		for _, w := range []string{"встреч", "координат", "оператор по имени", "позывной"} {
			if strings.Contains(strings.ToLower(m), w) {
				t.Errorf("the bot said %q", m)
			}
		}
	}

	// No answer in plaintext in the database, its WAL or anything beside.
	if err := r.db.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(r.dir, "lifeline.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	seen := false // the scan can see plaintext: the definition's questions are not secret
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seen = seen || bytes.Contains(b, []byte("Кто вы?"))
		for k, v := range soldier {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds the %s answer in plaintext", filepath.Base(f), k)
			}
		}
	}
	if !seen {
		t.Error("the scan found not even the questionnaire's own words")
	}
}

// TestSMSLikeTelegram: by SMS the bot asks the same numbered questions,
// word for word, as on Telegram; a relative is handed to operators in the
// relatives stream, and no case is made.
func TestSMSLikeTelegram(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	script := []string{"/start", "1", "1", "Тестов Тест", "31.02.1990", "01.02.1990", "пауза", "продолжить", "в/ч 00000"}
	run := func(kind lifeline.ChannelKind, from string) []string {
		for _, m := range script {
			r.send(kind, from, m)
			r.run()
		}
		return r.bot(r.conversation(kind))
	}
	tg := run(lifeline.ChannelTelegram, "100000778")
	sms := run(lifeline.ChannelSMS, "+380000000001")
	if !slices.Equal(tg, sms) || len(sms) != len(script) {
		t.Fatalf("SMS:\n%q\nTelegram:\n%q", sms, tg)
	}
	if !strings.Contains(sms[0], "\n1. Русский\n2. Українська\n3. English") || !strings.Contains(sms[1], "\n1. Военнослужащий") {
		t.Errorf("options not numbered in plain text: %q", sms[:2])
	}
	if !strings.Contains(sms[6], "приостановлены") || !strings.Contains(sms[7], "Продолжим") {
		t.Errorf("pause and resume: %q", sms[6:8])
	}

	// A relative: one question, then the hand-off.
	r.send(lifeline.ChannelWhatsApp, "380000000002", "Здравствуйте")
	r.run()
	conv := r.conversation(lifeline.ChannelWhatsApp)
	r.answer(lifeline.ChannelWhatsApp, "380000000002", conv, "2", "Хто ви?")
	r.answer(lifeline.ChannelWhatsApp, "380000000002", conv, "2", "родичам")
	s := r.session(conv)
	if s.State != "done" || s.Outcome != "handoff" || s.Case != "" {
		t.Errorf("relative's session %+v", s)
	}
	item, err := r.db.Conversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	if item.Stream != "relatives" || item.Language != "uk" || !item.Waiting {
		t.Errorf("conversation in %s, %s, waiting %v: want relatives, uk, waiting for an operator", item.Stream, item.Language, item.Waiting)
	}
}
