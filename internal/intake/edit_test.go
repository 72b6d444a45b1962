// SPDX-License-Identifier: AGPL-3.0-or-later

package intake_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/telegram"
	"github.com/lifeline-hotline/lifeline/internal/channel/whatsapp"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

const (
	tgSecret = "edit-test-secret_0123"
	tgChat   = 6100000001 // an invented soldier
)

// hook is the real webhook handler, with a Telegram channel "bot", in front
// of the real intake service and store.
type hook struct {
	t       testing.TB
	db      *sqlstore.DB
	svc     *intake.Service
	handler http.Handler
}

func newHook(t testing.TB, db *sqlstore.DB, k *keys.Keeper, cfg intake.Config) *hook {
	t.Helper()
	return newHookForBot(t, db, k, cfg, "123456:edit-test-token")
}

// newHookForBot is newHook with the channel's bot token.
func newHookForBot(t testing.TB, db *sqlstore.DB, k *keys.Keeper, cfg intake.Config, token string) *hook {
	t.Helper()
	a, err := telegram.New(telegram.Config{Name: "bot", BotToken: token, WebhookSecret: tgSecret}, channeltest.LoopbackClient())
	if err != nil {
		t.Fatal(err)
	}
	svc := intake.New(db, k, cfg)
	h := channel.NewHandler(slog.New(slog.DiscardHandler), channel.NewRegistry(a), svc, db, nil)
	return &hook{t: t, db: db, svc: svc, handler: channeltest.Mux(h)}
}

// post delivers one Telegram update as Telegram does, and wants the 200.
func (h *hook) post(body string) {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/hooks/telegram/bot", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(telegram.SecretHeader, tgSecret)
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		h.t.Fatalf("webhook answered %d: %s", rec.Code, rec.Body)
	}
}

// tgMessage is a Telegram Update with a private-chat text message, in the
// Bot API's format; field "message" or "edited_message".
func tgMessage(field string, update int64, chat int64, messageID int64, editDate int64, text string) string {
	edit := ""
	if editDate != 0 {
		edit = fmt.Sprintf(`,"edit_date":%d`, editDate)
	}
	return fmt.Sprintf(`{"update_id":%d,%q:{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"Алексей","language_code":"ru"},`+
		`"chat":{"id":%d,"first_name":"Алексей","type":"private"},"date":1782000101%s,"text":%q}}`, update, field, messageID, chat, chat, edit, text)
}

// conversation returns the messages of the soldier's one conversation.
func conversation(t testing.TB, db *sqlstore.DB, sender string) []sqlstore.ConversationMessage {
	t.Helper()
	ctx := context.Background()
	id, err := db.FindContact(ctx, lifeline.ChannelTelegram, sender)
	if err != nil {
		t.Fatal(err)
	}
	return contactMessages(t, db, id)
}

// contactMessages returns the messages of a contact's one conversation.
func contactMessages(t testing.TB, db *sqlstore.DB, id lifeline.ContactID) []sqlstore.ConversationMessage {
	t.Helper()
	ctx := context.Background()
	all, err := db.Conversations(ctx, 500, "")
	if err != nil {
		t.Fatal(err)
	}
	var conv lifeline.ConversationID
	for _, c := range all {
		if c.ContactID == id {
			if conv != "" {
				t.Fatal("got two conversations, want 1")
			}
			conv = c.ID
		}
	}
	if conv == "" {
		t.Fatal("no conversation")
	}
	msgs, err := db.ConversationMessages(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func texts(ss []lifeline.Sensitive) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.Reveal())
	}
	return out
}

func noGreeting() intake.Config {
	return intake.Config{Greetings: map[lifeline.ChannelKind]string{}}
}

