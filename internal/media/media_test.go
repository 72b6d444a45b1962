// SPDX-License-Identifier: AGPL-3.0-or-later

package media_test

import (
	"archive/zip"
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/telegram"
	"github.com/lifeline-hotline/lifeline/internal/channel/twilio"
	"github.com/lifeline-hotline/lifeline/internal/channel/whatsapp"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/media"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

const (
	tgToken    = "7000000001:AAHtestTOKENdoNotUse-abcdefghijklmnop"
	tgSecret   = "s3cret_Token-for-tests_0123456789"
	waPhoneID  = "106540352242922"
	waToken    = "EAAtestACCESStokenMUSTneverLEAK0123456789"
	twSID      = "AC5f0e3a2b7c9d4e1f8a6b0c2d4e6f8a1b"
	twToken    = "9c1d7e3f5a2b4c6d8e0f1a3b5c7d9e2f"
	twNumber   = "+447700900123"
	senderTG   = "100000001"
	senderWA   = "79990001122"
	senderSMS  = "+79990001122"
	secretText = "my unit's position"
)

type env struct {
	t      *testing.T
	db     *sqlstore.DB
	k      *keys.Keeper
	reg    *channel.Registry
	w      *media.Worker
	svc    *intake.Service
	unseal string
	dir    string

	mu   sync.Mutex
	now  time.Time
	msgs []lifeline.MessageID
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.unseal = filepath.Join(e.dir, "unseal")
	if _, err := keys.Init(filepath.Join(e.dir, "keys"), keys.Options{DevFile: e.unseal}); err != nil {
		t.Fatal(err)
	}
	k, err := keys.Open(filepath.Join(e.dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.UnsealWithFile(e.unseal); err != nil {
		t.Fatal(err)
	}
	e.k = k
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(e.dir, "db"), sqlstore.Options{Sealer: k, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.db = db
	e.reg = channel.NewRegistry()
	e.w = &media.Worker{DB: db, Channels: e.reg}
	e.svc = intake.New(db, k, intake.Config{Greetings: map[lifeline.ChannelKind]string{}, Notify: func(ns []intake.Notice) {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, n := range ns {
			e.msgs = append(e.msgs, n.Message)
		}
	}})
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *env) telegram() *channeltest.TelegramFake {
	f := channeltest.NewTelegramFake(tgToken)
	e.t.Cleanup(f.Close)
	a, err := telegram.New(telegram.Config{Name: "main", BotToken: tgToken, WebhookSecret: tgSecret, APIURL: f.URL()}, channeltest.LoopbackClient())
	if err != nil {
		e.t.Fatal(err)
	}
	e.reg.Add(a)
	return f
}

func (e *env) whatsapp() *channeltest.WhatsAppFake {
	f := channeltest.NewWhatsAppFake(waPhoneID, waToken)
	e.t.Cleanup(f.Close)
	a, err := whatsapp.New(whatsapp.Config{Name: "wa1", PhoneNumberID: waPhoneID, AccessToken: waToken,
		AppSecret: "test-app-secret-3b9f0c1e", VerifyToken: "test-verify-token", APIURL: f.APIURL()}, channeltest.LoopbackClient())
	if err != nil {
		e.t.Fatal(err)
	}
	e.reg.Add(a)
	return f
}

func (e *env) twilio() *channeltest.TwilioFake {
	f := channeltest.NewTwilioFake(twSID, twToken)
	e.t.Cleanup(f.Close)
	a, err := twilio.NewSMS(twilio.Config{Name: "hotline", AccountSID: twSID, AuthToken: twToken, Number: twNumber,
		PublicURL: "https://hotline.example", APIURL: f.URL()}, channeltest.LoopbackClient())
	if err != nil {
		e.t.Fatal(err)
	}
	e.reg.Add(a)
	return f
}

// receive stores one message event carrying media and returns its id.
func (e *env) receive(kind lifeline.ChannelKind, name, sender string, mk channel.MessageKind, ms ...channel.Media) lifeline.MessageID {
	e.t.Helper()
	e.mu.Lock()
	n := len(e.msgs)
	e.mu.Unlock()
	ev := channel.Event{ID: "ev-" + lifeline.NewID().String(), Type: channel.EventMessage, Kind: mk,
		Sender: lifeline.Sensitive(sender), Text: secretText, Media: ms, ProviderMessageID: "pm-" + lifeline.NewID().String()}
	if err := e.svc.Receive(context.Background(), kind, name, []channel.Event{ev}); err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.msgs) != n+1 {
		e.t.Fatalf("intake stored %d messages, want 1", len(e.msgs)-n)
	}
	return e.msgs[n]
}

// run runs the worker once and returns the message's media, read back.
func (e *env) run(msg lifeline.MessageID) []sqlstore.Media {
	e.t.Helper()
	if _, err := e.w.RunOnce(context.Background()); err != nil {
		e.t.Fatalf("RunOnce: %v", err)
	}
	return e.mediaOf(msg)
}

func (e *env) mediaOf(msg lifeline.MessageID) []sqlstore.Media {
	e.t.Helper()
	list, err := e.db.MessageMedia(context.Background(), msg)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []sqlstore.Media
	for _, m := range list {
		full, err := e.db.Media(context.Background(), m.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, *full)
	}
	return out
}

func testJPEG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		img.Set(x, x%48, color.RGBA{200, 10, 10, 255})
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mustContainNone fails if any live file of the store holds needle.
func (e *env) mustNotHold(what string, needle []byte) {
	e.t.Helper()
	if err := e.db.CheckpointWAL(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "db*"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			e.t.Fatal(err)
		}
		if bytes.Contains(raw, needle) {
			e.t.Fatalf("%s: %s holds the plaintext", what, filepath.Base(f))
		}
	}
}

func TestWhatsAppJPEGStoredSealedAndDeleted(t *testing.T) {
	e := setup(t)
	f := e.whatsapp()
	jpg := testJPEG(t)
	f.AddMedia("1003383421387256", "image/jpeg", jpg)
	msg := e.receive(lifeline.ChannelWhatsApp, "wa1", senderWA, channel.KindPhoto, channel.Media{ProviderID: "1003383421387256", MIME: "image/jpeg"})

	got := e.run(msg)
	if len(got) != 1 || got[0].State != sqlstore.MediaStored || got[0].MIME != "image/jpeg" || got[0].Size != int64(len(jpg)) || got[0].Kind != "photo" {
		t.Fatalf("media %+v, want one stored JPEG", got)
	}
	if !bytes.Equal(got[0].Data, jpg) {
		t.Fatal("stored bytes differ from the file")
	}
	if d := f.DeletedMedia(); len(d) != 1 || d[0] != "1003383421387256" {
		t.Fatalf("deleted at Meta %q, want the media id", d)
	}
	// Done: a second run has nothing to do.
	if n, err := e.w.RunOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("second run claimed %d, %v", n, err)
	}
	// Sealed at rest: neither the bytes nor the provider's id are on disk.
	e.mustNotHold("jpeg", jpg[len(jpg)/2:len(jpg)/2+64])
	e.mustNotHold("media id", []byte("1003383421387256"))
}

func TestTelegramFetchedNotDeleted(t *testing.T) {
	e := setup(t)
	f := e.telegram()
	jpg := testJPEG(t)
	f.AddFile("AgACAgIAAxkBAAIBZ2ZpaG90bw", jpg)
	msg := e.receive(lifeline.ChannelTelegram, "main", senderTG, channel.KindPhoto, channel.Media{ProviderID: "AgACAgIAAxkBAAIBZ2ZpaG90bw"})
	got := e.run(msg)
	if len(got) != 1 || got[0].State != sqlstore.MediaStored || !bytes.Equal(got[0].Data, jpg) {
		t.Fatalf("media %+v, want the JPEG stored", got)
	}
}

func TestTwilioMMSDeletedAtProvider(t *testing.T) {
	e := setup(t)
	f := e.twilio()
	sid := channeltest.TwilioSID("MM")
	jpg := testJPEG(t)
	u1 := f.AddMedia(sid, "image/jpeg", jpg)
	u2 := f.AddMedia(sid, "application/zip", zipFile(t))
	msg := e.receive(lifeline.ChannelSMS, "hotline", senderSMS, channel.KindPhoto,
		channel.Media{ProviderID: u1, MIME: "image/jpeg"}, channel.Media{ProviderID: u2, MIME: "application/zip"})
	got := e.run(msg)
	if len(got) != 2 || got[0].State != sqlstore.MediaStored || got[1].State != sqlstore.MediaRejected || got[1].Data != nil {
		t.Fatalf("media %+v, want the JPEG stored and the zip rejected", got)
	}
	deleted := strings.Join(f.Deleted(), " ")
	for _, want := range []string{strings.TrimPrefix(u1, f.URL()), strings.TrimPrefix(u2, f.URL()), "/Messages/" + sid + ".json"} {
		if !strings.Contains(deleted, want) {
			t.Errorf("deleted at Twilio %q, want %s among them", deleted, want)
		}
	}
}

func zipFile(t testing.TB) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, _ := z.Create("photo.jpg")
	w.Write([]byte("not really"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestHostileFilesRejected(t *testing.T) {
	jpg := testJPEG(t)
	for _, tt := range []struct {
		name   string
		data   []byte
		reason string
	}{
		{"png bomb 50k×50k", pngHeader(50000, 50000), media.ReasonPixels},
		{"windows executable", append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 200)...), media.ReasonType},
		{"elf executable", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 200)...), media.ReasonType},
		{"zip", zipFile(t), media.ReasonType},
		{"truncated jpeg", jpg[:len(jpg)*2/3], media.ReasonMalformed},
		{"html claiming jpeg", []byte("<html><script>alert(1)</script></html>"), media.ReasonType},
		{"empty", nil, media.ReasonEmpty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			f := e.whatsapp()
			f.AddMedia("777", "image/jpeg", tt.data)
			msg := e.receive(lifeline.ChannelWhatsApp, "wa1", senderWA, channel.KindPhoto, channel.Media{ProviderID: "777", MIME: "image/jpeg"})
			got := e.run(msg)
			if len(got) != 1 || got[0].State != sqlstore.MediaRejected || got[0].Reason != tt.reason || got[0].Data != nil {
				t.Fatalf("media %+v, want rejected: %s", got, tt.reason)
			}
			// Rejected files go at the provider too.
			if d := f.DeletedMedia(); len(d) != 1 {
				t.Fatalf("deleted %q", d)
			}
		})
	}
}

