// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// demoUnsealFile holds the demo's unseal key: demo only.
const demoUnsealFile = "dev-unseal-key"

// demoLoginFile keeps the invented demo accounts' credentials, so that every
// run of the demo can show them again. Only a demo data directory has it.
const demoLoginFile = "demo-login.txt"

// demoOperators are the invented staff of the demo.
var demoOperators = []struct {
	username string
	role     lifeline.Role
}{
	{"demo-supervisor", lifeline.RoleSupervisor},
	{"demo-intake", lifeline.RoleIntake},
	{"demo-officer", lifeline.RoleCaseOfficer},
	{"demo-verifier", lifeline.RoleVerification},
}

func runDemo(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "demo", "demo [--data DIR] [--listen ADDR] [--console-listen ADDR]")
	cfg := serveFlags(fs, "./lifeline-demo")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	level, err := cfg.validate("demo")
	if err != nil {
		return err
	}
	if err := checkDataDir(cfg.dataDir, true); err != nil {
		return err
	}
	// One server per data directory, before the demo seeds it.
	lock, err := lockDataDir(cfg.dataDir, "demo")
	if err != nil {
		return err
	}
	defer lock.release()
	cfg.lock = lock
	// The registration bot greets every new soldier in the demo.
	cfg.questionnaire = true
	// The console's own requests would bury the logins printed below.
	cfg.quietRequests = true
	// The demo's keys open from a file, so that it needs no custodians; a
	// real installation splits the unseal key into shares (lifeline init).
	cfg.autoUnsealFile = filepath.Join(cfg.dataDir, demoUnsealFile)
	kdir := filepath.Join(cfg.dataDir, keysDir)
	if _, err := os.Stat(filepath.Join(kdir, keys.KeyringFile)); errors.Is(err, os.ErrNotExist) {
		if _, err := keys.Init(kdir, keys.Options{DevFile: cfg.autoUnsealFile}); err != nil {
			return err
		}
	}
	// A fake Telegram on the loopback stands in for the real one: the
	// demo's bot sends its replies there, and invented soldiers write in
	// through it.
	fake := channeltest.NewTelegramFake(demoBotToken)
	defer fake.Close()
	login, err := seedDemo(ctx, e, cfg.dataDir, cfg.autoUnsealFile, fake.URL())
	if err != nil {
		return err
	}
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	return serve(ctx, e, cfg, level, func(public, private string) {
		base, hooks := "http://"+private, "http://"+public
		fmt.Fprintf(e.stdout, "\nLifeline demo running at %s  (data in %s; Ctrl-C stops it)\n", base, cfg.dataDir)
		fmt.Fprintf(e.stdout, "  private door (console, API, unseal, /readyz, /metrics): %s\n", base)
		fmt.Fprintf(e.stdout, "  public door (webhooks and /healthz only; 404 for the rest): %s\n\n", hooks)
		fmt.Fprintf(e.stdout, "Try:\n  curl %s/healthz\n  curl %s/readyz\n  curl %s/metrics\n", hooks, base, base)
		fmt.Fprintf(e.stdout, "  curl -H \"Authorization: Bearer $TOKEN\" %s/api/v1/conversations\n\n", base)
		fmt.Fprintf(e.stdout, "Open the console at %s/ and sign in as demo-intake (or demo-supervisor; demo-officer and demo-verifier\n", base)
		fmt.Fprintf(e.stdout, "share a case) with the password below and the current TOTP code printed every 30 seconds (or add the\n")
		fmt.Fprintf(e.stdout, "TOTP secret to an authenticator app). Requests are not logged; --log-level debug shows them.\n\n")
		fmt.Fprintf(e.stdout, "Demo logins and API token (invented staff):\n%s\n", login)
		fmt.Fprintf(e.stdout, "As a demo, the staff and the token above were seeded approved and enrolled directly. In a real\n")
		fmt.Fprintf(e.stdout, "installation `lifeline user add` makes an account pending until a supervisor approves it in the\n")
		fmt.Fprintf(e.stdout, "console, and each operator makes his own API token there (API tokens page).\n\n")
		go printDemoCodes(simCtx, e, login)
		fmt.Fprintf(e.stdout, "Invented soldiers write to the demo bot over the next minute (a fake Telegram at %s, posting to the public door).\n", fake.URL())
		go simulateSoldiers(simCtx, hooks+webhookPath(lifeline.ChannelTelegram, demoChannel), e)
	})
}