// TestTelegramEditReplacesTextAndKeepsEarlier: an edited_message changes
// the message it edits (found by chat and message id): one message, its
// current text the latest, marked edited today, the earlier texts kept in
// order; the same edit again, under its update id or a new one, is stored
// once.
func TestTelegramEditReplacesTextAndKeepsEarlier(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	var notices []intake.Notice
	cfg := noGreeting()
	cfg.Notify = func(n []intake.Notice) { notices = append(notices, n...) }
	h := newHook(t, db, k, cfg)

	h.post(tgMessage("message", 700000001, tgChat, 101, 0, "Нас двое."))
	h.post(tgMessage("edited_message", 700000002, tgChat, 101, 1782000200, "Нас трое."))
	h.post(tgMessage("edited_message", 700000002, tgChat, 101, 1782000200, "Нас трое.")) // a retry
	h.post(tgMessage("edited_message", 700000003, tgChat, 101, 1782000200, "Нас трое.")) // the same edit, a new update id
	h.post(tgMessage("edited_message", 700000004, tgChat, 101, 1782000300, "Нас трое, с техникой."))

	msgs := conversation(t, db, fmt.Sprint(tgChat))
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want the one, edited", len(msgs))
	}
	m := msgs[0]
	if m.Text.Reveal() != "Нас трое, с техникой." || !m.Edited || m.OriginalMissing {
		t.Fatalf("got text %q, edited %v, original missing %v; want the latest text, edited", m.Text.Reveal(), m.Edited, m.OriginalMissing)
	}
	if today := lifeline.DayOf(time.Now()); m.EditedDay != today {
		t.Errorf("got edited day %v, want %v", m.EditedDay, today)
	}
	if got, want := texts(m.Earlier), []string{"Нас двое.", "Нас трое."}; !slices.Equal(got, want) {
		t.Fatalf("got earlier texts %q, want %q", got, want)
	}
	// Live views heard of the message and of each edit, by id only.
	if len(notices) != 3 || notices[1].Message != m.ID || notices[2].Message != m.ID {
		t.Fatalf("got notices %+v, want the message and its two edits", notices)
	}
}

// TestTelegramEditOfUnknownMessageStoredAsEdit: an edit whose original was
// never stored (HOSTILE-INPUTS E-10: it came first) is stored as a message
// marked as an edit, its original missing; when the original then comes, it
// becomes the earlier text of that one message, and nobody is greeted
// twice.
func TestTelegramEditOfUnknownMessageStoredAsEdit(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	h := newHook(t, db, k, intake.Config{})

	h.post(tgMessage("edited_message", 700000011, tgChat, 7, 1782000200, "Исправленный текст"))
	msgs := conversation(t, db, fmt.Sprint(tgChat))
	in := inboundOnly(msgs)
	if len(in) != 1 || in[0].Text.Reveal() != "Исправленный текст" || !in[0].Edited || !in[0].OriginalMissing || len(in[0].Earlier) != 0 {
		t.Fatalf("got %+v, want one message marked as an edit of an unknown original", in)
	}

	h.post(tgMessage("message", 700000010, tgChat, 7, 0, "Первый текст"))
	in = inboundOnly(conversation(t, db, fmt.Sprint(tgChat)))
	if len(in) != 1 {
		t.Fatalf("got %d inbound messages, want 1", len(in))
	}
	if in[0].Text.Reveal() != "Исправленный текст" || in[0].OriginalMissing || !slices.Equal(texts(in[0].Earlier), []string{"Первый текст"}) {
		t.Fatalf("got text %q, original missing %v, earlier %q; want the edit current and the original before it",
			in[0].Text.Reveal(), in[0].OriginalMissing, texts(in[0].Earlier))
	}
	if got := mustCount(t, db); got.Jobs != 1 || got.Messages != 2 {
		t.Fatalf("got %+v, want the message and one greeting", got)
	}
	// The original once more, under yet another update id: nothing new.
	h.post(tgMessage("message", 700000012, tgChat, 7, 0, "Первый текст"))
	if in = inboundOnly(conversation(t, db, fmt.Sprint(tgChat))); len(in[0].Earlier) != 1 {
		t.Fatalf("got earlier %q, want the original once", texts(in[0].Earlier))
	}
}