// endless is a Telegram-like adapter whose file never ends.
type endless struct {
	channel.Adapter
	read     atomic.Int64
	announce int64
}

func (a *endless) Kind() lifeline.ChannelKind { return lifeline.ChannelTelegram }
func (a *endless) Name() string               { return "main" }
func (a *endless) GetFile(context.Context, string) (io.ReadCloser, int64, error) {
	return io.NopCloser(readerFunc(func(p []byte) (int, error) {
		a.read.Add(int64(len(p)))
		clear(p)
		return len(p), nil
	})), a.announce, nil
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestOversizeNotReadPastCap(t *testing.T) {
	for _, announce := range []int64{-1, 11 << 20} {
		e := setup(t)
		a := &endless{announce: announce}
		e.reg.Add(a)
		msg := e.receive(lifeline.ChannelTelegram, "main", senderTG, channel.KindPhoto, channel.Media{ProviderID: "AgACbig"})
		got := e.run(msg)
		if len(got) != 1 || got[0].State != sqlstore.MediaFailed || got[0].Reason != media.ReasonTooLarge {
			t.Fatalf("announce %d: media %+v, want failed: too large", announce, got)
		}
		if n := a.read.Load(); n > media.MaxImageBytes+1+32<<10 {
			t.Fatalf("announce %d: read %d bytes, past the photo cap", announce, n)
		}
		if announce > 0 && a.read.Load() != 0 {
			t.Fatalf("read %d bytes of a file announced too big", a.read.Load())
		}
	}
	// Announced by the provider in the event: not even asked for.
	e := setup(t)
	f := e.whatsapp()
	f.AddMedia("778", "video/mp4", []byte("x"))
	msg := e.receive(lifeline.ChannelWhatsApp, "wa1", senderWA, channel.KindVideo, channel.Media{ProviderID: "778", MIME: "video/mp4", Size: media.MaxBytes + 1})
	if got := e.run(msg); got[0].State != sqlstore.MediaFailed || got[0].Reason != media.ReasonTooLarge {
		t.Fatalf("media %+v", got)
	}
}

func TestSealedWaits(t *testing.T) {
	e := setup(t)
	f := e.whatsapp()
	jpg := testJPEG(t)
	f.AddMedia("779", "image/jpeg", jpg)
	e.k.Seal()
	// Intake goes on while sealed.
	msg := e.receive(lifeline.ChannelWhatsApp, "wa1", senderWA, channel.KindPhoto, channel.Media{ProviderID: "779"})
	for range 20 { // never counted against the file
		e.w.RunOnce(context.Background())
		e.advance(10 * time.Second)
	}
	if d := f.DeletedMedia(); len(d) != 0 {
		t.Fatal("deleted at the provider while sealed")
	}
	if err := e.k.UnsealWithFile(e.unseal); err != nil {
		t.Fatal(err)
	}
	if got := e.run(msg); len(got) != 1 || got[0].State != sqlstore.MediaStored || !bytes.Equal(got[0].Data, jpg) {
		t.Fatalf("media %+v, want stored after the unseal", got)
	}
	if d := f.DeletedMedia(); len(d) != 1 {
		t.Fatalf("deleted %q", d)
	}
}

// flaky fails its first fetches, then serves.
type flaky struct {
	channel.Adapter
	fails int
	data  []byte
}

func (a *flaky) Kind() lifeline.ChannelKind { return lifeline.ChannelTelegram }
func (a *flaky) Name() string               { return "main" }
func (a *flaky) Fetch(context.Context, string, int64) ([]byte, string, error) {
	if a.fails > 0 {
		a.fails--
		return nil, "", io.ErrUnexpectedEOF
	}
	return bytes.Clone(a.data), "", nil
}

func TestRetryWithBackoff(t *testing.T) {
	e := setup(t)
	a := &flaky{fails: 2, data: testJPEG(t)}
	e.reg.Add(a)
	msg := e.receive(lifeline.ChannelTelegram, "main", senderTG, channel.KindPhoto, channel.Media{ProviderID: "AgACflaky"})
	if got := e.run(msg); got[0].State != sqlstore.MediaPending {
		t.Fatalf("after a failure: %+v", got)
	}
	if n, _ := e.w.RunOnce(context.Background()); n != 0 {
		t.Fatal("retried before its backoff")
	}
	for range 3 {
		e.advance(time.Hour)
		e.w.RunOnce(context.Background())
	}
	if got := e.mediaOf(msg); got[0].State != sqlstore.MediaStored {
		t.Fatalf("after retries: %+v", got)
	}
}

func TestShredCaseRemovesMedia(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	f := e.whatsapp()
	jpg := testJPEG(t)
	f.AddMedia("780", "image/jpeg", jpg)
	f.AddMedia("781", "image/jpeg", jpg)
	c := &lifeline.Case{ID: lifeline.NewCaseID(), CodeName: "KESTREL-4821", Stream: lifeline.StreamSurrender, Status: lifeline.CaseRegistered, CreatedDay: lifeline.DayOf(e.clock())}
	if err := e.db.CreateCase(ctx, lifeline.CLIActor, c); err != nil {
		t.Fatal(err)
	}
	if err := e.db.CreateContact(ctx, &lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelWhatsApp, Handle: senderWA, CaseID: c.ID}); err != nil {
		t.Fatal(err)
	}
	msg := e.receive(lifeline.ChannelWhatsApp, "wa1", senderWA, channel.KindPhoto, channel.Media{ProviderID: "780"})
	got := e.run(msg)
	if len(got) != 1 || got[0].State != sqlstore.MediaStored {
		t.Fatalf("media %+v", got)
	}
	// A second file still queued when the case is shredded.
	msg2 := e.receive(lifeline.ChannelWhatsApp, "wa1", senderWA, channel.KindPhoto, channel.Media{ProviderID: "781"})
	if err := e.db.ShredCase(ctx, lifeline.CLIActor, c.ID, "test: erasure requested"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Media(ctx, got[0].ID); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Fatalf("media after shred: %v, want ENOTFOUND", err)
	}
	if l, _ := e.db.MessageMedia(ctx, msg2); len(l) != 0 {
		t.Fatalf("queued media after shred: %+v", l)
	}
	if n, err := e.w.RunOnce(ctx); n != 0 || err != nil {
		t.Fatalf("worker claimed %d jobs, %v after shred", n, err)
	}
	e.mustNotHold("jpeg", jpg[len(jpg)/2:len(jpg)/2+64])
}

