// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
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
}

func runDemo(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "demo", "demo [--data DIR] [--listen ADDR]")
	cfg := serveFlags(fs, "./lifeline-demo")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.noArgs(); err != nil {
		return err
	}
	level, err := cfg.validate("demo")
	if err != nil {
		return err
	}
	if err := checkDataDir(cfg.dataDir, true); err != nil {
		return err
	}
	// The demo's keys open from a file, so that it needs no custodians; a
	// real installation splits the unseal key into shares (lifeline init).
	cfg.autoUnsealFile = filepath.Join(cfg.dataDir, demoUnsealFile)
	kdir := filepath.Join(cfg.dataDir, keysDir)
	if _, err := os.Stat(filepath.Join(kdir, keys.KeyringFile)); errors.Is(err, os.ErrNotExist) {
		if _, err := keys.Init(kdir, keys.Options{DevFile: cfg.autoUnsealFile}); err != nil {
			return err
		}
	}
	login, err := seedDemo(ctx, e, cfg.dataDir, cfg.autoUnsealFile)
	if err != nil {
		return err
	}
	return serve(ctx, e, cfg, level, func(addr string) {
		base := "http://" + addr
		fmt.Fprintf(e.stdout, "\nLifeline demo running at %s  (data in %s; Ctrl-C stops it)\n\n", base, cfg.dataDir)
		fmt.Fprintf(e.stdout, "Try:\n  curl %s/healthz\n  curl %s/readyz\n  curl %s/metrics\n\n", base, base, base)
		fmt.Fprintf(e.stdout, "Demo logins (invented staff; the console arrives with a later release):\n%s\n", login)
	})
}

// seedDemo prepares a demo data directory: schema, invented operators and
// their credentials. It refuses a directory that holds a real installation.
func seedDemo(ctx context.Context, e env, dataDir, unsealFile string) (string, error) {
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
	signer, _, err := auditKeys(dataDir)
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
	loginPath := filepath.Join(dataDir, demoLoginFile)
	if b, err := os.ReadFile(loginPath); err == nil {
		return string(b), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}

	var b strings.Builder
	var h auth.Hasher
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
		err = db.CreateOperator(ctx, lifeline.CLIActor, op, sqlstore.Credentials{PasswordHash: hash, TOTPSecret: []byte(enr.Secret)})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  %-16s %-13s password %s  TOTP secret %s\n", d.username, d.role, password, enr.Secret)
	}
	if err := seedDemoCases(ctx, db); err != nil {
		return "", err
	}
	if err := writeFileSync(loginPath, []byte(b.String()), 0o600); err != nil {
		return "", err
	}
	if _, _, err := newCheckpointer(db, dataDir, signer).Checkpoint(ctx); err != nil {
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
// contact that wrote one message, sealed like real data.
func seedDemoCases(ctx context.Context, db *sqlstore.DB) error {
	for _, p := range demoPeople {
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
	}
	return nil
}
