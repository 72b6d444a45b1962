// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/telegram"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/logs"
	"github.com/lifeline-hotline/lifeline/internal/media"
	"github.com/lifeline-hotline/lifeline/internal/outbox"
	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
	"github.com/lifeline-hotline/lifeline/internal/routing"
	"github.com/lifeline-hotline/lifeline/internal/seal"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

// serveConfig is the configuration of serve and demo.
type serveConfig struct {
	dataDir        string
	listen         string // the public door: webhooks, /healthz
	consoleListen  string // the private door: console, API, unseal, /readyz, /metrics
	publicURL      string
	logLevel       string
	shutdownBudget time.Duration
	autoUnsealFile string
	intakeKey      string
	auditWitness   string
	templates      []console.Template
	epochLength    time.Duration
	retention      time.Duration
	// senderLimits are intake's per-sender flood budgets; zero is the
	// default (SECURITY.md §2.12). Not a flag: bench lifts them.
	senderLimits intake.Limits
	// questionnaire starts the registration bot on every new conversation
	// of the surrender stream; off, operators start it per conversation.
	questionnaire bool
	// quietRequests logs the access log's lines of answered requests at
	// debug level: the demo's, so that its printed logins stay in sight.
	quietRequests bool
	// lock is the data directory's lock when the caller took it already
	// (demo, which seeds the directory first); else serve takes it.
	lock *dirLock
}

func serveFlags(fs *flagSet, defaultData string) *serveConfig {
	c := &serveConfig{}
	fs.StringVar(&c.dataDir, "data", defaultData, "data directory: database, audit checkpoints, keys")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8081", "the public door: the address of the providers' webhooks and /healthz (behind the HTTPS reverse proxy)")
	fs.StringVar(&c.consoleListen, "console-listen", "127.0.0.1:8080", "the private door: the address of the console, API, unseal, /readyz and /metrics (loopback, a WireGuard address or an onion service's target; never public)")
	fs.StringVar(&c.publicURL, "public-url", "", "the external base URL (https://…) that providers call and sign")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&c.shutdownBudget, "shutdown-budget", 10*time.Second, "how long in-flight requests get to finish on shutdown")
	fs.StringVar(&c.autoUnsealFile, "auto-unseal-file", "", "DEMO AND DEVELOPMENT ONLY: unseal at start with the file init --dev-unseal-file wrote")
	intakeKeyVar(fs, &c.intakeKey)
	fs.StringVar(&c.auditWitness, "audit-witness", "", "a directory outside the data directory (another disk, the monitor box's mount) that receives every signed audit checkpoint, for lifeline audit verify --checkpoint")
	fs.Func("whatsapp-template", "an approved WhatsApp template the console offers when the 24-hour window is closed: name:language:label (repeatable)", func(v string) error {
		name, rest, ok1 := strings.Cut(v, ":")
		lang, label, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || name == "" || lang == "" || label == "" {
			return errors.New("want name:language:label")
		}
		c.templates = append(c.templates, console.Template{Name: name, Language: lang, Label: label})
		return nil
	})
	fs.DurationVar(&c.epochLength, "epoch-length", keys.DefaultEpochLength, "how often compartment key epochs rotate")
	fs.DurationVar(&c.retention, "key-retention", keys.DefaultRetention, "how long a superseded epoch's private key is kept (backup retention + margin)")
	fs.BoolVar(&c.questionnaire, "questionnaire", false, "start the registration questionnaire bot on every new soldier's conversation (operators can always start it on one)")
	return c
}