func TestOutboxDoesNotClaimMediaJobs(t *testing.T) {
	e := setup(t)
	e.whatsapp().AddMedia("782", "image/jpeg", testJPEG(t))
	e.receive(lifeline.ChannelWhatsApp, "wa1", senderWA, channel.KindPhoto, channel.Media{ProviderID: "782"})
	jobs, err := e.db.ClaimJobs(context.Background(), time.Minute, 10)
	if err != nil || len(jobs) != 0 {
		t.Fatalf("outbox claimed %d jobs (%v), want none: media jobs are the media worker's", len(jobs), err)
	}
}

// A Telegram photo getFile announces small and that is over the cap is
// too large, not a transient failure to retry (HOSTILE-INPUTS G-06, G-08).
func TestTelegramLyingSize(t *testing.T) {
	e := setup(t)
	f := e.telegram()
	big := make([]byte, media.MaxImageBytes+1)
	copy(big, testJPEG(t))
	f.AddFileAt("AgAClies", "photos/file_1.jpg", 100, big)
	msg := e.receive(lifeline.ChannelTelegram, "main", senderTG, channel.KindPhoto, channel.Media{ProviderID: "AgAClies"})
	if got := e.run(msg); len(got) != 1 || got[0].State != sqlstore.MediaFailed || got[0].Reason != media.ReasonTooLarge {
		t.Fatalf("media %+v, want failed: too large", got)
	}
	if n, _ := e.w.RunOnce(context.Background()); n != 0 {
		t.Fatal("retried")
	}
}

