// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"golang.org/x/mod/sumdb/tlog"
)

// newConversation stores a contact's first message, as intake does.
func newConversation(t *testing.T, db *sqlstore.DB, sender string) (lifeline.ConversationID, lifeline.ContactID) {
	t.Helper()
	var conv lifeline.ConversationID
	var contact lifeline.ContactID
	err := db.Ingest(context.Background(), func(in *sqlstore.Ingest) error {
		c := &lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(sender)}
		if err := in.CreateContact(c); err != nil {
			return err
		}
		contact = c.ID
		var err error
		if conv, _, err = in.OpenConversation(c.ID, lifeline.ChannelTelegram, "bot", "", ""); err != nil {
			return err
		}
		return in.AddMessage(&lifeline.Message{ID: lifeline.NewMessageID(), ContactID: c.ID, Direction: lifeline.Inbound, Body: "Здравствуйте"}, conv, "text", nil, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return conv, contact
}

func TestQuestionnaireVersions(t *testing.T) {
	ctx := context.Background()
	s := MustOpenSealedStore(t)
	if _, err := s.Questionnaire(ctx); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Fatalf("no definition yet: %v, want ENOTFOUND", err)
	}
	if v, err := s.EnsureQuestionnaire(ctx, []byte(`{"v":1}`)); err != nil || v != 1 {
		t.Fatalf("ensure: %d %v", v, err)
	}
	if v, err := s.EnsureQuestionnaire(ctx, []byte(`{"v":"other"}`)); err != nil || v != 1 {
		t.Fatalf("ensure again: %d %v, want 1 and nothing saved", v, err)
	}
	by := lifeline.Actor{ID: "supervisor-x", Role: lifeline.RoleSupervisor}
	if _, err := s.SaveQuestionnaire(ctx, by, []byte(`{"v":`)); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Errorf("broken JSON saved: %v", err)
	}
	if v, err := s.SaveQuestionnaire(ctx, by, []byte(`{"v":2}`)); err != nil || v != 2 {
		t.Fatalf("save: %d %v", v, err)
	}
	cur, err := s.Questionnaire(ctx)
	if err != nil || cur.Version != 2 || string(cur.Definition) != `{"v":2}` || cur.CreatedBy != "supervisor-x" {
		t.Errorf("newest %+v %v", cur, err)
	}
	if old, err := s.QuestionnaireVersion(ctx, 1); err != nil || string(old.Definition) != `{"v":1}` || old.CreatedBy != lifeline.ActorSystem {
		t.Errorf("version 1 %+v %v", old, err)
	}
	vs, err := s.QuestionnaireVersions(ctx)
	if err != nil || len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 {
		t.Errorf("versions %+v %v", vs, err)
	}
	var saves []string
	s.AuditLog().Entries(ctx, func(e audit.Entry, _ tlog.Hash) error {
		if e.Action == "questionnaire.save" {
			saves = append(saves, e.Actor+" "+e.Object)
		}
		return nil
	})
	v1, _ := s.AuditObject("v1")
	v2, _ := s.AuditObject("v2")
	if len(saves) != 2 || saves[0] != "system "+v1 || saves[1] != "supervisor-x "+v2 {
		t.Errorf("audited saves %q", saves)
	}
}

