// SPDX-License-Identifier: AGPL-3.0-or-later

// Package media fetches the files contacts send (SECURITY.md §2.13): at
// once, from the provider, into memory only; checks them by magic bytes,
// structure and size (Check); stores what is allowed sealed under the
// contact's conversation key; and then deletes the provider's copy where
// its API allows (WhatsApp media, Twilio media and the MMS record; the
// Telegram Bot API cannot). Nothing is decoded, extracted or executed here,
// and no plaintext is written anywhere: the bytes are sealed before they
// reach the store and zeroed after.
//
// The work is durable jobs like the outbox's (internal/outbox): claimed
// with a lease, retried with backoff, waiting without cost while the
// server is sealed. Only files an event carries as Media are fetched:
// profile photos and avatars never are.
package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/outbox"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/wake"
)

// Channels finds the adapter of a configured channel; *channel.Registry is
// one.
type Channels interface {
	Lookup(kind lifeline.ChannelKind, name string) (channel.Adapter, bool)
}

// A Fetcher downloads a file the provider holds, reading at most limit
// bytes: a larger file is an error, never a truncated file. mime is the
// provider's claim, which nothing trusts.
type Fetcher interface {
	Fetch(ctx context.Context, providerID string, limit int64) (data []byte, mime string, err error)
}

// A Deleter deletes the provider's copy of a file once it is handled.
type Deleter interface {
	Delete(ctx context.Context, providerID string) error
}

// The adapters' own methods, as the providers' packages spell them.
type (
	// whatsapp.Adapter, twilio.SMS
	mediaFetcher interface {
		FetchMedia(ctx context.Context, id string, limit int64) ([]byte, string, error)
	}
	// telegram.Adapter
	fileGetter interface {
		GetFile(ctx context.Context, fileID string) (io.ReadCloser, int64, error)
	}
	// whatsapp.Adapter, twilio.SMS
	mediaDeleter interface {
		DeleteMedia(ctx context.Context, id string) error
	}
	// twilio.SMS
	messageDeleter interface {
		DeleteMessage(ctx context.Context, sid string) error
	}
)

// FetcherFor returns how to fetch a channel's files; false if it cannot.
func FetcherFor(a channel.Adapter) (Fetcher, bool) {
	switch a := a.(type) {
	case Fetcher:
		return a, true
	case mediaFetcher:
		return fetchFunc(a.FetchMedia), true
	case fileGetter:
		return telegramFetcher{a}, true
	}
	return nil, false
}

// DeleterFor returns how to delete a channel's copies; false if the
// provider's API cannot (Telegram).
func DeleterFor(a channel.Adapter) (Deleter, bool) {
	switch a := a.(type) {
	case Deleter:
		return a, true
	case mediaDeleter:
		return deleteFunc(a.DeleteMedia), true
	}
	return nil, false
}

type fetchFunc func(ctx context.Context, id string, limit int64) ([]byte, string, error)

func (f fetchFunc) Fetch(ctx context.Context, id string, limit int64) ([]byte, string, error) {
	return f(ctx, id, limit)
}

type deleteFunc func(ctx context.Context, id string) error

func (f deleteFunc) Delete(ctx context.Context, id string) error { return f(ctx, id) }

// errTooLarge is a file over the limit of its fetch.
var errTooLarge = fmt.Errorf("file over the size limit: %w", channel.ErrPermanent)

// telegramFetcher reads a getFile download, capped.
type telegramFetcher struct{ g fileGetter }

func (t telegramFetcher) Fetch(ctx context.Context, id string, limit int64) ([]byte, string, error) {
	rc, size, err := t.g.GetFile(ctx, id)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	if size > limit {
		return nil, "", errTooLarge
	}
	data, err := readCapped(rc, limit)
	if err != nil && strings.Contains(err.Error(), "larger than") {
		// The adapter's own cap: more bytes than getFile announced.
		err = errTooLarge
	}
	return data, "", err
}

// readCapped reads at most limit bytes, and one more to tell a file over
// the limit, which is an error.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		clear(data)
		return nil, err
	}
	if int64(len(data)) > limit {
		clear(data)
		return nil, errTooLarge
	}
	return data, nil
}

// Worker fetches media.
type Worker struct {
	DB       *sqlstore.DB
	Channels Channels
	Logger   *slog.Logger

	Lease        time.Duration // default 5 minutes
	MaxAttempts  int           // default 12 (about a day of backoff)
	Poll         time.Duration // default 1 s
	FetchTimeout time.Duration // per file, default 2 minutes
	Concurrency  int           // files at once, default 2: each holds up to MaxBytes twice

	// Handled, if set, is called after each pass that handled files, for
	// live operator views.
	Handled func()

	poke chan struct{}
	once sync.Once
}