// TestSameTelegramMessageUnderNewUpdateIDStoredOnce is issue 10 item 6:
// Telegram may deliver one message (chat id and message id) under a new
// update_id; it is stored once, also after a restart (new store handle and
// service); the same message_id in another chat is another message.
func TestSameTelegramMessageUnderNewUpdateIDStoredOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	unseal := filepath.Join(dir, "dev-unseal-key")
	if _, err := keys.Init(filepath.Join(dir, "keys"), keys.Options{DevFile: unseal}); err != nil {
		t.Fatal(err)
	}
	open := func() (*sqlstore.DB, *keys.Keeper) {
		k, err := keys.Open(filepath.Join(dir, "keys"))
		if err != nil {
			t.Fatal(err)
		}
		if err := k.UnsealWithFile(unseal); err != nil {
			t.Fatal(err)
		}
		db, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, sqlstore.FileName), sqlstore.Options{Sealer: k})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return db, k
	}
	db, k := open()
	h := newHook(t, db, k, noGreeting())
	h.post(tgMessage("message", 700000021, tgChat, 55, 0, "Я здесь"))
	h.post(tgMessage("message", 700000022, tgChat, 55, 0, "Я здесь"))
	h.post(tgMessage("message", 700000023, tgChat+1, 55, 0, "Я здесь")) // another chat
	db.Close()

	db, k = open()
	defer db.Close()
	h = newHook(t, db, k, noGreeting())
	h.post(tgMessage("message", 700000024, tgChat, 55, 0, "Я здесь"))
	h.post(tgMessage("message", 700000021, tgChat, 55, 0, "Я здесь"))

	if got := mustCount(t, db); got.Messages != 2 || got.Contacts != 2 {
		t.Fatalf("got %+v, want one message in each of two chats", got)
	}
	if msgs := conversation(t, db, fmt.Sprint(tgChat)); len(msgs) != 1 || msgs[0].Edited {
		t.Fatalf("got %+v, want one message, not edited", msgs)
	}
}

// TestReplacedBotsMessagesStored: the channel's bot is replaced (a new
// token under the same channel name, as after a ban), and the new bot's
// update_ids and message_ids start again; the same soldier writes to it:
// each of his messages is stored, none taken for the old bot's message of
// the same numbers (which answered 200 and stored nothing before), and a
// retry of any is still stored once.
func TestReplacedBotsMessagesStored(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	old := newHookForBot(t, db, k, noGreeting(), "123456:old-bot-token")
	for i := range int64(5) {
		old.post(tgMessage("message", 700000100+i, tgChat, 1+i, 0, fmt.Sprintf("старому боту %d", i)))
	}
	replaced := newHookForBot(t, db, k, noGreeting(), "654321:new-bot-token")
	for range 2 { // and each again: a retry
		for i := range int64(5) {
			replaced.post(tgMessage("message", 1+i, tgChat, 1+i, 0, fmt.Sprintf("новому боту %d", i)))
		}
	}
	msgs := conversation(t, db, fmt.Sprint(tgChat))
	if len(msgs) != 10 {
		t.Fatalf("got %d messages, want the old bot's 5 and the new bot's 5", len(msgs))
	}
	for i, m := range msgs[5:] {
		if want := fmt.Sprintf("новому боту %d", i); m.Text.Reveal() != want || m.Edited {
			t.Errorf("message %d: %q (edited %v), want %q", 5+i, m.Text.Reveal(), m.Edited, want)
		}
	}
}