// demoCanned are the demo's canned answers: the kind a supervisor writes.
var demoCanned = []sqlstore.CannedAnswer{
	{Language: "ru", Title: "Первый ответ", Body: "Здравствуйте, {имя}. Вы написали на линию «Хочу жить». Вы в безопасности, пока пишете нам. Ответьте, пожалуйста: где вы сейчас находитесь (область, без точного места)?"},
	{Language: "ru", Title: "Безопасность переписки", Body: "Пожалуйста, удаляйте переписку после каждого сеанса связи и не пишите нам при сослуживцах."},
	{Language: "ru", Title: "Ждите связи", Body: "Мы получили ваши данные. Оператор свяжется с вами {когда}. До этого ничего не предпринимайте."},
	{Language: "uk", Title: "Родичам", Body: "Добрий день. Ми отримали ваше повідомлення про {ім'я}. Оператор відповість найближчим часом."},
	{Language: "en", Title: "Acknowledgement", Body: "Hello. Your message has reached the hotline. An operator will answer shortly."},
}

// printDemoCodes prints the demo staff's current TOTP codes every time
// step for half an hour, so that a newcomer can sign in to the console
// without an authenticator app. Demo accounts only: a real account's seed
// is shown once, at enrolment, as a QR code.
func printDemoCodes(ctx context.Context, e env, login string) {
	secrets := demoSecret.FindAllStringSubmatch(login, -1)
	if len(secrets) == 0 {
		return
	}
	deadline := time.Now().Add(30 * time.Minute)
	for {
		now := time.Now()
		var b strings.Builder
		for _, m := range secrets {
			code, err := totp.GenerateCodeCustom(m[2], now, totp.ValidateOpts{Period: auth.TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
			if err == nil {
				fmt.Fprintf(&b, "  %s %s", m[1], code)
			}
		}
		fmt.Fprintf(e.stdout, "Demo TOTP codes (valid ~30 s):%s\n", b.String())
		next := now.Truncate(auth.TOTPPeriod * time.Second).Add(auth.TOTPPeriod * time.Second)
		if next.After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
	}
}

// demoSecret finds the username and TOTP secret of each demo login line.
var demoSecret = regexp.MustCompile(`(?m)^  (demo-[a-z]+)\s.*TOTP secret ([A-Z2-7]+)$`)

// The demo's Telegram channel.
const (
	demoChannel       = "demo"
	demoBotToken      = "100000:demo-bot-token"
	demoWebhookSecret = "demo-webhook-secret"
)

// demoAnswers are an invented soldier's answers to the default
// questionnaire, from his first message to the end.
var demoAnswers = []string{
	"Здравствуйте. Хочу сдаться.", "1", "1", "Демонстрационный Иван Петрович", "01.02.1993", "в/ч 00000 (выдумано)",
	"рядовой", "ДЕМО-000001", "Белгородская область", "только Telegram, вечером", "1", "1", "Демонстрационная Мария",
	"пропустить", "Курская область", "Да", "2",
}

// demoSoldiers are what invented soldiers write in the demo, one script
// each. Like most real ones they ask before they answer anything, and the
// bot hands them to operators: a question at once (a first message, or an
// answer, that asks), other free text it cannot use on the second try. Each
// then waits in the inbox with a timer, a place and the bot's chip.
var demoSoldiers = [][]string{
	// Asks in his first message: handed over before any question.
	{"Здравствуйте. Я видел ваше видео. Это правда, что можно сдаться?", "Я могу писать только ночью."},
	// Writes past the language question twice: the hint, then the hand-off.
	{"Добрый вечер.", "Меня зовут Демьян, я мобилизован.", "Нас отправляют через неделю, я хочу успеть до того."},
	// Starts the questionnaire, then asks instead of giving his name.
	{"Здравствуйте", "1", "1", "Как это сделать безопасно?"},
	// Answers the language question with his family's question.
	{"Привет", "Жена просит узнать, что будет с семьёй."},
}

// simulateSoldiers posts invented soldiers' Telegram updates to the demo's
// webhook, signed as Telegram signs them: a dozen over a minute, the
// soldiers taking turns, then it stops. Traffic stays on the loopback.
func simulateSoldiers(ctx context.Context, hook string, e env) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	base := time.Now().Unix() % 1_000_000 * 100
	update := int64(0)
	for turn := 0; ; turn++ {
		wrote := false
		for i, lines := range demoSoldiers {
			if turn >= len(lines) {
				continue
			}
			wrote = true
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			body := channeltest.TelegramUpdate(base+update, 200000001+int64(i), lines[turn])
			update++
			resp, err := channeltest.PostTelegram(hook, demoWebhookSecret, body)
			if err != nil {
				return
			}
			resp.Body.Close()
		}
		if !wrote {
			break
		}
	}
	// One of them answers the bot's registration questionnaire to the end:
	// his case appears in registered, with his wife to be relocated.
	for i, a := range demoAnswers {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		body := channeltest.TelegramUpdate(base+100+int64(i), 200000099, a)
		resp, err := channeltest.PostTelegram(hook, demoWebhookSecret, body)
		if err != nil {
			return
		}
		resp.Body.Close()
	}
	fmt.Fprintln(e.stdout, "The invented soldiers have written in; answer them in the console. One registered with the bot: see Cases as demo-supervisor.")
}

// seedDemo prepares a demo data directory: schema, invented operators and
// their credentials. It refuses a directory that holds a real installation.
func seedDemo(ctx context.Context, e env, dataDir, unsealFile, fakeTelegram string) (string, error) {
	keeper, err := keys.Open(filepath.Join(dataDir, keysDir))
	if err != nil {
		return "", err
	}
	defer keeper.Seal()
	if err := keeper.UnsealWithFile(unsealFile); err != nil {
		return "", err
	}
	db, err := openStoreWith(ctx, e, dataDir, migrateIfEmpty, sqlstore.Options{Sealer: keeper})
	if err != nil {
		return "", err
	}
	defer db.Close()
	// The demo bot points at this run's fake Telegram.
	ch := channelConfig{Kind: lifeline.ChannelTelegram, Name: demoChannel, BotToken: demoBotToken, WebhookSecret: demoWebhookSecret, APIURL: fakeTelegram}
	sealedCh, err := sealChannel(keeper, ch)
	if err != nil {
		return "", err
	}
	mark, err := db.Meta(ctx, "demo")
	if err != nil {
		return "", err
	}
	if mark != "1" {
		ops, err := db.Operators(ctx)
		if err != nil {
			return "", err
		}
		if len(ops) > 0 {
			return "", usageErrorf("demo: %s holds a real installation, not a demo; give demo its own --data", dataDir)
		}
		if err := db.SetMeta(ctx, "demo", "1"); err != nil {
			return "", err
		}
	}
	if err := db.SaveChannel(ctx, lifeline.CLIActor, sealedCh, true); err != nil {
		return "", err
	}
	loginPath := filepath.Join(dataDir, demoLoginFile)
	if b, err := os.ReadFile(loginPath); err == nil {
		return string(b), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}

	var b strings.Builder
	var h auth.Hasher
	staff := map[lifeline.Role]lifeline.OperatorID{}
	for _, d := range demoOperators {
		password := auth.GeneratePassword()
		hash, err := h.HashContext(ctx, password)
		if err != nil {
			return "", err
		}
		enr, err := auth.NewTOTPSecret("Lifeline demo", d.username)
		if err != nil {
			return "", err
		}
		op := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: d.username, Role: d.role}
		err = db.CreateOperator(ctx, lifeline.CLIActor, op, sqlstore.Credentials{PasswordHash: hash, TOTPSecret: []byte(enr.Secret), Enrolled: true})
		if err != nil {
			return "", err
		}
		staff[d.role] = op.ID
		fmt.Fprintf(&b, "  %-16s %-13s password %s  TOTP secret %s\n", d.username, d.role, password, enr.Secret)
	}
	if err := seedDemoCases(ctx, db, staff[lifeline.RoleCaseOfficer], staff[lifeline.RoleVerification]); err != nil {
		return "", err
	}
	for _, a := range demoCanned {
		if err := db.SaveCannedAnswer(ctx, lifeline.CLIActor, &a); err != nil {
			return "", err
		}
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		return "", err
	}
	tokenID, _ := auth.TokenID(token)
	if err := db.CreateToken(ctx, lifeline.CLIActor, demoOperators[0].username, tokenID, hash); err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "  API token of demo-supervisor: TOKEN=%s\n", token)
	if err := keys.WriteNewFile(loginPath, []byte(b.String()), 0o600); err != nil {
		return "", err
	}
	if _, _, err := newCheckpointer(db, dataDir, keeper).Checkpoint(ctx); err != nil {
		return "", err
	}
	return b.String(), nil
}

