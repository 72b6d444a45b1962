// SPDX-License-Identifier: AGPL-3.0-or-later

package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
)

// Polling: for a site without public HTTPS, updates are fetched with
// getUpdates instead of received by webhook. Telegram keeps an update until
// a getUpdates call with an offset above its update_id confirms it (24 hours
// at most), so the Poller confirms an update only once the Receiver has made
// it durable: a crash re-fetches what was not confirmed, and the Receiver's
// dedupe on update_id stores it once.

const (
	// getUpdatesLimit is how many updates one getUpdates answer holds at
	// most (the Bot API's own maximum is 100).
	getUpdatesLimit = 100
	// maxUpdatesResponse caps a getUpdates answer: a hundred updates of a
	// few KiB each, with room to spare.
	maxUpdatesResponse = 16 << 20
	// quarantineCap bounds the copy of a malformed update that is kept, as
	// the webhook handler does.
	quarantineCap = 64 << 10
)

// BotID is the bot's user id, the token's part before the colon. It is
// public (every message the bot sends carries it), not a secret.
func (a *Adapter) BotID() string {
	id, _, _ := strings.Cut(a.token, ":")
	return id
}

// GetUpdates long-polls the Bot API for updates: those with an update_id
// of at least offset (0: from the oldest Telegram holds; calling with an
// offset confirms every update below it, which Telegram then forgets),
// waiting up to timeout (whole seconds, 0 for an immediate answer) for one
// to arrive. It asks for the update types SetWebhook does and returns each
// update's JSON object as sent, for Parse. The HTTP client's own timeout
// must exceed timeout.
//
// Errors carry only the method's name and the Bot API's error: a 429 is a
// *channel.RetryAfter; 409 means a webhook is set (DeleteWebhook) or
// another getUpdates of the same bot is running.
func (a *Adapter) GetUpdates(ctx context.Context, offset int64, timeout time.Duration) ([][]byte, error) {
	const method = "getUpdates"
	secs := max(int64(timeout/time.Second), 0)
	params := struct {
		Offset         int64    `json:"offset,omitempty"`
		Limit          int      `json:"limit"`
		Timeout        int64    `json:"timeout"`
		AllowedUpdates []string `json:"allowed_updates"`
	}{offset, getUpdatesLimit, secs, allowedUpdates}
	// A long poll that the network lost is abandoned, not waited on.
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+15*time.Second)
	defer cancel()
	var updates []json.RawMessage
	if err := a.callCapped(ctx, method, params, &updates, maxUpdatesResponse); err != nil {
		return nil, pollError(err)
	}
	out := make([][]byte, 0, len(updates))
	for _, u := range updates {
		out = append(out, []byte(u))
	}
	return out, nil
}

// DeleteWebhook removes the bot's webhook, which getUpdates needs (it
// answers 409 while one is set). Pending updates are kept.
func (a *Adapter) DeleteWebhook(ctx context.Context) error {
	params := struct {
		DropPendingUpdates bool `json:"drop_pending_updates"`
	}{false}
	if err := a.call(ctx, "deleteWebhook", params, nil); err != nil {
		return pollError(err)
	}
	return nil
}

// pollError makes a 429 a *channel.RetryAfter; other errors are as call's.
func pollError(err error) error {
	var e *apiError
	if errors.As(err, &e) && e.code == http.StatusTooManyRequests {
		after := e.retryAfter
		if after <= 0 {
			after = time.Second
		}
		return &channel.RetryAfter{After: after, Err: e}
	}
	return err
}

// isConflict reports whether err is the Bot API's 409: a webhook is set, or
// another getUpdates of the same bot is running.
func isConflict(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.code == http.StatusConflict
}

// UpdateID reads the update_id of one raw Update, whatever the rest of it
// holds; ok is false if it has none that is a positive integer.
func UpdateID(update []byte) (id int64, ok bool) {
	var u struct {
		UpdateID *int64 `json:"update_id"`
	}
	if err := json.Unmarshal(update, &u); err != nil || u.UpdateID == nil || *u.UpdateID <= 0 {
		return 0, false
	}
	return *u.UpdateID, true
}

// Offsets keeps each polled channel's next getUpdates offset durably.
// Load returns 0 when none is kept (Telegram then sends from the oldest
// update it holds that no offset confirmed).
type Offsets interface {
	Load(ctx context.Context, name string) (int64, error)
	Save(ctx context.Context, name string, offset int64) error
}

// Poller fetches a channel's updates with getUpdates and hands them to the
// Receiver, for a site without public HTTPS. Only one Poller may run per
// bot: Telegram answers 409 to a second one.
//
// Each batch is parsed update by update: a malformed update is counted,
// logged (its error class, never its content), quarantined if Quarantine is
// set, and skipped; an update with nothing for a conversation is counted and
// skipped; the events of the others go to the Receiver, on a context
// cancellation does not reach. Only when every update of the batch is
// durable is the next offset (the highest update_id + 1) saved and sent to
// Telegram, which then forgets them. A failure of the Receiver leaves the
// offset where it was, so the batch is fetched again (the Receiver, being
// idempotent on the update id, stores nothing twice). Errors back off from
// Backoff to MaxBackoff, or as long as Telegram's retry_after says.
type Poller struct {
	Adapter    *Adapter
	Receiver   channel.Receiver
	Offsets    Offsets
	Quarantine channel.Quarantine // optional
	Logger     *slog.Logger       // optional

	// Timeout is how long one getUpdates waits for an update: whole
	// seconds, at least one; 25 s if zero. It must be below the timeout of
	// the Adapter's HTTP client.
	Timeout time.Duration
	// Backoff is the first wait after an error (1 s if zero); each further
	// error in a row doubles it, up to MaxBackoff (30 s if zero).
	Backoff, MaxBackoff time.Duration

	stored, ignored, malformed, failures atomic.Int64
}

