// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/seal"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// Invented people and secrets of the seized-disk test.
const (
	s08ChatID       = 100001777 // a soldier writing on Telegram
	s08BlockedID    = 100001234 // a Telegram sender a supervisor blocked
	s08WaID         = "79990007777"
	s08Phone        = "+79990008888"
	s08TgText       = "канарейка-телеграм-Q7"
	s08WaText       = "canary-whatsapp-Z3"
	s08SMSText      = "canary-sms-K9"
	s08TgSecret     = "tg-webhook-secret-S08"
	s08WaPhoneID    = "106540352242922"
	s08WaAccess     = "EAAG-access-token-S08-zzzzzzzz"
	s08WaAppSecret  = "wa-app-secret-S08-yyyyyyyy"
	s08WaVerify     = "wa-verify-S08"
	s08TwilioToken  = "0123456789abcdef0123456789abcdef"
	s08TwilioNumber = "+447700900123"
	s08PublicURL    = "https://hotline.example"
)

// intakeKeyIDForTest is keys.intakeKeyID: the id the intake key's channel
// configurations name.
var intakeKeyIDForTest = seal.KeyID{'l', 'i', 'f', 'e', 'l', 'i', 'n', 'e', '-', 'i', 'n', 't', 'a', 'k', 'e'}

// intakeRefWith is keys.Keeper.IntakeRef under key k.
func intakeRefWith(k []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, k)
	for _, p := range parts {
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p))))
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// TestSeizedDiskYieldsNothing (S-08 extended, issue 11 §2): a real
// installation, sealed, takes messages on Telegram, WhatsApp and SMS, is
// unsealed (it greets, so outbound references would be stored) and sealed
// again; its data directory is copied and the server stopped. With
// everything in the copy — every file, every 32-byte string at every offset
// of the key files, every key written as base64 or hex, every 32-byte value
// of the database — nothing opens a channel configuration, no Telegram chat
// id in a small space matches a stored reference, and no text, handle, chat
// id or provider secret is in any file. A control proves the attack: with
// the intake key (kept outside the directory) the brute force finds the
// blocked chat id and the configurations open — without the send secrets,
// which only the unsealed keyring opens.
func TestSeizedDiskYieldsNothing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	intake := filepath.Join(root, "credstore", "lifeline-intake")
	env := map[string]string{"LIFELINE_INTAKE_KEY_FILE": intake}
	out := mustRun(t, env, "init", "--data", dir, "--shares", "3", "--threshold", "2")
	shares := shareLine.FindAllStringSubmatch(out, -1)
	mustRun(t, env, "migrate", "--data", dir)

	tg := channeltest.NewTelegramFake(testBotToken)
	defer tg.Close()
	wa := channeltest.NewWhatsAppFake(s08WaPhoneID, s08WaAccess)
	defer wa.Close()
	mustRun(t, env, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--bot-token", testBotToken, "--webhook-secret", s08TgSecret, "--api-url", tg.URL())
	mustRun(t, env, "channel", "add", "whatsapp", "--data", dir, "--name", "wa", "--phone-number-id", s08WaPhoneID,
		"--access-token", s08WaAccess, "--app-secret", s08WaAppSecret, "--verify-token", s08WaVerify, "--api-url", wa.APIURL())
	account := channeltest.TwilioSID("AC")
	mustRun(t, env, "channel", "add", "twilio", "--data", dir, "--name", "sms", "--account-sid", account,
		"--auth-token", s08TwilioToken, "--number", s08TwilioNumber, "--api-url", "http://127.0.0.1:9")
	mustRun(t, env, "sender", "block", "--data", dir, "--kind", "telegram", "--id", strconv.Itoa(s08BlockedID), "--reason", "provocation")

	srv := mustStartServe(t, env, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--public-url", s08PublicURL)
	base := "http://" + srv.public // the webhooks' door
	post := func(what string, req *http.Request) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s while sealed: got %d, want 200", what, resp.StatusCode)
		}
	}
	resp, err := channeltest.PostTelegram(base+"/hooks/telegram/bot", s08TgSecret, channeltest.TelegramUpdate(9001, s08ChatID, s08TgText))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("telegram while sealed: %v %v", resp, err)
	}
	resp.Body.Close()
	body := channeltest.WhatsAppTextWebhook(s08WaPhoneID, s08WaID, "Invented Name", "wamid.S08", s08WaText, time.Now().Unix())
	req := channeltest.WhatsAppWebhookRequest(base+"/hooks/whatsapp/wa", body, s08WaAppSecret)
	req.RequestURI = ""
	post("whatsapp", req)
	form := channeltest.TwilioSMSForm(channeltest.TwilioSMS{AccountSID: account, From: s08Phone, To: s08TwilioNumber, Body: s08SMSText})
	path := webhookPath(lifeline.ChannelSMS, "sms")
	req, _ = http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", channeltest.SignTwilio(s08TwilioToken, s08PublicURL+path, form))
	post("sms", req)

	// Unsealed, the server greets (Telegram and WhatsApp answer), then is
	// sealed again before the copy.
	runLifelineInput(t, env, shares[0][1]+"\n"+shares[1][1]+"\n", "unseal", "--data", dir)
	waitFor(t, "greetings sent", srv.done, func() bool { return len(tg.Sent()) > 0 && len(wa.Sent()) > 0 })
	mustRun(t, env, "seal", "--data", dir)

	cp := filepath.Join(root, "copy")
	copyTree(t, dir, cp)
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}

	// 1. No canary in any file of the copy, in any common encoding.
	canaries := []string{s08TgText, s08WaText, s08SMSText, strconv.Itoa(s08ChatID), strconv.Itoa(s08BlockedID), s08WaID,
		strings.TrimPrefix(s08Phone, "+"), testBotToken, s08TgSecret, s08WaAccess, s08WaAppSecret, s08WaVerify, s08TwilioToken}
	files := map[string][]byte{}
	filepath.WalkDir(cp, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, rerr := os.ReadFile(p)
			if rerr != nil {
				t.Fatal(rerr)
			}
			files[p] = b
		}
		return nil
	})
	for p, b := range files {
		for _, c := range canaries {
			for _, form := range []string{c, hex.EncodeToString([]byte(c)), base64.StdEncoding.EncodeToString([]byte(c)), strings.ToLower(c)} {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("%s holds a canary (%d bytes of it)", strings.TrimPrefix(p, cp), len(c))
				}
			}
		}
	}

	// 2. Every key the copy holds.
	cands := map[[32]byte]bool{}
	add := func(b []byte) {
		for i := 0; i+32 <= len(b); i++ {
			cands[[32]byte(b[i:i+32])] = true
		}
	}
	encoded := regexp.MustCompile(`[A-Za-z0-9+/_-]{43,}={0,2}|[0-9a-fA-F]{64,}`)
	dbPath := filepath.Join(cp, sqlstore.FileName)
	for p, b := range files {
		if !strings.HasPrefix(filepath.Base(p), filepath.Base(dbPath)) {
			add(b)
		}
		for _, tok := range encoded.FindAll(b, -1) {
			s := strings.TrimRight(string(tok), "=")
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				if d, err := enc.DecodeString(s); err == nil {
					add(d)
				}
			}
			if d, err := hex.DecodeString(string(tok)); err == nil {
				add(d)
			}
		}
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var configs []sqlstore.StoredChannel
	refs := map[[8]byte]bool{} // every stored value's first 8 bytes, and every hex token's (the audit log names a blocked sender by 8)
	hexTok := regexp.MustCompile(`[0-9a-f]{16,}`)
	func() {
		tables, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for tables.Next() {
			var n string
			tables.Scan(&n)
			names = append(names, n)
		}
		tables.Close()
		for _, n := range names {
			rows, err := db.Query(`SELECT * FROM "` + n + `"`)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				rows.Scan(ptrs...)
				for _, v := range vals {
					switch b := v.(type) {
					case []byte:
						add(b)
						if len(b) >= 8 {
							refs[[8]byte(b[:8])] = true
						}
					case string:
						for _, tok := range hexTok.FindAllString(b, -1) {
							if d, err := hex.DecodeString(tok[:16]); err == nil {
								refs[[8]byte(d)] = true
							}
						}
					}
				}
			}
			rows.Close()
		}
		rows, err := db.Query(`SELECT kind, name, config FROM channels`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var c sqlstore.StoredChannel
			rows.Scan(&c.Kind, &c.Name, &c.Config)
			configs = append(configs, c)
		}
	}()
	if len(configs) != 3 {
		t.Fatalf("got %d channel configurations in the copy, want 3", len(configs))
	}
	t.Logf("keys tried: %d candidates from %d files", len(cands), len(files))

	openConfig := func(k [32]byte, c sqlstore.StoredChannel) ([]byte, error) {
		return seal.Decrypt(seal.DataKey{ID: intakeKeyIDForTest, Key: seal.Key(k)}, channelAAD(c.Kind, c.Name), c.Config)
	}
	findChat := func(k [32]byte) []int {
		var found []int
		for id := 100001000; id < 100002000; id++ {
			if r := intakeRefWith(k[:], "telegram", "sender", strconv.Itoa(id)); refs[[8]byte(r[:8])] {
				found = append(found, id)
			}
		}
		return found
	}

	// 3. Control: the intake key, which is not in the copy, would do it.
	ik, err := os.ReadFile(intake)
	if err != nil || len(ik) != 32 {
		t.Fatalf("intake key: %v", err)
	}
	if cands[[32]byte(ik)] {
		t.Fatal("the intake key is in the copy")
	}
	if got := findChat([32]byte(ik)); len(got) != 1 || got[0] != s08BlockedID {
		t.Fatalf("control: brute force with the intake key found %v, want the blocked chat id", got)
	}
	for _, c := range configs {
		plain, err := openConfig([32]byte(ik), c)
		if err != nil {
			t.Fatalf("control: %s configuration does not open with the intake key: %v", c.Kind, err)
		}
		var cfg channelConfig
		json.Unmarshal(plain, &cfg)
		if cfg.BotToken != "" || cfg.AccessToken != "" {
			t.Errorf("%s: the intake key opens a send secret (bot token %v, access token %v), want them only under the keyring", c.Kind, cfg.BotToken != "", cfg.AccessToken != "")
		}
	}

	// 4. The attack with everything in the copy.
	var opened, matched int
	for k := range cands {
		for _, c := range configs {
			if _, err := openConfig(k, c); err == nil {
				opened++
			}
		}
		if len(findChat(k)) > 0 {
			matched++
		}
	}
	if opened > 0 || matched > 0 {
		t.Errorf("with the copy alone: %d configurations opened, %d keys confirmed a chat id; want none", opened, matched)
	}

	// 5. Telegram sends no statuses: no outbound reference is stored.
	var sent, withRef int
	if err := db.QueryRow(`SELECT COUNT(*), COUNT(m.provider_ref) FROM messages m JOIN contacts c ON c.id = m.contact_id
		WHERE c.channel = 'telegram' AND m.direction = 'out' AND m.status = 'sent'`).Scan(&sent, &withRef); err != nil {
		t.Fatal(err)
	}
	if sent == 0 || withRef != 0 {
		t.Errorf("telegram outbound: %d sent, %d with a provider reference; want some sent, none with one", sent, withRef)
	}
}

// copyTree copies the regular files of src into dst, as a thief imaging a
// disk would (the database's WAL included).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil // the control socket
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
