// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/telegram"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// Telegram channel modes (channelConfig.Mode).
const (
	modeWebhook = "webhook"
	modePolling = "polling"
)

// metaOffsets keeps a polled Telegram channel's getUpdates offset in the
// meta table, under "telegram-offset/<name>", as "<bot id>:<offset>". The
// bot id (public, not a secret) ties the offset to its bot: a channel
// re-added under the same name with another bot starts from Telegram's own
// record instead of an offset that would skip the new bot's updates.
type metaOffsets struct {
	db    *sqlstore.DB
	botID string
}

var _ telegram.Offsets = metaOffsets{}

func telegramOffsetKey(name string) string { return "telegram-offset/" + name }

// Load returns the saved offset, or 0 (Telegram then sends every update it
// holds unconfirmed, which the intake's dedupe absorbs) when there is none,
// it is another bot's, or it does not read.
func (m metaOffsets) Load(ctx context.Context, name string) (int64, error) {
	v, err := m.db.Meta(ctx, telegramOffsetKey(name))
	if err != nil {
		return 0, err
	}
	bot, n, ok := strings.Cut(v, ":")
	if !ok || bot != m.botID {
		return 0, nil
	}
	off, err := strconv.ParseInt(n, 10, 64)
	if err != nil || off < 0 {
		return 0, nil
	}
	return off, nil
}

// Save writes the offset durably.
func (m metaOffsets) Save(ctx context.Context, name string, offset int64) error {
	return m.db.SetMeta(ctx, telegramOffsetKey(name), m.botID+":"+strconv.FormatInt(offset, 10))
}

// telegramPollers runs a telegram.Poller for every Telegram channel in
// polling mode. sync restarts them all from the current registry, so that
// channel add, remove and reload take effect: it stops the running pollers
// and waits for them first, since Telegram lets one getUpdates per bot run.
type telegramPollers struct {
	ctx        context.Context // the server's background context
	db         *sqlstore.DB
	keeper     *keys.Keeper
	receiver   channel.Receiver
	quarantine channel.Quarantine
	logger     *slog.Logger

	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// sync stops the running pollers and starts one for each polling-mode
// Telegram channel of reg.
func (tp *telegramPollers) sync(ctx context.Context, reg *channel.Registry) error {
	stored, err := tp.db.Channels(ctx)
	if err != nil {
		return err
	}
	var pollers []*telegram.Poller
	for _, s := range stored {
		if s.Kind != lifeline.ChannelTelegram {
			continue
		}
		c, err := openChannelConfig(tp.keeper, s)
		if err != nil || c.Mode != modePolling {
			continue // a configuration that does not open was logged by loadChannels
		}
		a, ok := reg.Lookup(lifeline.ChannelTelegram, s.Name)
		tg, isTelegram := a.(*telegram.Adapter)
		if !ok || !isTelegram {
			continue
		}
		pollers = append(pollers, &telegram.Poller{
			Adapter:    tg,
			Receiver:   tp.receiver,
			Offsets:    metaOffsets{db: tp.db, botID: tg.BotID()},
			Quarantine: tp.quarantine,
			Logger:     tp.logger,
		})
	}

	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.stopLocked()
	if tp.ctx.Err() != nil || len(pollers) == 0 {
		return nil
	}
	pctx, cancel := context.WithCancel(tp.ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range pollers {
		wg.Go(func() { p.Run(pctx) })
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	tp.stop, tp.done = cancel, done
	tp.logger.Info("polling Telegram with getUpdates", "count", len(pollers))
	return nil
}

// wait stops the pollers and returns once they have: each finishes the
// batch it is storing and saves its offset.
func (tp *telegramPollers) wait() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.stopLocked()
}

func (tp *telegramPollers) stopLocked() {
	if tp.stop != nil {
		tp.stop()
		<-tp.done
		tp.stop, tp.done = nil, nil
	}
}
