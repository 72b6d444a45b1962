// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/keys"
)

// keysDir is the folder of a data directory that holds the keys.
const keysDir = "keys"

func runInit(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "init", "init --intake-key FILE [--shares N] [--threshold K] [--data DIR]  |  init --dev-unseal-file F [--data DIR]")
	dataDir := dataDirFlag(fs)
	intakeKey := intakeKeyFlag(fs)
	shares := fs.Int("shares", 5, "how many unseal shares to print (custodians)")
	threshold := fs.Int("threshold", 3, "how many shares unseal")
	devFile := fs.String("dev-unseal-file", "", "DEMO AND DEVELOPMENT ONLY: write the unseal key to this file instead of splitting it")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if *threshold < 2 || *shares < *threshold || *shares > 255 {
		return usageErrorf("init: want 2 <= --threshold <= --shares <= 255")
	}
	if err := checkDataDir(*dataDir, true); err != nil {
		return err
	}
	ikPath := intakeKeyPath(e, *intakeKey, *dataDir)
	if *devFile == "" && insideDir(ikPath, *dataDir) {
		// A copy of the data directory must not open the webhook secrets
		// and references: serve refuses a real installation's intake key there.
		return usageErrorf("init: give --intake-key FILE outside the data directory (for systemd, see the README: LoadCredentialEncrypted); only --dev-unseal-file installs keep it inside")
	}
	// The audit log's signing key is sealed in the keyring (checkpoints
	// are signed only unsealed); its public half is published beside the
	// log for verifiers.
	auditKey, err := newAuditKey()
	if err != nil {
		return err
	}
	defer clear(auditKey)
	out, err := keys.Init(filepath.Join(*dataDir, keysDir), keys.Options{Shares: *shares, Threshold: *threshold, DevFile: *devFile, IntakeKey: ikPath, AuditKey: auditKey})
	if err != nil {
		return err
	}
	if err := publishVerifier(*dataDir, auditKey); err != nil {
		return err
	}
	if *devFile != "" {
		fmt.Fprintf(e.stdout, "Keys created. The unseal key is in %s: for demos and development only.\n", *devFile)
		return nil
	}
	fmt.Fprintf(e.stdout, "Keys created. Unseal shares (%d of %d unseal):\n\n", *threshold, *shares)
	for _, s := range out {
		fmt.Fprintf(e.stdout, "  %s\n", s)
	}
	fmt.Fprintln(e.stdout, "\nGive each share to a different custodian now. They are shown only this once and stored nowhere;")
	fmt.Fprintf(e.stdout, "with fewer than %d of them the data can never be read again.\n", *threshold)
	return nil
}

// withServer runs a command that takes only --data and talks to the server
// running on that data directory over its control socket.
func withServer(e env, args []string, cmd, usage string, fn func(c *controlClient) error) error {
	fs := newFlagSet(e, cmd, usage)
	dataDir := dataDirFlag(fs)
	if err := fs.parseAll(args); err != nil {
		return err
	}
	c, err := dialControl(*dataDir)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

func runUnseal(ctx context.Context, e env, args []string) error {
	return withServer(e, args, "unseal", "unseal [--data DIR]   (reads one share per line from standard input)", func(c *controlClient) error {
		return unseal(e, c)
	})
}

func unseal(e env, c *controlClient) error {
	st, err := c.do(controlRequest{Op: "status"})
	if err != nil {
		return err
	}
	if !st.Sealed {
		fmt.Fprintln(e.stdout, "The server is already unsealed.")
		return nil
	}
	in := bufio.NewScanner(e.stdin)
	for {
		fmt.Fprintf(e.stderr, "Share %d of %d: ", st.Have+1, st.Need)
		if !in.Scan() {
			return fmt.Errorf("unseal: %d of %d shares given; the server stays sealed", st.Have, st.Need)
		}
		share := strings.TrimSpace(in.Text())
		if share == "" {
			continue
		}
		st, err = c.do(controlRequest{Op: "unseal", Share: share})
		if err != nil {
			fmt.Fprintf(e.stderr, "refused: %v\n", err)
			continue
		}
		if !st.Sealed {
			fmt.Fprintln(e.stdout, "Unsealed.")
			return nil
		}
	}
}

func runSeal(ctx context.Context, e env, args []string) error {
	return withServer(e, args, "seal", "seal [--data DIR]", func(c *controlClient) error {
		if _, err := c.do(controlRequest{Op: "seal"}); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "Sealed: the server holds no private key now; intake goes on.")
		return nil
	})
}