// PollerStats counts what a Poller did.
type PollerStats struct {
	Stored    int64 // updates whose events the Receiver took (new or duplicate)
	Ignored   int64 // updates with nothing for a conversation
	Malformed int64 // updates that did not parse, skipped
	Failures  int64 // failed calls (Bot API, Receiver, offsets), each followed by a backoff
}

// Stats returns the Poller's counts so far.
func (p *Poller) Stats() PollerStats {
	return PollerStats{Stored: p.stored.Load(), Ignored: p.ignored.Load(), Malformed: p.malformed.Load(), Failures: p.failures.Load()}
}

// Run deletes the bot's webhook, then polls until ctx is done. A batch
// being stored when ctx is cancelled is finished and its offset saved.
func (p *Poller) Run(ctx context.Context) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 25 * time.Second
	}
	// Below a second the Bot API answers at once: a poll would spin.
	timeout = max(timeout.Truncate(time.Second), time.Second)
	first, limit := p.Backoff, p.MaxBackoff
	if first <= 0 {
		first = time.Second
	}
	if limit <= 0 {
		limit = 30 * time.Second
	}
	logger := p.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name := p.Adapter.Name()
	logger = logger.With("kind", string(lifeline.ChannelTelegram), "channel", name)

	wait := first
	// fail logs err, counts it and sleeps; it reports false if ctx ended.
	fail := func(what string, err error) bool {
		p.failures.Add(1)
		d := wait
		var ra *channel.RetryAfter
		if errors.As(err, &ra) {
			d = max(d, ra.After)
		}
		wait = min(wait*2, limit)
		logger.Warn(what, "error", err.Error(), "duration_ms", d.Milliseconds())
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}

	var offset int64
	for {
		if ctx.Err() != nil {
			return
		}
		o, err := p.Offsets.Load(ctx, name)
		if err == nil {
			offset = o
			break
		}
		if !fail("telegram offset not loaded", err) {
			return
		}
	}

	webhookDeleted := false
	for ctx.Err() == nil {
		if !webhookDeleted {
			if err := p.Adapter.DeleteWebhook(ctx); err != nil {
				if ctx.Err() != nil || !fail("telegram deleteWebhook failed", err) {
					return
				}
				continue
			}
			webhookDeleted = true
		}
		updates, err := p.Adapter.GetUpdates(ctx, offset, timeout)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if isConflict(err) {
				// Someone set a webhook again, or another poller runs.
				webhookDeleted = false
			}
			if !fail("telegram getUpdates failed", err) {
				return
			}
			continue
		}
		if len(updates) == 0 {
			wait = first
			continue
		}
		next, err := p.deliver(ctx, updates)
		if err != nil {
			if !fail("telegram updates not stored", err) {
				return
			}
			continue
		}
		if next <= offset {
			// Updates none of which moves the offset would come back at
			// once, for ever: wait between fetches.
			if !fail("telegram getUpdates", errors.New("telegram getUpdates: updates without a usable update_id")) {
				return
			}
			continue
		}
		// The updates are durable: the new offset may confirm them. Saving
		// it only spares a restart from fetching them again, so a failure
		// to save is logged, not retried.
		if err := p.Offsets.Save(context.WithoutCancel(ctx), name, next); err != nil {
			p.failures.Add(1)
			logger.Warn("telegram offset not saved", "error", err.Error())
		}
		offset = next
		wait = first
	}
}

// deliver parses and stores one batch of updates. It returns the offset
// that confirms them, or an error, and then nothing of the batch may be
// confirmed.
func (p *Poller) deliver(ctx context.Context, updates [][]byte) (next int64, err error) {
	name := p.Adapter.Name()
	// What is stored is stored whole, however the poller is stopped.
	sctx := context.WithoutCancel(ctx)
	for _, raw := range updates {
		id, ok := UpdateID(raw)
		batch, err := p.Adapter.parse(raw)
		switch {
		case err != nil:
			p.malformed.Add(1)
			class := err.Error()
			if len(class) > 200 {
				class = class[:200]
			}
			if p.Logger != nil {
				p.Logger.Warn("telegram update malformed", "kind", string(lifeline.ChannelTelegram), "channel", name,
					"outcome", channel.OutcomeMalformed, "error", class)
			}
			if p.Quarantine != nil {
				if qerr := p.Quarantine.Quarantine(sctx, lifeline.ChannelTelegram, name, class, raw[:min(len(raw), quarantineCap)]); qerr != nil && p.Logger != nil {
					p.Logger.Error("quarantine failed", "kind", string(lifeline.ChannelTelegram), "channel", name, "error", qerr.Error())
				}
			}
		case len(batch.Events) == 0:
			p.ignored.Add(1)
		default:
			if err := p.Receiver.Receive(sctx, lifeline.ChannelTelegram, name, batch.Events); err != nil {
				return 0, err
			}
			p.stored.Add(1)
		}
		if ok && id >= next {
			next = id + 1
		}
	}
	return next, nil
}