func (w *Worker) init() {
	w.once.Do(func() {
		if w.Lease <= 0 {
			w.Lease = 5 * time.Minute
		}
		if w.MaxAttempts <= 0 {
			w.MaxAttempts = 12
		}
		if w.Poll <= 0 {
			w.Poll = time.Second
		}
		if w.FetchTimeout <= 0 {
			w.FetchTimeout = 2 * time.Minute
		}
		if w.Concurrency <= 0 {
			w.Concurrency = 2
		}
		if w.Logger == nil {
			w.Logger = slog.New(slog.DiscardHandler)
		}
		w.poke = make(chan struct{}, 1)
	})
}

// Poke wakes the worker: media was stored.
func (w *Worker) Poke() {
	w.init()
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// Run fetches until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		start := time.Now()
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil && lifeline.ErrorCode(err) != lifeline.EUNAVAILABLE {
			w.Logger.Error("media", "component", "media", "error", err.Error())
		}
		if n > 0 && err == nil {
			continue // there may be more
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.poke:
			// Each claim is a write: under a flood, one every pokeGap.
			if !wake.Settle(ctx, start, pokeGap) {
				return
			}
		}
	}
}

// pokeGap is the shortest time between passes when poked.
const pokeGap = 100 * time.Millisecond

// RunOnce claims and handles one batch of due media jobs, Concurrency at a
// time, and returns how many it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.init()
	jobs, err := w.DB.ClaimMediaJobs(ctx, w.Lease, 4*w.Concurrency)
	if err != nil {
		return 0, err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, w.Concurrency)
	)
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := w.handle(ctx, j); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(jobs) > 0 && w.Handled != nil {
		w.Handled()
	}
	return len(jobs), errors.Join(errs...)
}

// handle fetches, checks and stores one file, then deletes the provider's
// copy. A crash anywhere leaves the job to be claimed again: a file stored
// already is not fetched twice, only its deletion is retried.
func (w *Worker) handle(ctx context.Context, j sqlstore.MediaJob) error {
	m, err := w.DB.MediaToFetch(ctx, j)
	switch lifeline.ErrorCode(err) {
	case "":
	case lifeline.EUNAVAILABLE:
		// Sealed: the provider's id cannot be opened. Wait, without
		// counting it against the file.
		return errors.Join(err, w.DB.FailMediaJob(ctx, j, "sealed", false, w.DB.Now().Add(5*time.Second), false))
	case lifeline.ENOTFOUND:
		return w.DB.FailMediaJob(ctx, j, "media erased", true, time.Time{}, true)
	default:
		return err
	}
	if m.ProviderID.IsEmpty() {
		_, err := w.DB.FinishMediaJob(ctx, j)
		return err
	}
	a, ok := w.Channels.Lookup(m.Kind, m.Channel)
	if !ok {
		return w.DB.FailMediaJob(ctx, j, "channel removed", true, time.Time{}, true)
	}
	if m.State == sqlstore.MediaPending || m.State == sqlstore.MediaDeferred {
		retry, err := w.fetch(ctx, j, a, m)
		if err != nil || retry {
			return err
		}
	}
	return w.deleteAtProvider(ctx, j, a, m)
}

// fetch fetches, checks and stores or rejects a pending file; retry says
// the job was rescheduled.
func (w *Worker) fetch(ctx context.Context, j sqlstore.MediaJob, a channel.Adapter, m sqlstore.MediaFetch) (retry bool, err error) {
	f, ok := FetcherFor(a)
	if !ok {
		return false, w.DB.MediaUnavailable(ctx, j, ReasonChannelCannotFetch)
	}
	limit := fetchLimit(m)
	if m.Size > limit {
		// The provider says it is too big: not even asked for.
		return false, w.DB.MediaUnavailable(ctx, j, ReasonTooLarge)
	}
	fctx, cancel := context.WithTimeout(ctx, w.FetchTimeout)
	data, _, err := f.Fetch(fctx, m.ProviderID.Reveal(), limit)
	cancel()
	defer clear(data)
	if err != nil {
		w.Logger.Warn("media fetch failed", "component", "media", "media", string(m.ID), "channel", string(m.Kind)+"/"+m.Channel,
			"attempt", j.Attempts, "error", err.Error())
		var ra *channel.RetryAfter
		switch {
		case errors.Is(err, channel.ErrPermanent):
			return false, w.DB.MediaUnavailable(ctx, j, fetchReason(err))
		case j.Attempts >= w.MaxAttempts:
			return false, w.DB.MediaUnavailable(ctx, j, ReasonUnreachable)
		case errors.As(err, &ra):
			return true, w.DB.FailMediaJob(ctx, j, "fetch: retry after", false, w.DB.Now().Add(ra.After), true)
		default:
			return true, w.DB.FailMediaJob(ctx, j, "fetch failed", false, w.DB.Now().Add(outbox.Backoff(j.Attempts)), true)
		}
	}
	v := Check(data)
	if v.Reason != "" {
		w.Logger.Info("media rejected", "component", "media", "media", string(m.ID), "reason", v.Reason, "bytes", len(data))
		return false, w.DB.RejectMedia(ctx, j, v.Reason)
	}
	if m.MessageKind == string(channel.KindPhoto) && v.Class != ClassImage {
		return false, w.DB.RejectMedia(ctx, j, ReasonMismatch)
	}
	if err := w.DB.StoreMedia(ctx, j, v.MIME, data); err != nil {
		if lifeline.ErrorCode(err) == lifeline.EUNAVAILABLE {
			return true, errors.Join(err, w.DB.FailMediaJob(ctx, j, "sealed", false, w.DB.Now().Add(5*time.Second), false))
		}
		return false, err
	}
	return false, nil
}