func runKeys(ctx context.Context, e env, args []string) error {
	return subcommand(ctx, e, "keys", args, map[string]func(context.Context, env, []string) error{
		"status": runKeysStatus, "rotate": runKeysRotate, "panic": runKeysPanic, "upgrade": runKeysUpgrade, "rekey": runKeysRekey,
	}, "status|rotate|panic|upgrade|rekey")
}

func runKeysStatus(ctx context.Context, e env, args []string) error {
	return withServer(e, args, "keys status", "keys status [--data DIR]", func(c *controlClient) error {
		st, err := c.do(controlRequest{Op: "status"})
		if err != nil {
			return err
		}
		if st.Sealed {
			fmt.Fprintf(e.stdout, "sealed (%d of %d shares given)\n", st.Have, st.Need)
		} else {
			fmt.Fprintln(e.stdout, "unsealed")
		}
		return nil
	})
}

func runKeysRotate(ctx context.Context, e env, args []string) error {
	return withServer(e, args, "keys rotate", "keys rotate [--data DIR]", func(c *controlClient) error {
		resp, err := c.do(controlRequest{Op: "rotate"})
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, resp.Detail)
		return nil
	})
}

// panicPhrase must be typed to destroy the keys.
const panicPhrase = "DESTROY ALL KEYS"

func runKeysPanic(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "keys panic", "keys panic [--intake-key FILE] [--data DIR]   (asks for a typed confirmation)")
	dataDir := dataDirFlag(fs)
	intakeKey := intakeKeyFlag(fs)
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if err := checkDataDir(*dataDir, false); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "This destroys every key: all case data, backups included, becomes unreadable for good.\nType %s to go on: ", panicPhrase)
	in := bufio.NewScanner(e.stdin)
	if !in.Scan() || strings.TrimSpace(in.Text()) != panicPhrase {
		return errors.New("keys panic: not confirmed; nothing destroyed")
	}
	// A running server drops its keys from memory first.
	if c, err := dialControl(*dataDir); err == nil {
		c.do(controlRequest{Op: "seal"})
		c.Close()
	}
	// The audit entry comes first: if it cannot be written, the keys stay
	// (Panic itself is never blocked by anything else).
	if db, err := openStore(ctx, e, *dataDir, requireCurrent); err == nil {
		aerr := db.Audit(ctx, lifeline.CLIActor, "keys.panic", "", "")
		db.Close()
		if aerr != nil {
			return fmt.Errorf("keys panic: audit: %w", aerr)
		}
	}
	// The intake key (kept elsewhere) and a plaintext audit signing key
	// left by an older version go too; the audit seed is in the keyring.
	// Under systemd name the encrypted credential's file (--intake-key
	// /etc/credstore.encrypted/lifeline-intake): with the keyring gone it
	// would still open the webhook secrets and confirm references.
	also := []string{filepath.Join(*dataDir, auditSignerFile), intakeKeyPath(e, *intakeKey, *dataDir)}
	if err := keys.Panic(filepath.Join(*dataDir, keysDir), also...); err != nil {
		return fmt.Errorf("keys panic: %w", err)
	}
	fmt.Fprintln(e.stdout, "All keys destroyed.")
	return nil
}