// validate checks what the flag package cannot, so that a bad value is a
// usage error before anything starts.
func (c *serveConfig) validate(cmd string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return level, usageErrorf("%s: --log-level %q: want debug, info, warn or error", cmd, c.logLevel)
	}
	if _, port, err := net.SplitHostPort(c.listen); err != nil || port == "" {
		return level, usageErrorf("%s: --listen %q: want host:port", cmd, c.listen)
	}
	if _, port, err := net.SplitHostPort(c.consoleListen); err != nil || port == "" {
		return level, usageErrorf("%s: --console-listen %q: want host:port", cmd, c.consoleListen)
	}
	if _, port, _ := net.SplitHostPort(c.listen); c.listen == c.consoleListen && port != "0" {
		// One listener for both would put the console on the public door.
		return level, usageErrorf("%s: --listen and --console-listen are both %s: the public and the private door need addresses of their own", cmd, c.listen)
	}
	if c.shutdownBudget <= 0 {
		return level, usageErrorf("%s: --shutdown-budget must be positive", cmd)
	}
	if c.epochLength < time.Hour || c.retention < 0 {
		return level, usageErrorf("%s: --epoch-length must be at least 1h and --key-retention not negative", cmd)
	}
	if c.publicURL != "" {
		u, err := url.Parse(c.publicURL)
		switch {
		case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
			return level, usageErrorf("%s: --public-url %q: want an absolute URL such as https://hotline.example", cmd, c.publicURL)
		case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
			// Providers sign the URL they call; plain http would expose every
			// message on the way.
			return level, usageErrorf("%s: --public-url must be https (http only for a loopback host)", cmd)
		}
		c.publicURL = strings.TrimSuffix(c.publicURL, "/")
	}
	return level, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "serve", "serve [--data DIR] [--listen ADDR] [--console-listen ADDR] [--public-url URL]")
	cfg := serveFlags(fs, "./lifeline-data")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	level, err := cfg.validate("serve")
	if err != nil {
		return err
	}
	if err := checkDataDir(cfg.dataDir, true); err != nil {
		return err
	}
	if err := checkWitness(cfg.auditWitness, cfg.dataDir); err != nil {
		return err
	}
	return serve(ctx, e, cfg, level, nil)
}

