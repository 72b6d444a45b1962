// SPDX-License-Identifier: AGPL-3.0-or-later

package media_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"golang.org/x/mod/sumdb/tlog"
)

// photoHook is the real webhook handler in front of intake (with limits,
// on the env's clock) and the env's store, with the Telegram channel
// "main" on a fake Bot API that holds the photos.
type photoHook struct {
	e       *env
	f       *channeltest.TelegramFake
	svc     *intake.Service
	handler http.Handler
	jpg     []byte
}

func newPhotoHook(e *env, limits intake.Limits) *photoHook {
	f := e.telegram()
	svc := intake.New(e.db, e.k, intake.Config{Now: e.clock, Limits: limits, Greetings: map[lifeline.ChannelKind]string{}})
	h := channel.NewHandler(slog.New(slog.DiscardHandler), e.reg, svc, e.db, nil)
	return &photoHook{e: e, f: f, svc: svc, handler: channeltest.Mux(h), jpg: testJPEG(e.t)}
}

// photo sends photo i from chat as Telegram does (a private-chat message
// with two sizes of one photo and a caption), and wants the 200.
func (h *photoHook) photo(chat int64, i int) {
	h.e.t.Helper()
	small, large := fmt.Sprintf("AgACAgIAAxkBAAI%dx%da", chat, i), fmt.Sprintf("AgACAgIAAxkBAAI%dx%db", chat, i)
	h.f.AddFile(small, h.jpg)
	h.f.AddFile(large, h.jpg)
	body := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"Иван"},`+
		`"chat":{"id":%d,"first_name":"Иван","type":"private"},"date":%d,`+
		`"photo":[{"file_id":%q,"file_unique_id":"AQADs%d","width":90,"height":90,"file_size":500},`+
		`{"file_id":%q,"file_unique_id":"AQADl%d","width":1280,"height":1280,"file_size":%d}],"caption":"документ стр. %d"}}`,
		900000+i, 10+i, chat, chat, h.e.clock().Unix(), small, i, large, i, len(h.jpg), i+1)
	req := httptest.NewRequest(http.MethodPost, "/hooks/telegram/main", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", tgSecret)
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		h.e.t.Fatalf("webhook answered %d: %s", rec.Code, rec.Body)
	}
}

// drain runs the media worker until it has nothing due.
func (e *env) drain() {
	e.t.Helper()
	for range 100 {
		n, err := e.w.RunOnce(context.Background())
		if err != nil {
			e.t.Fatalf("RunOnce: %v", err)
		}
		if n == 0 {
			return
		}
	}
	e.t.Fatal("the media worker never ran dry")
}

// chatMedia lists the media of chat's one conversation, in the order they
// came, and the conversation.
func (e *env) chatMedia(chat int64) ([]sqlstore.Media, lifeline.ConversationID) {
	e.t.Helper()
	ctx := context.Background()
	contact, err := e.db.FindContact(ctx, lifeline.ChannelTelegram, fmt.Sprint(chat))
	if err != nil {
		e.t.Fatal(err)
	}
	convs, err := e.db.Conversations(ctx, 100, "")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range convs {
		if c.ContactID == contact {
			ms, err := e.db.ConversationMedia(ctx, c.ID)
			if err != nil {
				e.t.Fatal(err)
			}
			return ms, c.ID
		}
	}
	e.t.Fatal("no conversation")
	return nil, ""
}

func countStates(ms []sqlstore.Media) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[m.State]++
	}
	return out
}

// TestPhotosPastDailyBudgetFetchedLaterAllStored: finding 3. A soldier
// sends 24 photos at a human pace, one every 4 s, through the real
// Telegram webhook. The first 20 are fetched at once; the 4 past the daily
// media budget are deferred, not lost: the media worker fetches them later,
// one a MediaPace (a minute), and all 24 end up stored.
func TestPhotosPastDailyBudgetFetchedLaterAllStored(t *testing.T) {
	e := setup(t)
	h := newPhotoHook(e, intake.Limits{})
	const chat = 8300000001
	for i := range 24 {
		h.photo(chat, i)
		e.drain()
		e.advance(4 * time.Second)
	}
	ms, _ := e.chatMedia(chat)
	if len(ms) != 24 {
		t.Fatalf("got %d media, want 24", len(ms))
	}
	got := countStates(ms)
	// 20 at once; of the 4 deferred, the first was due at once and the
	// next one a minute later: the pace holds them back.
	if got[sqlstore.MediaStored] < 20 || got[sqlstore.MediaStored] > 22 || got[sqlstore.MediaDeferred] < 2 {
		t.Fatalf("right after the photos: %v; want the first 20 stored and the deferred ones spaced", got)
	}
	for _, m := range ms[:20] {
		if m.State != sqlstore.MediaStored {
			t.Fatalf("a photo within budget is %s, want stored", m.State)
		}
	}
	for _, m := range ms[20:] {
		if m.State == sqlstore.MediaDeferred && m.Reason != sqlstore.SkippedMediaBudget {
			t.Fatalf("deferred photo's reason %q, want %q", m.Reason, sqlstore.SkippedMediaBudget)
		}
	}
	for range 5 {
		e.advance(time.Minute)
		e.drain()
	}
	ms, _ = e.chatMedia(chat)
	if got := countStates(ms); got[sqlstore.MediaStored] != 24 {
		t.Fatalf("five minutes on: %v; want all 24 stored", got)
	}
	for i, m := range ms {
		full, err := e.db.Media(context.Background(), m.ID)
		if err != nil || !bytes.Equal(full.Data, h.jpg) {
			t.Fatalf("photo %d: %v; want the JPEG stored", i, err)
		}
	}
	if st := h.svc.Stats(); st.MediaSkipped != 4 {
		t.Fatalf("stats %+v, want 4 media not fetched at once", st)
	}
}

// TestReleaseFromQuarantineFetchesItsMedia: a photo of a message past the
// storage cap is skipped while its message is held; releasing the
// quarantine queues it, and the media worker stores it.
func TestReleaseFromQuarantineFetchesItsMedia(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	h := newPhotoHook(e, intake.Limits{StorePerHour: 2})
	const chat = 8300000002
	for i := range 3 {
		h.photo(chat, i)
	}
	e.drain()
	ms, conv := e.chatMedia(chat)
	if got := countStates(ms); got[sqlstore.MediaStored] != 2 || got[sqlstore.MediaSkipped] != 1 || ms[2].Reason != sqlstore.SkippedQuarantined {
		t.Fatalf("before release: %v (last %q); want 2 stored, 1 skipped for quarantine", got, ms[2].Reason)
	}
	// Held, it cannot be fetched even on an operator's word.
	op := lifeline.Actor{ID: "op-olena", Role: lifeline.RoleIntake}
	if err := e.db.FetchMediaNow(ctx, op, ms[2].ID); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Fatalf("fetch now of a quarantined photo: got %v, want ECONFLICT", err)
	}
	if n, err := e.db.ReleaseQuarantined(ctx, op, conv); err != nil || n != 1 {
		t.Fatalf("release: %d, %v; want 1", n, err)
	}
	e.drain()
	ms, _ = e.chatMedia(chat)
	if got := countStates(ms); got[sqlstore.MediaStored] != 3 {
		t.Fatalf("after release: %v; want all 3 stored", got)
	}
}

// TestFetchNowFetchesDeferredPhotoAndIsAudited: an operator's "fetch now"
// on a deferred photo has it fetched at once, ahead of its place in the
// pace, and is audited with the file as the object; a stored file cannot
// be fetched again.
func TestFetchNowFetchesDeferredPhotoAndIsAudited(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	h := newPhotoHook(e, intake.Limits{MediaPerDay: 1})
	const chat = 8300000003
	for i := range 4 {
		h.photo(chat, i)
	}
	e.drain()
	ms, _ := e.chatMedia(chat)
	// One within budget, one deferred due at once, two a minute apart.
	if got := countStates(ms); got[sqlstore.MediaStored] != 2 || got[sqlstore.MediaDeferred] != 2 {
		t.Fatalf("before: %v; want 2 stored, 2 deferred", got)
	}
	last := ms[3]
	op := lifeline.Actor{ID: "op-olena", Role: lifeline.RoleIntake}
	if err := e.db.FetchMediaNow(ctx, op, last.ID); err != nil {
		t.Fatalf("fetch now: %v", err)
	}
	e.drain()
	ms, _ = e.chatMedia(chat)
	if ms[3].State != sqlstore.MediaStored || ms[2].State != sqlstore.MediaDeferred {
		t.Fatalf("after fetch now: %q and %q; want the asked-for photo stored, the other still deferred", ms[3].State, ms[2].State)
	}
	if err := e.db.FetchMediaNow(ctx, op, last.ID); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Fatalf("fetch now of a stored photo: got %v, want ECONFLICT", err)
	}
	if err := e.db.FetchMediaNow(ctx, op, lifeline.NewID()); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Fatalf("fetch now of no file: got %v, want ENOTFOUND", err)
	}
	var fetched []string
	err := e.db.AuditLog().Entries(ctx, func(en audit.Entry, _ tlog.Hash) error {
		if en.Action == "media.fetch" {
			fetched = append(fetched, en.Actor+" "+en.Object+" "+string(en.Decision))
		}
		return nil
	})
	object, oerr := e.db.AuditObject(string(last.ID))
	if oerr != nil {
		t.Fatal(oerr)
	}
	if err != nil || len(fetched) == 0 || fetched[0] != "op-olena "+object+" "+string(audit.DecisionAllow) {
		t.Fatalf("audited %q, %v; want op-olena's fetch of the photo first", fetched, err)
	}
}