// deleteAtProvider deletes the provider's copy of a handled file, where
// the provider's API allows, and ends the job. For an MMS, the message
// record goes too once its last file is handled.
func (w *Worker) deleteAtProvider(ctx context.Context, j sqlstore.MediaJob, a channel.Adapter, m sqlstore.MediaFetch) error {
	if d, ok := DeleterFor(a); ok {
		err := d.Delete(ctx, m.ProviderID.Reveal())
		var ra *channel.RetryAfter
		switch {
		case err == nil:
		case errors.Is(err, channel.ErrPermanent):
			return w.DB.FailMediaJob(ctx, j, "provider copy not deleted: "+shortError(err), true, time.Time{}, true)
		case j.Attempts >= w.MaxAttempts:
			return w.DB.FailMediaJob(ctx, j, "gave up deleting the provider copy", true, time.Time{}, true)
		case errors.As(err, &ra):
			return w.DB.FailMediaJob(ctx, j, "delete: retry after", false, w.DB.Now().Add(ra.After), true)
		default:
			return w.DB.FailMediaJob(ctx, j, "delete failed", false, w.DB.Now().Add(outbox.Backoff(j.Attempts)), true)
		}
	}
	last, err := w.DB.FinishMediaJob(ctx, j)
	if err != nil || !last {
		return err
	}
	if md, ok := a.(messageDeleter); ok {
		if sid := twilioMessageSID(m.ProviderID.Reveal()); sid != "" {
			// Best effort: the media is gone already; the record (numbers,
			// text) is what Twilio keeps otherwise.
			if err := md.DeleteMessage(ctx, sid); err != nil {
				w.Logger.Warn("provider message not deleted", "component", "media", "media", string(m.ID), "error", err.Error())
			}
		}
	}
	return nil
}

// fetchLimit is the most a fetch reads: the limit of the class the message
// kind or the provider's claimed type promise, else the largest. A claim
// can only lower it; Check applies the limit of what the bytes are.
func fetchLimit(m sqlstore.MediaFetch) int64 {
	switch {
	case m.MessageKind == string(channel.KindPhoto) || strings.HasPrefix(m.MIME, "image/"):
		return MaxImageBytes
	case m.MessageKind == string(channel.KindVoice) || m.MessageKind == string(channel.KindAudio) || strings.HasPrefix(m.MIME, "audio/"):
		return MaxAudioBytes
	}
	return MaxBytes
}

// fetchReason is the operator's reason for a file the provider will not
// give: a fixed phrase, not the provider's error.
func fetchReason(err error) string {
	s := strings.ToLower(err.Error())
	if errors.Is(err, errTooLarge) || strings.Contains(s, "larger") || strings.Contains(s, "over the limit") || strings.Contains(s, "too big") || strings.Contains(s, "over ") {
		return ReasonTooLarge
	}
	return ReasonUnavailable
}

// shortError bounds an error for last_error. The adapters' errors name no
// person: no URL, id or number.
func shortError(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// twilioMessageSID is the message SID in a Twilio media URL
// (…/Messages/{MM…}/Media/{ME…}), or "".
func twilioMessageSID(mediaURL string) string {
	_, rest, ok := strings.Cut(mediaURL, "/Messages/")
	if !ok {
		return ""
	}
	sid, _, ok := strings.Cut(rest, "/Media/")
	if !ok || len(sid) != 34 || (!strings.HasPrefix(sid, "MM") && !strings.HasPrefix(sid, "SM")) {
		return ""
	}
	return sid
}