// serve runs the server until ctx is cancelled (SIGINT or SIGTERM), then
// shuts down in reverse order of start: the HTTP server first, letting
// in-flight requests finish within the budget; then the background work,
// the audit checkpointer last, which signs a final checkpoint; then the
// store. started, if not nil, runs once the server listens, with the
// public door's address and the private door's.
//
// The server starts sealed unless --auto-unseal-file is given: intake works,
// nothing can be read, until custodians give their shares (lifeline unseal).
func serve(ctx context.Context, e env, cfg *serveConfig, level slog.Level, started func(public, private string)) error {
	var lh slog.Handler = logs.NewHandler(e.stderr, level, logs.Allow("reason", "root"))
	if cfg.quietRequests {
		lh = quietRequests{lh}
	}
	logger := slog.New(lh)

	// One server per data directory, before anything is touched: a second
	// would send every queued message again and take the control socket.
	if cfg.lock == nil {
		lock, err := lockDataDir(cfg.dataDir, "serve")
		if err != nil {
			return err
		}
		defer lock.release()
	}

	keeper, err := openKeeper(e, cfg.dataDir, cfg.intakeKey)
	if errors.Is(err, keys.ErrNotInitialized) {
		return usageErrorf("no keys in %s: run lifeline init --data %s first", cfg.dataDir, cfg.dataDir)
	}
	if err != nil {
		return err
	}
	defer keeper.Seal()
	switch ik := keeper.IntakeKeyPath(); {
	case ik == "":
		return usageErrorf("no intake key: give --intake-key FILE (the file init --intake-key wrote)")
	case keeper.Status().Need > 0 && insideDir(ik, cfg.dataDir):
		// A real installation (its unseal key split among custodians):
		// a copy of the data directory must not carry the intake key.
		return usageErrorf("the intake key %s is inside the data directory: move it out (README: the intake key) and give --intake-key; only a demo or development install (init --dev-unseal-file) keeps it there", ik)
	}
	if cfg.autoUnsealFile != "" {
		if err := keeper.UnsealWithFile(cfg.autoUnsealFile); err != nil {
			return fmt.Errorf("auto-unseal: %w", err)
		}
		logger.Warn("AUTO-UNSEALED FROM A KEY FILE: for demos and development only; a seized disk with this file opens every case", "component", "keys")
	}

	db, err := openStoreWith(ctx, e, cfg.dataDir, migrateIfEmpty, sqlstore.Options{Sealer: keeper})
	if err != nil {
		return err
	}
	defer db.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lifeline_store_writes_total", Help: "Writes carried out by the store's writer.",
		}, func() float64 { return float64(db.Stats().Writes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lifeline_store_commits_total", Help: "Transactions the store's writer committed (each one fsync).",
		}, func() float64 { return float64(db.Stats().Commits) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lifeline_sealed", Help: "1 while the server is sealed (no private key in memory), else 0.",
		}, func() float64 {
			if keeper.Sealed() {
				return 1
			}
			return 0
		}),
	)

	ready := func(ctx context.Context) error {
		if err := db.Ping(ctx); err != nil {
			return web.NotReady{Reason: "database unreachable"}
		}
		if err := db.CheckSchema(ctx); err != nil {
			return web.NotReady{Reason: "database schema not current"}
		}
		return nil
	}
	// Channels, intake and the outbox.
	client := &http.Client{Timeout: 30 * time.Second}
	channels, err := loadChannels(ctx, db, keeper, cfg.publicURL, client, logger)
	if err != nil {
		return err
	}
	// This server is an instance whose leases name it. It holds the data
	// directory's lock, so every other instance of this SQLite store is
	// gone: jobs a crashed predecessor had leased are due again now.
	if _, err := db.StartInstance(ctx); err != nil {
		return err
	}
	if n, err := db.ReleaseLeases(ctx, sqlstore.AllOthersGone); err != nil {
		return err
	} else if n > 0 {
		logger.Warn("released jobs leased before a crash", "component", "outbox", "count", n)
	}
	defer func() {
		// After the workers stopped (deferred later, run earlier): the
		// next server sends what this one still held at once.
		if err := db.EndInstance(context.WithoutCancel(ctx)); err != nil {
			logger.Error("end instance", "component", "outbox", "error", err.Error())
		}
	}()
	hub := console.NewHub()
	// The router gives waiting conversations to operators on shift and
	// tells the supervisors on duty when a contact waits too long.
	router := routing.New(db, routing.Config{
		Logger:   logger.With("component", "routing"),
		OnAssign: func(a routing.Assignment) { hub.Publish(console.Event{Type: "assign", Conversation: a.Conversation}) },
		OnEscalate: func(e routing.Escalation) {
			ev := console.Event{Type: "escalate", Conversation: e.Conversation.ID}
			for _, s := range e.Supervisors {
				ev.To = append(ev.To, s.ID)
			}
			hub.Publish(ev)
		},
	})
	worker := &outbox.Worker{DB: db, Senders: channels, Refs: keeper, Logger: logger.With("component", "outbox"),
		Attempted: func(lifeline.MessageID) { hub.Publish(console.Event{Type: "status"}) }}
	mediaWorker := &media.Worker{DB: db, Channels: channels, Logger: logger.With("component", "media"),
		Handled: func() { hub.Publish(console.Event{Type: "status"}) }}
	// The registration questionnaire: a bot that asks new contacts who they
	// are until an operator takes over, and makes a case of the answers.
	bot := &questionnaire.Worker{DB: db, Logger: logger.With("component", "questionnaire"), Queued: worker.Poke,
		Changed:   func(c lifeline.ConversationID) { hub.Publish(console.Event{Type: "message", Conversation: c}) },
		AutoStart: []lifeline.Stream{}}
	if cfg.questionnaire {
		bot.AutoStart = []lifeline.Stream{lifeline.StreamSurrender}
	}
	// With the bot on, it greets new soldiers itself; intake greets only
	// while sealed, when the bot cannot run.
	var greet func() bool
	if cfg.questionnaire {
		greet = keeper.Sealed
	}
	intakeSvc := intake.New(db, keeper, intake.Config{
		Greet: greet,
		Notify: func(ns []intake.Notice) {
			// Held messages (over their sender's budget) start no work of
			// their own, but for the media they may still fetch.
			if slices.ContainsFunc(ns, func(n intake.Notice) bool { return !n.Held }) {
				worker.Poke()
				bot.Poke()
				router.Poke()
			}
			for _, n := range ns {
				if n.Media {
					mediaWorker.Poke()
				}
				hub.Publish(console.Event{Type: "message", Conversation: n.Conversation})
			}
		},
		// A pressed button spins in the soldier's app until answered; the
		// answer carries nothing, and a lost one only lets the spinner time out.
		Callback: func(kind lifeline.ChannelKind, name, id string) {
			a, ok := channels.Lookup(kind, name)
			tg, isTelegram := a.(*telegram.Adapter)
			if !ok || !isTelegram || keeper.Sealed() {
				return // sealed, the bot token is locked away too
			}
			go func() {
				actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				if err := tg.AnswerCallbackQuery(actx, id, ""); err != nil {
					logger.Warn("answerCallbackQuery", "component", "intake", "error", err.Error())
				}
			}()
		},
		Limits: cfg.senderLimits,
	})
	reg.MustRegister(intakeDropped(intakeSvc, "blocked", func(s intake.Stats) int64 { return s.DroppedBlocked }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lifeline_intake_deferred_total", Help: "Messages over their sender's budget: stored and shown, without automatic work of their own.",
		}, func() float64 { return float64(intakeSvc.Stats().Deferred) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lifeline_intake_quarantined_total", Help: "Messages over their sender's storage cap: stored sealed in quarantine, until an operator releases them.",
		}, func() float64 { return float64(intakeSvc.Stats().Quarantined) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lifeline_intake_media_skipped_total", Help: "Media items recorded and not fetched at once: deferred over their sender's daily media budget, or skipped with a quarantined message.",
		}, func() float64 { return float64(intakeSvc.Stats().MediaSkipped) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lifeline_intake_senders_tracked", Help: "Senders whose flood budgets are in memory.",
		}, func() float64 { return float64(intakeSvc.Stats().Senders) }))
	hooks := channel.NewHandler(logger.With("component", "webhook"), channels, intakeSvc, db, channel.NewMetrics(reg))

	// The key maintenance serves the control socket and the console's
	// unseal page alike.
	km := &keyMaintenance{keeper: keeper, db: db, logger: logger.With("component", "keys"), epochLength: cfg.epochLength, retention: cfg.retention, poke: make(chan struct{}, 1)}
	con, err := console.New(console.Config{
		Store: db, Keys: keeper, Logger: logger.With("component", "console"), Hub: hub, Queued: worker.Poke, MediaPoke: mediaWorker.Poke,
		Unseal: func(ctx context.Context, share string) (int, int, error) {
			resp := km.control(ctx, controlRequest{Op: "unseal", Share: share})
			if !resp.OK {
				return resp.Have, resp.Need, errors.New(resp.Error)
			}
			return resp.Have, resp.Need, nil
		},
		Templates:      cfg.templates,
		ResponseTarget: router.Target(),
		VerifyAudit: func(ctx context.Context) (audit.Report, error) {
			// The public half, written by init or at the first unseal.
			verifier, err := loadVerifier(filepath.Join(cfg.dataDir, auditVerifierFile))
			if err != nil {
				return audit.Report{}, err
			}
			return verifyAuditInProcess(ctx, db, verifier, cfg.dataDir, cfg.auditWitness)
		},
	})
	if err != nil {
		return err
	}

	srv := web.NewServer(logger, web.Config{
		Listen:         cfg.listen,
		ConsoleListen:  cfg.consoleListen,
		PublicURL:      cfg.publicURL,
		ShutdownBudget: cfg.shutdownBudget,
		MaxBodyBytes:   5 << 20, // the webhook handler caps each provider's own (WhatsApp: 4 MiB)
		Webhooks:       hooks,
		API:            &web.API{Store: db, Queued: worker.Poke, Sealed: keeper.Sealed},
		Routes:         con.WebRoutes(),
		ReadyDetail: func() string {
			if keeper.Sealed() {
				return "keys: sealed"
			}
			return "keys: unsealed"
		},
	}, ready, reg)

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	cln, err := net.Listen("tcp", cfg.consoleListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("console listen: %w", err)
	}

	// Background work runs until the HTTP server has drained.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() {
		stopBackground()
		wg.Wait()
	}()

	cp := newCheckpointer(db, cfg.dataDir, keeper, cfg.auditWitness)
	cp.Logger = logger.With("component", "audit")
	wg.Go(func() { cp.Run(bgCtx, db.AuditAppended()) })
	// At every unseal, a checkpoint over what was logged while sealed.
	km.checkpoint = func(ctx context.Context) {
		if _, _, err := cp.Checkpoint(ctx); err != nil {
			km.logger.Error("audit checkpoint at unseal", "error", err.Error())
		}
	}

	// Telegram channels in polling mode fetch their updates with getUpdates;
	// a reload restarts the pollers from the new registry.
	pollers := &telegramPollers{ctx: bgCtx, db: db, keeper: keeper, receiver: intakeSvc, quarantine: db, logger: logger.With("component", "telegram-poller")}
	km.reloadChannels = func(ctx context.Context) error {
		fresh, err := loadChannels(ctx, db, keeper, cfg.publicURL, client, logger)
		if err == nil {
			channels.Replace(fresh)
			err = pollers.sync(ctx, channels)
		}
		return err
	}
	if err := pollers.sync(ctx, channels); err != nil {
		logger.Error("telegram pollers not started", "error", err.Error())
	}
	wg.Go(func() { <-bgCtx.Done(); pollers.wait() })
	wg.Go(func() { km.run(bgCtx) })
	wg.Go(func() { worker.Run(bgCtx) })
	wg.Go(func() { mediaWorker.Run(bgCtx) })
	wg.Go(func() { bot.Run(bgCtx) })
	wg.Go(func() { router.Run(bgCtx) })
	wg.Go(func() { caseWatchdog(bgCtx, db, logger.With("component", "watchdog")) })
	wg.Go(func() { heartbeat(bgCtx, db, logger.With("component", "outbox")) })

	stopControl, err := listenControl(bgCtx, cfg.dataDir, logger, km.control)
	if err != nil {
		ln.Close()
		cln.Close()
		return err
	}
	defer stopControl()

	// SIGUSR1 seals at once, as `lifeline seal` does (duress, intrusion).
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	wg.Go(func() {
		for {
			select {
			case <-usr1:
				keeper.Seal()
				km.reload(bgCtx)
				logger.Warn("sealed by SIGUSR1", "component", "keys")
			case <-bgCtx.Done():
				return
			}
		}
	})

	if cfg.autoUnsealFile != "" {
		km.unsealed()
	} else {
		logger.Info("sealed: intake works; give unseal shares with lifeline unseal", "component", "keys")
	}

	if started != nil {
		started(ln.Addr().String(), cln.Addr().String())
	}
	err = srv.ListenAndServe(ctx, ln, cln)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	// The background work ends before the last line says so: the outbox
	// stops, the audit log gets its final checkpoint.
	stopControl()
	stopBackground()
	wg.Wait()
	logger.Info("stopped")
	return nil
}