// runKeysUpgrade moves an installation made before issue 11 to the intake
// key outside the data directory: it copies keys/intake to --intake-key
// (unless that file exists), authenticates the compartments file under it,
// and shreds the copy in the data directory. Run it once, the server
// stopped; the next unseal adds the keyring's own MAC and pins.
// runKeysRekey makes new unseal shares (a custodian left): a quorum of the
// current ones, one per line on standard input, opens the keyring; new
// shares are printed; the old ones open nothing from then on. The server
// must be stopped: it re-seals the keyring under the unseal key it holds.
func runKeysRekey(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "keys rekey", "keys rekey [--shares N] [--threshold K] [--data DIR]   (the server stopped; reads the current shares, one per line, from standard input)")
	dataDir := dataDirFlag(fs)
	shares := fs.Int("shares", 0, "how many new shares (default: as many as before)")
	threshold := fs.Int("threshold", 0, "how many of them unseal (default: as many as before)")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if (*shares == 0) != (*threshold == 0) || *shares != 0 && (*threshold < 2 || *shares < *threshold || *shares > 255) {
		return usageErrorf("keys rekey: give both --shares and --threshold (2 <= --threshold <= --shares <= 255), or neither")
	}
	if err := checkDataDir(*dataDir, false); err != nil {
		return err
	}
	lock, err := lockDataDir(*dataDir, "keys rekey")
	if err != nil {
		return err
	}
	defer lock.release()
	var current []string
	in := bufio.NewScanner(e.stdin)
	for in.Scan() {
		if s := strings.TrimSpace(in.Text()); s != "" {
			current = append(current, s)
		}
	}
	out, err := keys.Rekey(filepath.Join(*dataDir, keysDir), current, *shares, *threshold)
	for i := range current {
		current[i] = ""
	}
	if err != nil {
		return fmt.Errorf("keys rekey: %w", err)
	}
	if db, err := openStore(ctx, e, *dataDir, requireCurrent); err == nil {
		if err := db.Audit(ctx, lifeline.CLIActor, "keys.rekey", "", fmt.Sprintf("shares=%d", len(out))); err != nil {
			fmt.Fprintf(e.stderr, "keys rekey: done, but the audit entry failed: %v\n", err)
		}
		db.Close()
	}
	fmt.Fprintf(e.stdout, "Rekeyed. New unseal shares (the old ones open nothing now):\n\n")
	for _, s := range out {
		fmt.Fprintf(e.stdout, "  %s\n", s)
	}
	fmt.Fprintln(e.stdout, "\nGive each share to a different custodian now. They are shown only this once and stored nowhere.")
	return nil
}

func runKeysUpgrade(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "keys upgrade", "keys upgrade --intake-key FILE [--data DIR]   (the server stopped)")
	dataDir := dataDirFlag(fs)
	intakeKey := intakeKeyFlag(fs)
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if err := checkDataDir(*dataDir, false); err != nil {
		return err
	}
	if _, err := dialControl(*dataDir); err == nil {
		return errors.New("keys upgrade: stop the server first")
	}
	kdir := filepath.Join(*dataDir, keysDir)
	dst := intakeKeyPath(e, *intakeKey, *dataDir)
	inside := filepath.Join(kdir, keys.IntakeFile)
	if insideDir(dst, *dataDir) {
		return usageErrorf("keys upgrade: --intake-key must name a file outside the data directory")
	}
	if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
		b, err := os.ReadFile(inside)
		if err != nil {
			return fmt.Errorf("keys upgrade: %v", pathErr(err))
		}
		err = keys.WriteNewFile(dst, b, 0o600)
		clear(b)
		if err != nil {
			return fmt.Errorf("keys upgrade: %w", err)
		}
	}
	if err := keys.UpgradeIntake(kdir, dst); err != nil {
		return fmt.Errorf("keys upgrade: %w", err)
	}
	if err := keys.Shred(inside); err != nil {
		return fmt.Errorf("keys upgrade: shred %s: %w", inside, err)
	}
	fmt.Fprintf(e.stdout, "The intake key is in %s now, the copy in the data directory shredded, and the compartments file authenticated under it.\nStart serve with --intake-key %s; the next unseal authenticates the compartments file under the keyring too.\n", dst, dst)
	return nil
}