// TestQuestionnaireSessionStore: the session's writes are conditional on
// its seq, its answers sealed, pause and resume audited and refused where
// they make no sense, and a skipped conversation can be started by an
// operator.
func TestQuestionnaireSessionStore(t *testing.T) {
	ctx := context.Background()
	s := MustOpenSealedStore(t)
	conv, contact := newConversation(t, s.DB, "100000901")
	cands, err := s.QuestionnaireCandidates(ctx, 0, 10)
	if err != nil || len(cands) != 1 || cands[0].Conversation != conv || cands[0].HasCase || cands[0].OperatorAnswered || cands[0].Stream != lifeline.StreamSurrender {
		t.Fatalf("candidates %+v %v", cands, err)
	}
	answers := []byte(`{"applicant":{"name":"Канарейкин Тест"}}`)
	start := &sqlstore.QuestionnaireSession{Conversation: conv, Contact: contact, Version: 1, State: "active", Step: "name", Language: "ru", Answers: answers}
	if err := s.StartQuestionnaire(ctx, start, sqlstore.QuestionnaireStep{Replies: []string{"Вопрос?"}, Answered: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.StartQuestionnaire(ctx, start, sqlstore.QuestionnaireStep{}); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("a second start: %v, want ECONFLICT", err)
	}
	if cands, _ := s.QuestionnaireCandidates(ctx, 0, 10); len(cands) != 0 {
		t.Errorf("still a candidate: %+v", cands)
	}
	got, err := s.QuestionnaireSession(ctx, conv)
	if err != nil || !bytes.Equal(got.Answers, answers) || got.LastRowid == 0 || got.Step != "name" {
		t.Fatalf("session %+v %v", got, err)
	}
	if st, _ := s.QuestionnaireStatus(ctx, conv); st.Answers != nil {
		t.Errorf("the console's status carries the answers")
	}
	// Nothing new: no work.
	if p, _ := s.PendingQuestionnaires(ctx, 10); len(p) != 0 {
		t.Errorf("pending %v with nothing new", p)
	}
	// The answers are sealed: the column holds no plaintext.
	var raw []byte
	s.DB.Read(ctx, func(tx *sqlstore.Tx) error {
		return tx.QueryRow(`SELECT answers FROM questionnaire_sessions WHERE conversation_id = ?`, conv).Scan(&raw)
	})
	if len(raw) == 0 || bytes.Contains(raw, []byte("Канарейкин")) {
		t.Errorf("answers column %q", raw)
	}

	op := lifeline.Actor{ID: string(lifeline.NewOperatorID()), Role: lifeline.RoleIntake}
	if err := s.ResumeQuestionnaire(ctx, op, conv); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("resume of a running bot: %v, want ECONFLICT", err)
	}
	if err := s.PauseQuestionnaire(ctx, op, conv); err != nil {
		t.Fatal(err)
	}
	// The bot's write from before the pause loses.
	next := *got
	next.Step = "birth_date"
	if err := s.AdvanceQuestionnaire(ctx, &next, got.Seq, sqlstore.QuestionnaireStep{Replies: []string{"Дата?"}}); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("a stale advance: %v, want ECONFLICT", err)
	}
	if st, _ := s.QuestionnaireStatus(ctx, conv); st.State != "paused" || st.PausedBy != "operator" || st.Step != "name" {
		t.Errorf("after pause %+v", st)
	}
	if err := s.ResumeQuestionnaire(ctx, op, conv); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.QuestionnaireStatus(ctx, conv); st.State != "active" || !st.Reask {
		t.Errorf("after resume %+v", st)
	}
	if p, _ := s.PendingQuestionnaires(ctx, 10); len(p) != 1 {
		t.Errorf("a resumed session is not pending: %v", p)
	}

	// A hand-off ends it and shreds its answers' key.
	cur, _ := s.QuestionnaireSession(ctx, conv)
	if err := s.FinishQuestionnaire(ctx, cur, cur.Seq, sqlstore.QuestionnaireHandoff, sqlstore.QuestionnaireStep{Replies: []string{"Оператор ответит."}, Stream: lifeline.StreamRelatives}); err != nil {
		t.Fatal(err)
	}
	var keysLeft int
	s.DB.Read(ctx, func(tx *sqlstore.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM data_keys WHERE owner = ?`, "questionnaire:"+string(conv)).Scan(&keysLeft)
	})
	if st, _ := s.QuestionnaireSession(ctx, conv); st.State != "done" || st.Outcome != "handoff" || st.Answers != nil || keysLeft != 0 {
		t.Errorf("handed off: %+v, %d keys left", st, keysLeft)
	}
	if err := s.PauseQuestionnaire(ctx, op, conv); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("pause of a finished bot: %v, want ECONFLICT", err)
	}
	if err := s.PauseQuestionnaire(ctx, op, lifeline.NewConversationID()); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("pause in no conversation: %v, want ENOTFOUND", err)
	}
	if fresh, _ := newConversation(t, s.DB, "100000904"); lifeline.ErrorCode(s.PauseQuestionnaire(ctx, op, fresh)) != lifeline.ECONFLICT {
		t.Errorf("pause where the bot has no session: want ECONFLICT")
	}

	// A skipped conversation: an operator may start the bot on it.
	other, otherContact := newConversation(t, s.DB, "100000902")
	if err := s.SkipQuestionnaire(ctx, other, otherContact); err != nil {
		t.Fatal(err)
	}
	if err := s.ResumeQuestionnaire(ctx, op, other); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.QuestionnaireStatus(ctx, other); st.State != "active" || st.Step != "" || !st.Reask || st.Outcome != "" {
		t.Errorf("started by an operator: %+v", st)
	}
	var pauses, resumes int
	s.AuditLog().Entries(ctx, func(e audit.Entry, _ tlog.Hash) error {
		switch e.Action {
		case "questionnaire.pause":
			pauses++
		case "questionnaire.resume":
			resumes++
		}
		return nil
	})
	if pauses != 1 || resumes != 2 {
		t.Errorf("audited %d pauses and %d resumes, want 1 and 2", pauses, resumes)
	}
}

// TestQuestionnaireMigrationSkipsOldConversations: conversations from
// before the bot are the operators'; 0009 marks them skipped.
func TestQuestionnaireMigrationSkipsOldConversations(t *testing.T) {
	ctx := context.Background()
	s := MustOpenSealedStore(t)
	conv, _ := newConversation(t, s.DB, "100000903")
	// Replay 0009's insert as if the conversation had been there before.
	b, err := os.ReadFile("migrations/sqlite/0009_questionnaire.sql")
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(b, []byte("INSERT INTO questionnaire_sessions"))
	if err := s.DB.Write(ctx, func(tx *sqlstore.Tx) error { _, err := tx.Exec(string(b[i:])); return err }); err != nil {
		t.Fatal(err)
	}
	st, err := s.QuestionnaireStatus(ctx, conv)
	if err != nil || st.State != "done" || st.Outcome != "skipped" {
		t.Errorf("old conversation %+v %v", st, err)
	}
	var n int
	s.DB.Read(ctx, func(tx *sqlstore.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM questionnaire_sessions`).Scan(&n)
	})
	if n != 1 {
		t.Errorf("%d sessions", n)
	}
}

// TestQuestionnaireInputSkipsHeldMessages: the bot takes no step for a
// message over its sender's budget (deferred) or cap (quarantined): it
// reads only those within budget, in order.
func TestQuestionnaireInputSkipsHeldMessages(t *testing.T) {
	ctx := context.Background()
	s := MustOpenSealedStore(t)
	conv, contact := newConversation(t, s.DB, "100000321")
	for i, hold := range []lifeline.Hold{lifeline.HoldNone, lifeline.HoldDeferred, lifeline.HoldQuarantined, lifeline.HoldNone} {
		err := s.Ingest(ctx, func(in *sqlstore.Ingest) error {
			m := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: contact, Direction: lifeline.Inbound, Body: lifeline.Sensitive(string(rune('1' + i))), Hold: hold}
			return in.AddMessage(m, conv, "text", nil, "")
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := s.QuestionnaireInput(ctx, conv, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.Text.Reveal())
	}
	if want := "Здравствуйте 1 4"; fmt.Sprint(got) != "["+want+"]" {
		t.Fatalf("bot input %v, want [%s]", got, want)
	}
}