// intakeDropped counts the message events intake acknowledged and did not
// store, for one fixed reason: blocked, the only one (every other
// authenticated message is stored).
func intakeDropped(svc *intake.Service, reason string, n func(intake.Stats) int64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "lifeline_intake_dropped_total",
		Help:        "Message events acknowledged and not stored, by reason: blocked (sender blocked at the door), the only one.",
		ConstLabels: prometheus.Labels{"reason": reason},
	}, func() float64 { return float64(n(svc.Stats())) })
}

// keyMaintenance does the server's key work: ceremonies from the control
// socket, and on a schedule the epoch rotation, the rewrap of data keys onto
// the current epoch, and the destruction of expired epochs.
type keyMaintenance struct {
	keeper      *keys.Keeper
	db          *sqlstore.DB
	logger      *slog.Logger
	epochLength time.Duration
	retention   time.Duration
	poke        chan struct{}

	reloadChannels func(context.Context) error
	checkpoint     func(context.Context) // signs a checkpoint (unsealed)
}

// reload reloads the channels after an unseal or a seal: their send
// secrets open only unsealed, and a seal drops them from the adapters.
func (km *keyMaintenance) reload(ctx context.Context) {
	if km.reloadChannels == nil {
		return
	}
	if err := km.reloadChannels(ctx); err != nil {
		km.logger.Error("channels not reloaded", "error", err.Error())
	}
}