// TestTelegramEditWhileSealed: intake takes an edit while the keys are
// sealed (it seals the new text under a key of its own); after unseal and
// Reseal the conversation opens with the edit current and the original
// earlier, and the edit's own key is gone.
func TestTelegramEditWhileSealed(t *testing.T) {
	ctx := context.Background()
	db, k, unseal := MustOpen(t, false)
	h := newHook(t, db, k, noGreeting())
	h.post(tgMessage("message", 700000031, tgChat, 9, 0, "До"))
	k.Seal()
	h.post(tgMessage("edited_message", 700000032, tgChat, 9, 1782000400, "После"))
	if err := k.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	n, err := db.Reseal(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Reseal: %d, %v; want the one version folded in", n, err)
	}
	msgs := conversation(t, db, fmt.Sprint(tgChat))
	if len(msgs) != 1 || msgs[0].Text.Reveal() != "После" || !slices.Equal(texts(msgs[0].Earlier), []string{"До"}) {
		t.Fatalf("got %+v, want the edit current and the original earlier", msgs)
	}
}

// TestEditNamesOnlyItsSendersMessage: an edit that names another contact's
// message (the same provider id, from another sender) never changes it: it
// is stored for its own sender as an edit of an unknown message.
func TestEditNamesOnlyItsSendersMessage(t *testing.T) {
	ctx := context.Background()
	db, k, _ := MustOpen(t, false)
	svc := intake.New(db, k, noGreeting())
	orig := text("1", "79990000001", "оригинал")
	orig.MessageRef = "wamid.SAME"
	edit := text("2", "79990000002", "подмена")
	edit.Type, edit.MessageRef = channel.EventEdit, "wamid.SAME"
	if err := svc.Receive(ctx, lifeline.ChannelWhatsApp, "wa", []channel.Event{orig, edit}); err != nil {
		t.Fatal(err)
	}
	id, err := db.FindContact(ctx, lifeline.ChannelWhatsApp, "79990000001")
	if err != nil {
		t.Fatal(err)
	}
	msgs := contactMessages(t, db, id)
	if len(msgs) != 1 || msgs[0].Text.Reveal() != "оригинал" || msgs[0].Edited {
		t.Fatalf("the first sender's message: %+v; want it unchanged", msgs)
	}
	if got := mustCount(t, db); got.Messages != 2 || got.Contacts != 2 {
		t.Fatalf("got %+v, want the edit stored for its own sender", got)
	}
}

// TestEditedMessageErasedWithItsContact: the retention sweep erases an
// abandoned contact whose message was edited, versions and all.
func TestEditedMessageErasedWithItsContact(t *testing.T) {
	ctx := context.Background()
	db, k, _ := MustOpen(t, false)
	h := newHook(t, db, k, noGreeting())
	h.post(tgMessage("message", 700000041, tgChat, 3, 0, "раз"))
	h.post(tgMessage("edited_message", 700000042, tgChat, 3, 1782000500, "два"))
	got, err := db.Sweep(ctx, sqlstore.Retention{DedupeDays: 7, SessionDays: 7, AbandonedDays: -1, ClosedDays: 90})
	if err != nil {
		t.Fatal(err)
	}
	if got.Contacts != 1 {
		t.Fatalf("swept %+v, want the contact erased", got)
	}
	if c := mustCount(t, db); c.Messages != 0 || c.Contacts != 0 {
		t.Fatalf("got %+v after erasure, want nothing left", c)
	}
	// An edit of the erased message is now an edit of an unknown one.
	h.post(tgMessage("edited_message", 700000043, tgChat, 3, 1782000600, "три"))
	in := inboundOnly(conversation(t, db, fmt.Sprint(tgChat)))
	if len(in) != 1 || !in[0].OriginalMissing || len(in[0].Earlier) != 0 {
		t.Fatalf("got %+v, want a new message marked as an edit, nothing of the erased one", in)
	}
}

func inboundOnly(msgs []sqlstore.ConversationMessage) []sqlstore.ConversationMessage {
	var out []sqlstore.ConversationMessage
	for _, m := range msgs {
		if m.Direction == lifeline.Inbound {
			out = append(out, m)
		}
	}
	return out
}

