// SPDX-License-Identifier: AGPL-3.0-or-later

package outbox_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/twilio"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/outbox"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// Invented: +44 7700 900xxx is Ofcom's drama range.
const (
	smsSID    = "AC5f0e3a2b7c9d4e1f8a6b0c2d4e6f8a1b"
	smsToken  = "9c1d7e3f5a2b4c6d8e0f1a3b5c7d9e2f"
	smsNumber = "+447700900123"
	smsFrom   = "+79990001122"
	smsPublic = "https://hotline.example"
)

// smsEnv is an SMS channel end to end: Twilio's webhook through the real
// handler into intake, replies through the outbox to the Twilio fake.
type smsEnv struct {
	t    *testing.T
	db   *sqlstore.DB
	svc  *intake.Service
	fake *channeltest.TwilioFake
	hook http.Handler
	w    *outbox.Worker
}

func setupSMS(t *testing.T) *smsEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	unseal := filepath.Join(dir, "unseal")
	if _, err := keys.Init(filepath.Join(dir, "keys"), keys.Options{DevFile: unseal}); err != nil {
		t.Fatal(err)
	}
	k, err := keys.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "db"), sqlstore.Options{Sealer: k})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fake := channeltest.NewTwilioFake(smsSID, smsToken)
	t.Cleanup(fake.Close)
	a, err := twilio.NewSMS(twilio.Config{Name: "hotline", AccountSID: smsSID, AuthToken: smsToken, Number: smsNumber,
		PublicURL: smsPublic, APIURL: fake.URL()}, channeltest.LoopbackClient())
	if err != nil {
		t.Fatal(err)
	}
	reg := channel.NewRegistry(a)
	svc := intake.New(db, k, intake.Config{Greetings: map[lifeline.ChannelKind]string{}})
	return &smsEnv{t: t, db: db, svc: svc, fake: fake,
		hook: channeltest.Mux(channel.NewHandler(slog.New(slog.DiscardHandler), reg, svc, nil, nil)),
		w:    &outbox.Worker{DB: db, Senders: reg, Refs: k, Limits: map[lifeline.ChannelKind]float64{}}}
}

// text posts a signed incoming SMS; optOutType is Twilio's OptOutType, if any.
func (e *smsEnv) text(body, optOutType string) {
	e.t.Helper()
	f := channeltest.TwilioSMSForm(channeltest.TwilioSMS{AccountSID: smsSID, MessageSID: channeltest.TwilioSID("SM"), From: smsFrom, To: smsNumber, Body: body})
	if optOutType != "" {
		f.Set("OptOutType", optOutType)
	}
	req := channeltest.TwilioRequest(smsToken, smsPublic, "/hooks/sms/hotline/sms", f.Encode())
	rec := httptest.NewRecorder()
	e.hook.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("webhook: status %d", rec.Code)
	}
}

func (e *smsEnv) conversation() *sqlstore.InboxItem {
	e.t.Helper()
	convs, err := e.db.Conversations(context.Background(), 10, "")
	if err != nil || len(convs) == 0 {
		e.t.Fatalf("conversations: %v, %v", convs, err)
	}
	for _, c := range convs {
		if c.Kind == lifeline.ChannelSMS {
			it, err := e.db.Conversation(context.Background(), c.ID)
			if err != nil {
				e.t.Fatal(err)
			}
			return it
		}
	}
	e.t.Fatal("no SMS conversation")
	return nil
}