// demoPeople are invented: no name, number or unit here belongs to anyone.
var demoPeople = []struct {
	name, unit, rank, service, phone, telegram, message string
}{
	{"Демид Вымыслов", "в/ч 00000 (демо)", "рядовой", "ДЕ-000001", "+79990000001", "100000001", "Здравствуйте. Я хочу сдаться. Что мне делать?"},
	{"Тестомир Примеров", "в/ч 00000 (демо)", "сержант", "ДЕ-000002", "+79990000002", "100000002", "Меня отправляют на фронт через неделю."},
	{"Образцов Пётр", "в/ч 00000 (демо)", "младший сержант", "ДЕ-000003", "+79990000003", "100000003", "Как связаться с вами безопасно?"},
}

// seedDemoCases adds invented cases, each with an applicant and a Telegram
// contact that wrote one message, sealed like real data; the first is
// assigned to the demo's case officer and verification officer, so that
// each sees a case of his own.
func seedDemoCases(ctx context.Context, db *sqlstore.DB, officer, verifier lifeline.OperatorID) error {
	for i, p := range demoPeople {
		c, err := lifeline.NewCase(lifeline.StreamSurrender, time.Now())
		if err != nil {
			return err
		}
		if err := db.CreateCase(ctx, lifeline.CLIActor, c); err != nil {
			return err
		}
		person := &lifeline.Person{
			ID: lifeline.NewPersonID(), CaseID: c.ID, Relation: lifeline.RelationApplicant,
			Name: lifeline.Sensitive(p.name), Unit: lifeline.Sensitive(p.unit), Rank: lifeline.Sensitive(p.rank),
			ServiceNumber: lifeline.Sensitive(p.service), Phone: lifeline.Sensitive(p.phone),
		}
		if err := db.AddPerson(ctx, lifeline.CLIActor, person); err != nil {
			return err
		}
		contact := &lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(p.telegram), CaseID: c.ID}
		if err := db.CreateContact(ctx, contact); err != nil {
			return err
		}
		msg := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: contact.ID, Direction: lifeline.Inbound, Body: lifeline.Sensitive(p.message)}
		if err := db.AddMessage(ctx, msg); err != nil {
			return err
		}
		if i == 0 {
			if err := db.AssignCase(ctx, lifeline.CLIActor, c.ID, officer, verifier); err != nil {
				return err
			}
		}
	}
	return nil
}

// quietRequests is a log handler that moves the access log's lines of
// answered requests (info level: successes and client errors) to debug;
// server errors, at warn, stay.
type quietRequests struct{ slog.Handler }

func (q quietRequests) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "request" && r.Level == slog.LevelInfo {
		if !q.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietRequests) WithAttrs(as []slog.Attr) slog.Handler {
	return quietRequests{q.Handler.WithAttrs(as)}
}

func (q quietRequests) WithGroup(name string) slog.Handler {
	return quietRequests{q.Handler.WithGroup(name)}
}