// TestTwilioMMSThroughAPIBase is issue 10 item 2: with the channel's API
// base pointing at the fake (as --api-url does), a signed MMS whose
// MediaUrl0 is on api.twilio.com goes through the real webhook handler and
// its photo is fetched from the base and stored; a file on another host
// is not fetched, and the message records that it arrived and was
// refused, and why, without its URL.
func TestTwilioMMSThroughAPIBase(t *testing.T) {
	e := setup(t)
	f := e.twilio()
	hook := channeltest.Mux(channel.NewHandler(slog.New(slog.DiscardHandler), e.reg, e.svc, nil, nil))
	post := func(form url.Values) lifeline.MessageID {
		t.Helper()
		e.mu.Lock()
		n := len(e.msgs)
		e.mu.Unlock()
		rec := httptest.NewRecorder()
		hook.ServeHTTP(rec, channeltest.TwilioRequest(twToken, "https://hotline.example", "/hooks/sms/hotline/sms", form.Encode()))
		if rec.Code != 200 {
			t.Fatalf("webhook: status %d", rec.Code)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if len(e.msgs) != n+1 {
			t.Fatalf("stored %d messages, want 1", len(e.msgs)-n)
		}
		return e.msgs[n]
	}
	mms := func(mediaURL string) url.Values {
		return channeltest.TwilioSMSForm(channeltest.TwilioSMS{AccountSID: twSID, MessageSID: channeltest.TwilioSID("MM"), From: senderSMS, To: twNumber,
			Media: []channeltest.TwilioMedia{{URL: mediaURL, ContentType: "image/jpeg"}}})
	}

	jpg := testJPEG(t)
	sid := channeltest.TwilioSID("MM")
	onTwilio := "https://api.twilio.com" + strings.TrimPrefix(f.AddMedia(sid, "image/jpeg", jpg), f.URL())
	form := mms(onTwilio)
	form.Set("MessageSid", sid)
	msg := post(form)
	got := e.run(msg)
	if len(got) != 1 || got[0].State != sqlstore.MediaStored || !bytes.Equal(got[0].Data, jpg) || got[0].Kind != "photo" {
		t.Fatalf("media %+v, want the photo fetched through the API base and stored", got)
	}
	if d := strings.Join(f.Deleted(), " "); !strings.Contains(d, "/Messages/"+sid+"/Media/") {
		t.Errorf("deleted at the fake %q, want the media", d)
	}

	refused := "https://media.evil.example/2010-04-01/Accounts/" + twSID + "/Messages/" + sid + "/Media/ME1"
	msg = post(mms(refused))
	got = e.run(msg)
	if len(got) != 1 || got[0].State != sqlstore.MediaFailed || got[0].Reason != channel.MediaRefusedHost || got[0].Kind != "photo" || got[0].Data != nil {
		t.Fatalf("media %+v, want one photo recorded as refused: %s", got, channel.MediaRefusedHost)
	}
	e.mustNotHold("refused URL", []byte("media.evil.example"))
}