// TestWhatsAppEditReplacesText: Meta's edit message (sent for numbers
// shared with the WhatsApp Business app) names the message edited by its
// wamid; through the real webhook handler it changes that message, the
// earlier text kept, and its redelivery changes nothing more.
func TestWhatsAppEditReplacesText(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	const appSecret = "edit-test-app-secret"
	a, err := whatsapp.New(whatsapp.Config{Name: "wa", PhoneNumberID: "106540352242922", AccessToken: "edit-test-access-token",
		AppSecret: appSecret, VerifyToken: "edit-test-verify"}, channeltest.LoopbackClient())
	if err != nil {
		t.Fatal(err)
	}
	h := channeltest.Mux(channel.NewHandler(slog.New(slog.DiscardHandler), channel.NewRegistry(a), intake.New(db, k, noGreeting()), db, nil))
	post := func(fixture string) {
		t.Helper()
		body, err := os.ReadFile(filepath.Join("..", "channel", "whatsapp", "testdata", fixture))
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, []byte(appSecret))
		mac.Write(body)
		req := httptest.NewRequest(http.MethodPost, "/hooks/whatsapp/wa", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: webhook answered %d", fixture, rec.Code)
		}
	}
	post("text.json")
	post("edit.json")
	post("edit.json")
	id, err := db.FindContact(context.Background(), lifeline.ChannelWhatsApp, "15550100001")
	if err != nil {
		t.Fatal(err)
	}
	msgs := contactMessages(t, db, id)
	if len(msgs) != 1 || msgs[0].Text.Reveal() != "Hello, we are three. How?" || !msgs[0].Edited ||
		!slices.Equal(texts(msgs[0].Earlier), []string{"Hello, I want to surrender. How?"}) {
		t.Fatalf("got %+v, want the one message edited, its first text earlier", msgs)
	}
}

// TestSharedLocationKeepsCoordinates: a location a soldier shares is the
// message: its coordinates, as sent, are its (sealed) text, with a place's
// name and address after them (a Telegram venue, a WhatsApp location with
// a name); a live location's moves are edits, his latest position current
// and the earlier ones kept.
func TestSharedLocationKeepsCoordinates(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	h := newHook(t, db, k, noGreeting())
	loc := func(field string, update, messageID, editDate int64, lat, lon, extra string) string {
		edit := ""
		if editDate != 0 {
			edit = fmt.Sprintf(`,"edit_date":%d`, editDate)
		}
		return fmt.Sprintf(`{"update_id":%d,%q:{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"Алексей"},`+
			`"chat":{"id":%d,"type":"private"},"date":1782000101%s,"location":{"latitude":%s,"longitude":%s}%s}}`,
			update, field, messageID, tgChat, tgChat, edit, lat, lon, extra)
	}
	h.post(loc("message", 700000301, 31, 0, "48.123456", "37.654321", ""))
	h.post(loc("message", 700000302, 32, 0, "48.5", "37.75",
		`,"venue":{"location":{"latitude":48.5,"longitude":37.75},"title":"Школа №3","address":"ул. Садовая, 1"}`))
	h.post(loc("message", 700000303, 33, 0, "48.0001", "37.0001", `,"live_period":900`))
	h.post(loc("edited_message", 700000304, 33, 1782000160, "48.0002", "37.0003", `,"live_period":900`))
	h.post(loc("edited_message", 700000305, 33, 1782000220, "48.0004", "37.0005", `,"live_period":900`))

	msgs := conversation(t, db, fmt.Sprint(tgChat))
	if len(msgs) != 3 {
		t.Fatalf("got %d messages, want the three locations", len(msgs))
	}
	want := []string{"48.123456, 37.654321", "48.5, 37.75\nШкола №3\nул. Садовая, 1", "48.0004, 37.0005"}
	for i, m := range msgs {
		if m.Kind != "location" || m.Text.Reveal() != want[i] {
			t.Errorf("location %d: %s %q, want %q", i, m.Kind, m.Text.Reveal(), want[i])
		}
	}
	if got := texts(msgs[2].Earlier); strings.Join(got, " | ") != "48.0001, 37.0001 | 48.0002, 37.0003" {
		t.Errorf("the live location's earlier positions: %q", got)
	}
}