// unsealed asks the maintenance loop to do at once what waited for the keys.
func (km *keyMaintenance) unsealed() {
	select {
	case km.poke <- struct{}{}:
	default:
	}
}

func (km *keyMaintenance) run(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-km.poke:
		}
		if km.keeper.Sealed() {
			continue
		}
		if err := km.maintain(ctx); err != nil && ctx.Err() == nil {
			km.logger.Error("key maintenance", "error", err.Error())
		}
	}
}

func (km *keyMaintenance) maintain(ctx context.Context) error {
	if n, err := km.db.Reseal(ctx); err != nil {
		return fmt.Errorf("reseal: %w", err)
	} else if n > 0 {
		km.logger.Info("folded rows stored while sealed", "count", n)
	}
	if km.keeper.EpochAge() >= km.epochLength {
		if err := km.keeper.RotateEpochs(km.retention); err != nil {
			return fmt.Errorf("rotate epochs: %w", err)
		}
		if err := km.db.Audit(ctx, lifeline.Actor{ID: lifeline.ActorSystem}, "keys.epoch-rotate", "", "schedule"); err != nil {
			return err
		}
	}
	total := 0
	for {
		n, err := km.db.RewrapDataKeys(ctx, km.keeper.CurrentEpoch, km.keeper.Rewrap, 1000)
		if err != nil {
			return fmt.Errorf("rewrap: %w", err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total > 0 {
		km.logger.Info("rewrapped data keys", "count", total)
	}
	destroyed, err := km.keeper.DestroyDue(func(c seal.Compartment, epoch uint32) (int64, error) {
		return km.db.LiveDataKeys(ctx, c, epoch)
	})
	if err != nil {
		return fmt.Errorf("destroy epochs: %w", err)
	}
	if len(destroyed) > 0 {
		km.logger.Info("destroyed expired epochs", "count", len(destroyed))
		return km.db.Audit(ctx, lifeline.Actor{ID: lifeline.ActorSystem}, "keys.epoch-destroy", strings.Join(destroyed, " "), "retention")
	}
	return nil
}

// control answers the control socket.
func (km *keyMaintenance) control(ctx context.Context, req controlRequest) controlResponse {
	status := func(detail string) controlResponse {
		st := km.keeper.Status()
		return controlResponse{OK: true, Sealed: st.Sealed, Have: st.Have, Need: st.Need, Detail: detail}
	}
	fail := func(err error) controlResponse {
		r := status("")
		r.OK, r.Error = false, err.Error()
		return r
	}
	switch req.Op {
	case "status":
		return status("")
	case "unseal":
		have, need, err := km.keeper.AddShare(req.Share)
		if err != nil {
			km.db.Audit(ctx, lifeline.CLIActor, "keys.unseal-share", "", "refused")
			return fail(err)
		}
		if have == need {
			if err := km.db.Audit(ctx, lifeline.CLIActor, "keys.unseal", "", ""); err != nil {
				km.keeper.Seal() // fail closed: no unseal that the audit log does not show
				return fail(fmt.Errorf("audit: %w", err))
			}
			km.logger.Info("unsealed")
			km.unsealed()
			km.reload(ctx)
			if km.checkpoint != nil {
				km.checkpoint(ctx)
			}
		}
		return status("")
	case "reload-channels":
		if err := km.reloadChannels(ctx); err != nil {
			return fail(err)
		}
		return status("channels reloaded")
	case "seal":
		km.keeper.Seal()
		km.reload(ctx)
		km.logger.Warn("sealed from the control socket")
		km.db.Audit(ctx, lifeline.CLIActor, "keys.seal", "", "")
		return status("")
	case "rotate":
		if err := km.db.Audit(ctx, lifeline.CLIActor, "keys.rotate", "", ""); err != nil {
			return fail(fmt.Errorf("audit: %w", err))
		}
		v, err := km.keeper.RotateRoot()
		if err != nil {
			return fail(err)
		}
		if err := km.keeper.RotateEpochs(km.retention); err != nil {
			return fail(err)
		}
		start := time.Now()
		if err := km.maintain(ctx); err != nil {
			return fail(err)
		}
		return status(fmt.Sprintf("Root key at version %d; every compartment on a new epoch; data keys rewrapped in %s. The old epochs are destroyed after the key retention.", v, time.Since(start).Round(time.Millisecond)))
	}
	return fail(errors.New("unknown operation"))
}

// heartbeatEvery is how often a server records that its instance lives.
const heartbeatEvery = 30 * time.Second

// heartbeat keeps this server's instance alive in the store, so that a
// store shared by several (PostgreSQL) tells its leases from a dead one's.
func heartbeat(ctx context.Context, db *sqlstore.DB, logger *slog.Logger) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := db.Heartbeat(ctx); err != nil && ctx.Err() == nil && lifeline.ErrorCode(err) != lifeline.EUNAVAILABLE {
			logger.Error("heartbeat", "error", err.Error())
		}
	}
}

// caseWatchdog moves cases silent past their status's limit onto the
// lost-contact list, and sweeps what is past its retention (SECURITY.md
// §2.9), hourly.
func caseWatchdog(ctx context.Context, db *sqlstore.DB, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := db.FlagSilentCases(ctx, sqlstore.WatchdogLimits); err != nil {
			if lifeline.ErrorCode(err) != lifeline.EUNAVAILABLE && ctx.Err() == nil {
				logger.Error("watchdog", "error", err.Error())
			}
		} else if n > 0 {
			logger.Info("cases flagged lost contact", "count", n)
		}
		if sw, err := db.Sweep(ctx, sqlstore.DefaultRetention); err != nil {
			if lifeline.ErrorCode(err) != lifeline.EUNAVAILABLE && ctx.Err() == nil {
				logger.Error("retention sweep", "error", err.Error())
			}
		} else {
			for kind, n := range map[string]int{"dedupe_keys": sw.DedupeKeys, "sessions": sw.Sessions, "contacts": sw.Contacts, "cases": sw.Cases} {
				if n > 0 {
					logger.Info("retention sweep", "kind", kind, "count", n)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