func (e *smsEnv) send() {
	e.t.Helper()
	if _, err := e.w.RunOnce(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// TestSMSStopRefusesRepliesUntilStart: after the contact texts STOP (Twilio
// sends OptOutType=STOP), his message is stored, the conversation shows
// the opt-out, a reply already queued is not sent, and a new one is
// refused with the reason; after START replies go again.
func TestSMSStopRefusesRepliesUntilStart(t *testing.T) {
	ctx := context.Background()
	e := setupSMS(t)
	e.text("Здравствуйте", "")
	conv := e.conversation().ID
	if _, err := e.db.QueueReply(ctx, lifeline.CLIActor, conv, "Мы на связи."); err != nil {
		t.Fatal(err)
	}
	e.send()
	q, err := e.db.QueueReply(ctx, lifeline.CLIActor, conv, "Вы здесь?")
	if err != nil {
		t.Fatal(err)
	}
	queued := q.ID

	e.text("STOP", "STOP")
	c := e.conversation()
	if c.OptOut == nil || c.OptOut.Source != sqlstore.OptOutStop {
		t.Fatalf("opt-out %+v, want one from STOP", c.OptOut)
	}
	msgs, _ := e.db.ConversationMessages(ctx, conv)
	if last := msgs[len(msgs)-1]; last.Direction != lifeline.Inbound || last.Text.Reveal() != "STOP" {
		t.Errorf("last message %+v, want the contact's STOP stored", last)
	}
	e.send()
	if n := len(e.fake.Sent()); n != 1 {
		t.Errorf("Twilio got %d messages, want only the one before STOP", n)
	}
	for _, m := range msgs {
		if m.ID == queued && m.Status != "queued" {
			t.Fatalf("queued reply already %s", m.Status)
		}
	}
	msgs, _ = e.db.ConversationMessages(ctx, conv)
	for _, m := range msgs {
		if m.ID == queued && (m.Status != "failed" || m.StatusReason != outbox.ReasonOptedOut) {
			t.Errorf("reply queued before STOP: %s %q, want failed, %q", m.Status, m.StatusReason, outbox.ReasonOptedOut)
		}
	}
	_, err = e.db.QueueReply(ctx, lifeline.CLIActor, conv, "Ответьте, пожалуйста.")
	if lifeline.ErrorCode(err) != lifeline.ECONFLICT || !strings.Contains(lifeline.ErrorMessage(err), "opted out") ||
		!strings.Contains(lifeline.ErrorMessage(err), "no other channel") {
		t.Fatalf("reply after STOP: %v, want ECONFLICT saying he opted out and has no other channel", err)
	}

	e.text("START", "START")
	if c := e.conversation(); c.OptOut != nil {
		t.Fatalf("opt-out %+v after START, want none", c.OptOut)
	}
	if _, err := e.db.QueueReply(ctx, lifeline.CLIActor, conv, "Рады, что вы вернулись."); err != nil {
		t.Fatalf("reply after START: %v", err)
	}
	e.send()
	if sent := e.fake.Sent(); len(sent) != 2 || sent[1].Body != "Рады, что вы вернулись." || sent[1].To != smsFrom {
		t.Errorf("sent %+v, want the reply after START", sent)
	}
}

// TestSMSStopKeywordWithoutOptOutType: Twilio's default opt-out handling
// sends no OptOutType; the keyword alone records it, and a new
// conversation with the same number after closing is opted out too.
func TestSMSStopKeywordWithoutOptOutType(t *testing.T) {
	ctx := context.Background()
	e := setupSMS(t)
	e.text("Здравствуйте", "")
	e.text("unsubscribe", "")
	conv := e.conversation().ID
	if err := e.db.SetConversationState(ctx, lifeline.CLIActor, conv, "closed"); err != nil {
		t.Fatal(err)
	}
	e.text("Я снова здесь", "")
	var open *sqlstore.InboxItem
	convs, _ := e.db.Conversations(ctx, 10, "")
	for _, c := range convs {
		if c.ID != conv {
			open, _ = e.db.Conversation(ctx, c.ID)
		}
	}
	if open == nil || open.OptOut == nil {
		t.Fatalf("new conversation %+v, want it opted out still", open)
	}
	if _, err := e.db.QueueReply(ctx, lifeline.CLIActor, open.ID, "Мы на связи."); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Fatalf("reply: %v, want ECONFLICT", err)
	}
}

// TestSMS21610MarksOptedOut: a send Twilio refuses with error 21610 (the
// contact opted out where we did not see it) fails for good and records
// the opt-out; the refusal of the next reply names the other channel his
// case has used, by kind only.
func TestSMS21610MarksOptedOut(t *testing.T) {
	ctx := context.Background()
	e := setupSMS(t)
	e.text("Здравствуйте", "")
	sms := e.conversation().ID
	// The same person on Telegram, linked to his case.
	tg := channel.Event{ID: "update:1", Type: channel.EventMessage, Kind: channel.KindText, Sender: "100000001", ReplyTo: "100000001", Text: "Это я"}
	if err := e.svc.Receive(ctx, lifeline.ChannelTelegram, "bot", []channel.Event{tg}); err != nil {
		t.Fatal(err)
	}
	k, err := e.db.OpenCase(ctx, lifeline.CLIActor, sms)
	if err != nil {
		t.Fatal(err)
	}
	convs, _ := e.db.Conversations(ctx, 10, "")
	for _, c := range convs {
		if c.Kind == lifeline.ChannelTelegram {
			if err := e.db.LinkContact(ctx, lifeline.CLIActor, c.ID, k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}

	e.fake.FailTo(smsFrom, 21610)
	q, err := e.db.QueueReply(ctx, lifeline.CLIActor, sms, "Мы на связи.")
	if err != nil {
		t.Fatal(err)
	}
	id := q.ID
	e.send()
	msgs, _ := e.db.ConversationMessages(ctx, sms)
	for _, m := range msgs {
		if m.ID == id && (m.Status != "failed" || !strings.Contains(m.StatusReason, "opted out") || !strings.Contains(m.StatusReason, "21610")) {
			t.Errorf("reply: %s %q, want failed for the opt-out, with 21610", m.Status, m.StatusReason)
		}
		if strings.Contains(m.StatusReason, smsFrom) {
			t.Errorf("status reason quotes the number: %q", m.StatusReason)
		}
	}
	if c := e.conversation(); c.OptOut == nil || c.OptOut.Source != sqlstore.OptOut21610 {
		t.Fatalf("opt-out %+v, want one from error 21610", c.OptOut)
	}
	_, err = e.db.QueueReply(ctx, lifeline.CLIActor, sms, "Ещё раз.")
	msg := lifeline.ErrorMessage(err)
	if lifeline.ErrorCode(err) != lifeline.ECONFLICT || !strings.Contains(msg, "21610") || !strings.Contains(msg, "also written on: Telegram.") || strings.Contains(msg, "100000001") {
		t.Fatalf("reply after 21610: %q, want ECONFLICT naming Telegram, not the handle", msg)
	}
}
