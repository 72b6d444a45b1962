// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

// Tests of the store on real keys (SECURITY.md §3): S-08 plaintext at rest,
// S-09 crypto-shredding, S-10 rotation under load, S-20 sealed mode, and the
// binding of sealed fields to their rows. Each seeds invented cases whose
// every sensitive field carries a unique canary; -short shrinks the counts,
// never the assertions.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/logs"
	"github.com/lifeline-hotline/lifeline/internal/seal"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// SealedStore is a migrated store on keys of its own, laid out as `lifeline
// init --dev-unseal-file` and `serve --auto-unseal-file` lay out a data
// directory.
type SealedStore struct {
	*sqlstore.DB
	Keeper  *keys.Keeper
	Root    string // the test's own directory: data dir, dev file, backups
	DataDir string // lifeline.db, its WAL and SHM, keys/
	KeysDir string
	DevFile string // the dev unseal file, outside DataDir as a deployment keeps it
}

// DBPath is the database file of the store.
func (s *SealedStore) DBPath() string { return filepath.Join(s.DataDir, sqlstore.FileName) }

// MustOpenSealedStore initializes keys in a temporary data directory,
// unseals them with the dev file and opens a migrated store on them.
func MustOpenSealedStore(t testing.TB) *SealedStore {
	t.Helper()
	root := t.TempDir()
	s := &SealedStore{Root: root, DataDir: filepath.Join(root, "data"), DevFile: filepath.Join(root, "dev-unseal-key")}
	s.KeysDir = filepath.Join(s.DataDir, "keys")
	if _, err := keys.Init(s.KeysDir, keys.Options{DevFile: s.DevFile}); err != nil {
		t.Fatalf("init keys: %v", err)
	}
	s.Keeper = MustOpenKeeper(t, s.KeysDir, s.DevFile)
	s.DB = MustOpenStoreAt(t, s.DBPath(), s.Keeper)
	if _, err := s.DB.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// MustOpenKeeper opens the keys of dir, as after a restart, and unseals them
// with devFile unless it is empty.
func MustOpenKeeper(t testing.TB, dir, devFile string) *keys.Keeper {
	t.Helper()
	k, err := keys.Open(dir)
	if err != nil {
		t.Fatalf("open keys: %v", err)
	}
	if devFile != "" {
		if err := k.UnsealWithFile(devFile); err != nil {
			t.Fatalf("unseal: %v", err)
		}
	}
	return k
}

// MustOpenStoreAt opens the SQLite database at path with sealer, closed at
// the end of the test.
func MustOpenStoreAt(t testing.TB, path string, sealer sqlstore.Sealer) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{Sealer: sealer})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// count returns full, or short under -short.
func count(full, short int) int {
	if testing.Short() {
		return short
	}
	return full
}

// A seededCase is one invented case as written, with the canaries its
// sensitive fields carry.
type seededCase struct {
	Case     *lifeline.Case
	Person   lifeline.Person
	Contact  lifeline.Contact
	Messages []lifeline.Message
	Canaries []string
}

// newSeededCase invents case number i (1 to 9999): an applicant whose every
// field carries a canary in Latin, Russian or Ukrainian script, or a phone,
// service or document number; a contact on a channel that depends on i; two
// messages.
func newSeededCase(i int) seededCase {
	n := fmt.Sprintf("%04d", i)
	local := fmt.Sprintf("8 (916) 555-%02d-%02d", i/100, i%100)
	latin := "Ivan Canaryx" + n
	russian := "Иван Канарейкин" + n
	ukrainian := "Іван Ґалаїщенко-Єнарейченко" + n // і, ї, є, ґ
	place := "с. Їжаківка-Ґєнарейка" + n
	birth := "1990-canarybirth-" + n
	unit := "в/ч Канарейка-" + n
	rank := "лейтенант Канарейко" + n
	service := fmt.Sprintf("АБ-%06d", 123456+i)
	document := fmt.Sprintf("4510 %06d", 700000+i)
	phone := "+7916555" + n
	msgA := "сдаться-канарейка" + n
	msgB := "MsgCanaryA" + n
	msgC := "Їжак-повідомлення" + n
	msgD := "MsgCanaryB" + n

	var ch lifeline.ChannelKind
	var handle string
	switch i % 4 {
	case 0, 1:
		ch, handle = lifeline.ChannelTelegram, fmt.Sprintf("5%09d", 123000000+i)
	case 2:
		ch, handle = lifeline.ChannelWhatsApp, "7926777"+n
	default:
		ch, handle = lifeline.ChannelSMS, "+7926777"+n
	}
	c := lifeline.Contact{ID: lifeline.NewContactID(), Channel: ch, Handle: lifeline.Sensitive(handle)}
	return seededCase{
		Person: lifeline.Person{
			ID: lifeline.NewPersonID(), Relation: lifeline.RelationApplicant,
			Name:           lifeline.Sensitive(latin + " / " + russian + " / " + ukrainian),
			BirthDate:      lifeline.Sensitive(birth),
			Unit:           lifeline.Sensitive(unit),
			Rank:           lifeline.Sensitive(rank),
			ServiceNumber:  lifeline.Sensitive(service),
			DocumentNumber: lifeline.Sensitive(document),
			Whereabouts:    lifeline.Sensitive(place + ", тел. " + local),
			Phone:          lifeline.Sensitive(phone),
		},
		Contact: c,
		Messages: []lifeline.Message{
			{ID: lifeline.NewMessageID(), ContactID: c.ID, Direction: lifeline.Inbound,
				Body: lifeline.Sensitive("Хочу " + msgA + ", where do I go? " + msgB)},
			{ID: lifeline.NewMessageID(), ContactID: c.ID, Direction: lifeline.Outbound,
				Body: lifeline.Sensitive("Дякую, " + msgC + "; stay safe " + msgD)},
		},
		Canaries: []string{latin, russian, ukrainian, place, birth, unit, rank, service, document, phone, local,
			handle, msgA, msgB, msgC, msgD},
	}
}

// createCase stores a new case, drawing another code name on a clash.
func createCase(db *sqlstore.DB) (*lifeline.Case, error) {
	for range 10 {
		c, err := lifeline.NewCase(lifeline.StreamSurrender, time.Now())
		if err != nil {
			return nil, err
		}
		err = db.CreateCase(context.Background(), lifeline.CLIActor, c)
		if lifeline.ErrorCode(err) == lifeline.ECONFLICT {
			continue
		}
		return c, err
	}
	return nil, errors.New("no free code name in 10 draws")
}

// writeCase stores sc: case, applicant, contact linked to the case, messages.
func writeCase(db *sqlstore.DB, sc *seededCase) error {
	ctx := context.Background()
	c, err := createCase(db)
	if err != nil {
		return fmt.Errorf("create case: %w", err)
	}
	sc.Case = c
	sc.Person.CaseID = c.ID
	sc.Contact.CaseID = c.ID
	if err := db.AddPerson(ctx, lifeline.CLIActor, &sc.Person); err != nil {
		return fmt.Errorf("add person: %w", err)
	}
	if err := db.CreateContact(ctx, &sc.Contact); err != nil {
		return fmt.Errorf("create contact: %w", err)
	}
	for i := range sc.Messages {
		if err := db.AddMessage(ctx, &sc.Messages[i]); err != nil {
			return fmt.Errorf("add message: %w", err)
		}
	}
	return nil
}

// mustSeed writes cases number from to from+n-1 from several goroutines, so
// that their writes share commits as intake's would.
func mustSeed(t testing.TB, db *sqlstore.DB, from, n int) []seededCase {
	t.Helper()
	cases := make([]seededCase, n)
	for i := range cases {
		cases[i] = newSeededCase(from + i)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := writeCase(db, &cases[i]); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("case %d: %w", from+i, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("seed: %d of %d cases failed; first: %v", len(errs), n, errs[0])
	}
	return cases
}

// equateDay compares days by value (lifeline.Day has unexported fields).
var equateDay = cmpopts.EquateComparable(lifeline.Day{})

// readCase reads sc back through the store and compares it with what was
// written; opts go to the comparison of the messages.
func readCase(db *sqlstore.DB, sc seededCase, opts ...cmp.Option) error {
	ctx := context.Background()
	ps, err := db.Persons(ctx, sc.Case.ID)
	if err != nil {
		return fmt.Errorf("persons: %w", err)
	}
	if diff := cmp.Diff([]lifeline.Person{sc.Person}, ps); diff != "" {
		return fmt.Errorf("persons (-want +got):\n%s", diff)
	}
	h, err := db.ContactHandle(ctx, sc.Contact.ID)
	if err != nil {
		return fmt.Errorf("contact handle: %w", err)
	}
	if got, want := h.Reveal(), sc.Contact.Handle.Reveal(); got != want {
		return fmt.Errorf("contact handle: got %q, want %q", got, want)
	}
	ms, err := db.Messages(ctx, sc.Contact.ID)
	if err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	if diff := cmp.Diff(sc.Messages, ms, append(opts, equateDay)...); diff != "" {
		return fmt.Errorf("messages (-want +got):\n%s", diff)
	}
	return nil
}

// checkReadable asserts that every case reads back as written.
func checkReadable(t testing.TB, db *sqlstore.DB, cases []seededCase, what string, opts ...cmp.Option) {
	t.Helper()
	failed := 0
	for _, sc := range cases {
		if err := readCase(db, sc, opts...); err != nil {
			failed++
			if failed <= 3 {
				t.Errorf("%s: case %s: %v", what, sc.Case.ID, err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%s: %d/%d cases not readable as written, want 0", what, failed, len(cases))
	}
}

// A patternSet finds many byte patterns in a buffer in one pass: candidates
// are looked up by their first 8 bytes, so every pattern has at least 8.
type patternSet struct {
	byPrefix map[uint64][]int
	pats     [][]byte
	labels   []string
}

const minPattern = 8

func newPatternSet() *patternSet { return &patternSet{byPrefix: map[uint64][]int{}} }

// add adds p under label; a pattern already present keeps its first label.
func (ps *patternSet) add(t testing.TB, label string, p []byte) {
	t.Helper()
	if len(p) < minPattern {
		t.Fatalf("pattern %q is %d bytes, want at least %d", label, len(p), minPattern)
	}
	key := binary.LittleEndian.Uint64(p)
	for _, i := range ps.byPrefix[key] {
		if bytes.Equal(ps.pats[i], p) {
			return
		}
	}
	ps.byPrefix[key] = append(ps.byPrefix[key], len(ps.pats))
	ps.pats = append(ps.pats, slices.Clone(p))
	ps.labels = append(ps.labels, label)
}

// addText adds s in every form S-08 asks for: raw UTF-8, lower case,
// UTF-16LE and UTF-16BE, hex (both cases) and base64 (standard and URL, at
// each of the three alignments s may have inside a longer encoded blob).
func (ps *patternSet) addText(t testing.TB, s string) {
	t.Helper()
	ps.addBinary(t, s, []byte(s))
	if lower := strings.ToLower(s); lower != s {
		ps.add(t, s+" (lower case)", []byte(lower))
	}
	u := utf16.Encode([]rune(s))
	le, be := make([]byte, 2*len(u)), make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(le[2*i:], r)
		binary.BigEndian.PutUint16(be[2*i:], r)
	}
	ps.add(t, s+" (UTF-16LE)", le)
	ps.add(t, s+" (UTF-16BE)", be)
}

// addBinary adds b raw, in hex and in base64 at every alignment.
func (ps *patternSet) addBinary(t testing.TB, label string, b []byte) {
	t.Helper()
	ps.add(t, label, b)
	ps.add(t, label+" (hex)", []byte(hex.EncodeToString(b)))
	ps.add(t, label+" (HEX)", []byte(strings.ToUpper(hex.EncodeToString(b))))
	for off := range 3 {
		for name, enc := range map[string]*base64.Encoding{"base64": base64.RawStdEncoding, "base64url": base64.RawURLEncoding} {
			ps.add(t, fmt.Sprintf("%s (%s, offset %d)", label, name, off), base64Inner(enc, b, off))
		}
	}
}

// base64Inner returns the characters of the base64 encoding of b, preceded
// by off other bytes, that depend on b's bytes alone: what any encoding of a
// longer blob holding b at that alignment contains.
func base64Inner(enc *base64.Encoding, b []byte, off int) []byte {
	s := enc.EncodeToString(append(make([]byte, off), b...))
	skip := [3]int{0, 2, 3}[off]
	end := len(s)
	if (off+len(b))%3 != 0 {
		end-- // the last character mixes in bits of whatever follows
	}
	return []byte(s[skip:end])
}

// scan returns the labels of the patterns found in data.
func (ps *patternSet) scan(data []byte) []string {
	var found []string
	for i := 0; i+minPattern <= len(data); i++ {
		for _, p := range ps.byPrefix[binary.LittleEndian.Uint64(data[i:])] {
			if bytes.HasPrefix(data[i:], ps.pats[p]) {
				found = append(found, ps.labels[p])
			}
		}
	}
	return found
}

// scanTree reads every regular file under root but those in skip and
// returns "file: pattern" for each hit, and how many files it read.
func scanTree(t testing.TB, ps *patternSet, root string, skip ...string) (hits []string, files int) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a temporary file gone since the listing
			}
			return err
		}
		if !d.Type().IsRegular() || slices.Contains(skip, path) {
			return nil
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		files++
		for _, l := range ps.scan(data) {
			hits = append(hits, fmt.Sprintf("%s: %s", path, l))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", root, err)
	}
	return hits, files
}

// scanNewTempFiles scans the regular files directly in dir changed since
// start: where a library would put a temporary file of its own.
func scanNewTempFiles(t testing.TB, ps *patternSet, dir string, start time.Time) (hits []string, files int) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("list %s: %v", dir, err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Stat(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.ModTime().Before(start) || fi.Size() > 64<<20 || os.SameFile(fi, self) {
			continue // older than the test, too big, or the test binary with its literals
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // another user's file, or gone
		}
		files++
		for _, l := range ps.scan(data) {
			hits = append(hits, fmt.Sprintf("%s: %s", e.Name(), l))
		}
	}
	return hits, files
}

// checkNoHits fails the test with the first hits.
func checkNoHits(t testing.TB, what string, hits []string) {
	t.Helper()
	if len(hits) > 0 {
		t.Errorf("%s: %d hits, want 0; first: %q", what, len(hits), hits[:min(len(hits), 5)])
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.buf.Bytes())
}

// TestPatternSetFindsEveryForm is the scanner's own control: a canary
// hidden in each form inside random bytes, and inside longer text that was
// then encoded as a whole, is found.
func TestPatternSetFindsEveryForm(t *testing.T) {
	canaries := []string{"Ivan Canaryx0001", "Іван Ґалаїщенко-Єнарейченко0001", "АБ-123457", "5123000001"}
	ps := newPatternSet()
	for _, c := range canaries {
		ps.addText(t, c)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.UintN(256))
		}
		return b
	}
	for i, p := range ps.pats {
		data := slices.Concat(noise(1000), p, noise(1000))
		if got := ps.scan(data); !slices.Contains(got, ps.labels[i]) {
			t.Errorf("%s embedded raw: not found", ps.labels[i])
		}
	}
	for _, c := range canaries {
		for pre := range 3 {
			text := strings.Repeat("x", pre) + "{\"name\":\"" + c + "\"}"
			for name, enc := range map[string][]byte{
				"base64":      []byte(base64.StdEncoding.EncodeToString([]byte(text))),
				"base64url":   []byte(base64.URLEncoding.EncodeToString([]byte(text))),
				"hex":         []byte(hex.EncodeToString([]byte(text))),
				"HEX":         []byte(strings.ToUpper(hex.EncodeToString([]byte(text)))),
				"upper→lower": []byte(strings.ToLower(strings.ToUpper(text))),
			} {
				if got := ps.scan(enc); len(got) == 0 {
					t.Errorf("%q in %s of a longer text (prefix %d): not found", c, name, pre)
				}
			}
		}
	}
	if got := ps.scan(noise(1 << 20)); len(got) != 0 {
		t.Errorf("random bytes: got hits %q, want none", got)
	}
}

// TestPlaintextAtRest is S-08: the canaries of 1,000 invented cases are
// nowhere in the data directory (database, WAL, SHM, keys), the test's
// temporary files or the log, in any of their forms, while the store is open
// and after it is closed; yet every one reads back through the store.
func TestPlaintextAtRest(t *testing.T) {
	start := time.Now()
	sysTemp := os.TempDir()
	s := MustOpenSealedStore(t)
	// Whatever honours TMPDIR puts its temporary files where they are scanned.
	tmp := filepath.Join(s.Root, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	t.Setenv("SQLITE_TMPDIR", tmp)

	var logBuf syncBuffer
	logger := logs.New(&logBuf, slog.LevelDebug)
	// Anything logged through slog's or log's default goes to the scanned log too.
	oldDefault, oldWriter, oldFlags := slog.Default(), log.Writer(), log.Flags()
	t.Cleanup(func() {
		slog.SetDefault(oldDefault)
		log.SetOutput(oldWriter)
		log.SetFlags(oldFlags)
	})
	slog.SetDefault(logger)

	ctx := context.Background()
	n := count(1000, 200)
	t0 := time.Now()
	cases := mustSeed(t, s.DB, 1, n)
	seeded := time.Since(t0)
	t.Logf("seeded %d cases (1 person, 1 contact, 2 messages each) in %v", n, seeded.Round(time.Millisecond))
	logger.Info("seeded", "count", n, "duration_ms", seeded.Milliseconds())

	// The control: every canary was stored and comes back.
	checkReadable(t, s.DB, cases, "read back")
	// Lookups by blind index work for each handle; their errors are logged as
	// a server would log them.
	for _, sc := range cases {
		id, err := s.FindContact(ctx, sc.Contact.Channel, sc.Contact.Handle.Reveal())
		if err != nil || id != sc.Contact.ID {
			logger.Error("find contact", "error", err)
			t.Errorf("FindContact(%s) = %s, %v; want %s, nil", sc.Contact.Channel, id, err, sc.Contact.ID)
		}
	}
	// Errors carry no personal data either: log some on purpose.
	_, err := s.FindContact(ctx, lifeline.ChannelSMS, "not a number "+cases[0].Canaries[0])
	logger.Error("find contact", "error", err)
	_, err = s.Persons(ctx, lifeline.NewCaseID())
	logger.Info("persons of an unknown case", "error", err)

	ps := newPatternSet()
	for _, sc := range cases {
		for _, c := range sc.Canaries {
			ps.addText(t, c)
		}
	}
	t.Logf("%d canaries, %d patterns", n*len(cases[0].Canaries), len(ps.pats))

	// While open: the WAL holds the recent pages.
	if fi, err := os.Stat(s.DBPath() + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("WAL while open: %v, %v; want a non-empty file", fi, err)
	}
	t1 := time.Now()
	hits, files := scanTree(t, ps, s.Root, s.DevFile)
	checkNoHits(t, "open store: data directory and temporary files", hits)
	openFiles := files
	if files < 5 { // lifeline.db, -wal, -shm, keys/keyring, keys/compartments
		t.Errorf("open store: scanned %d files, want at least 5", files)
	}

	if err := s.DB.Close(); err != nil {
		t.Fatal(err)
	}
	hits, files = scanTree(t, ps, s.Root, s.DevFile)
	checkNoHits(t, "closed store: data directory and temporary files", hits)
	if files < 3 {
		t.Errorf("closed store: scanned %d files, want at least 3", files)
	}
	hits, _ = scanNewTempFiles(t, ps, sysTemp, start)
	checkNoHits(t, "system temporary directory", hits)
	if len(logBuf.Bytes()) == 0 {
		t.Fatal("log is empty: the log scan would prove nothing")
	}
	checkNoHits(t, "log", ps.scan(logBuf.Bytes()))
	t.Logf("scanned %d files open, %d closed, the log: %v", openFiles, files, time.Since(t1).Round(time.Millisecond))

	// The scan's control: the same canaries written in the clear, in a store
	// of their own, are found in its files.
	t.Run("ControlPlaintextIsFound", func(t *testing.T) {
		dir := t.TempDir()
		db := MustOpenStoreAt(t, filepath.Join(dir, sqlstore.FileName), nil)
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		want := cases[:10]
		for i, sc := range want {
			if err := db.SetMeta(ctx, fmt.Sprintf("control-%d", i), sc.Person.Name.Reveal()); err != nil {
				t.Fatal(err)
			}
		}
		hits, _ := scanTree(t, ps, dir)
		for _, sc := range want {
			if !slices.ContainsFunc(hits, func(h string) bool { return strings.HasSuffix(h, ": "+sc.Canaries[0]) }) {
				t.Errorf("plaintext %q written in the clear: not found in %s", sc.Canaries[0], dir)
			}
		}
	})
}

// sealedBlobs returns every ciphertext and wrapped data key a case left in
// the database: person data, contact handles, message bodies, data keys.
func sealedBlobs(t testing.TB, db *sqlstore.DB, id lifeline.CaseID) [][]byte {
	t.Helper()
	var out [][]byte
	err := db.Read(context.Background(), func(tx *sqlstore.Tx) error {
		rows, err := tx.Query(`
			SELECT data FROM persons WHERE case_id = ?1
			UNION ALL SELECT handle FROM contacts WHERE case_id = ?1
			UNION ALL SELECT m.body FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.case_id = ?1
			UNION ALL SELECT wrapped FROM data_keys WHERE owner = 'case:' || ?1
				OR owner IN (SELECT 'contact:' || id FROM contacts WHERE case_id = ?1)
				OR owner IN (SELECT 'person:' || id FROM persons WHERE case_id = ?1)`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return err
			}
			out = append(out, b)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("sealed blobs of case %s: %v", id, err)
	}
	return out
}

// mustBackup copies the live database to path with VACUUM INTO, through a
// connection of its own, as a backup job would.
func mustBackup(t testing.TB, dbPath, path string) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(context.Background(), `VACUUM INTO ?`, path); err != nil {
		t.Fatalf("backup: %v", err)
	}
}

// openedFromBackup counts the reads of sc (persons, handle, messages) that
// give back the plaintext as written.
func openedFromBackup(db *sqlstore.DB, sc seededCase) int {
	ctx := context.Background()
	n := 0
	if ps, err := db.Persons(ctx, sc.Case.ID); err == nil && cmp.Equal(ps, []lifeline.Person{sc.Person}) {
		n++
	}
	if h, err := db.ContactHandle(ctx, sc.Contact.ID); err == nil && h == sc.Contact.Handle {
		n++
	}
	if ms, err := db.Messages(ctx, sc.Contact.ID); err == nil && cmp.Equal(ms, sc.Messages, equateDay) {
		n++
	}
	return n
}

// TestCryptoShredding is S-09: 100 of 1,000 cases are shredded; they are
// gone from the API and from the live files (no canary, no ciphertext, no
// wrapped key); the other 900 read back whole; a backup taken before the
// shred still opens them until their epoch is destroyed, and never after.
func TestCryptoShredding(t *testing.T) {
	ctx := context.Background()
	s := MustOpenSealedStore(t)
	n, shred := count(1000, 200), count(100, 20)
	t0 := time.Now()
	cases := mustSeed(t, s.DB, 1, n)
	t.Logf("seeded %d cases in %v", n, time.Since(t0).Round(time.Millisecond))
	gone, kept := cases[:shred], cases[shred:]

	// What the shredded cases leave in the database, and a control of a kept one.
	canaries, blobs := newPatternSet(), newPatternSet()
	for _, sc := range gone {
		for _, c := range sc.Canaries {
			canaries.addText(t, c)
		}
		bs := sealedBlobs(t, s.DB, sc.Case.ID)
		if len(bs) != 7 { // person, handle, 2 messages; the person's identity key, routing and conversation keys
			t.Fatalf("case %s: %d sealed blobs, want 7", sc.Case.ID, len(bs))
		}
		for i, b := range bs {
			blobs.add(t, fmt.Sprintf("case %s sealed blob %d", sc.Case.ID, i), b)
		}
	}
	control := sealedBlobs(t, s.DB, kept[0].Case.ID)

	backup := filepath.Join(s.Root, "backup", "before-shred.db")
	if err := os.MkdirAll(filepath.Dir(backup), 0o700); err != nil {
		t.Fatal(err)
	}
	mustBackup(t, s.DBPath(), backup)

	t1 := time.Now()
	for _, sc := range gone {
		if err := s.ShredCase(ctx, lifeline.CLIActor, sc.Case.ID, "test: erasure requested"); err != nil {
			t.Fatalf("shred %s: %v", sc.Case.ID, err)
		}
	}
	t.Logf("shredded %d cases in %v", shred, time.Since(t1).Round(time.Millisecond))

	notFound := 0
	for _, sc := range gone {
		_, err := s.Case(ctx, sc.Case.ID)
		_, herr := s.ContactHandle(ctx, sc.Contact.ID)
		ps, perr := s.Persons(ctx, sc.Case.ID)
		ms, merr := s.Messages(ctx, sc.Contact.ID)
		if lifeline.ErrorCode(err) == lifeline.ENOTFOUND && lifeline.ErrorCode(herr) == lifeline.ENOTFOUND &&
			perr == nil && len(ps) == 0 && merr == nil && len(ms) == 0 {
			notFound++
		}
	}
	if notFound != shred {
		t.Errorf("after shred: %d/%d cases not found, want %d/%d", notFound, shred, shred, shred)
	}
	if err := s.ShredCase(ctx, lifeline.CLIActor, gone[0].Case.ID, "again"); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("shred of a shredded case: got %v, want ENOTFOUND", err)
	}

	// The live files: ShredCase has checkpointed; nothing of the shredded
	// cases is left, not even ciphertext.
	for _, name := range []string{sqlstore.FileName, sqlstore.FileName + "-wal", sqlstore.FileName + "-shm"} {
		data, err := os.ReadFile(filepath.Join(s.DataDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checkNoHits(t, name+": canaries of shredded cases", canaries.scan(data))
		checkNoHits(t, name+": ciphertexts and wrapped keys of shredded cases", blobs.scan(data))
	}
	file, err := os.ReadFile(s.DBPath())
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range control {
		if !bytes.Contains(file, b) {
			t.Errorf("control: sealed blob %d of a kept case not found in %s; the raw scan proves nothing", i, sqlstore.FileName)
		}
	}
	checkReadable(t, s.DB, kept, "kept cases after shred")

	// The backup still opens the shredded cases: their epoch is alive.
	func() {
		bdb := MustOpenStoreAt(t, backup, s.Keeper)
		defer bdb.Close()
		opened := 0
		for _, sc := range gone {
			if openedFromBackup(bdb, sc) == 3 {
				opened++
			}
		}
		if opened != shred {
			t.Errorf("backup before epoch destruction: %d/%d shredded cases decryptable, want %d/%d (else the test proves nothing)", opened, shred, shred, shred)
		}
	}()

	// Rotate the epochs, rewrap the live keys, destroy the old epochs.
	old := map[seal.Compartment]uint32{}
	for _, c := range seal.Compartments() {
		old[c] = s.Keeper.CurrentEpoch(c)
	}
	if err := s.Keeper.RotateEpochs(0); err != nil {
		t.Fatal(err)
	}
	rewrapped := mustRewrapAll(t, s.DB, s.Keeper, 500)
	if want := len(kept) * 3; rewrapped != want {
		t.Errorf("rewrapped %d data keys, want %d (3 per kept case)", rewrapped, want)
	}
	destroyed, err := s.Keeper.DestroyDue(liveDataKeys(s.DB))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for c, e := range old {
		want = append(want, fmt.Sprintf("%s/%d", c, e))
	}
	slices.Sort(want)
	slices.Sort(destroyed)
	if diff := cmp.Diff(want, destroyed); diff != "" {
		t.Errorf("DestroyDue (-want +got):\n%s", diff)
	}
	checkReadable(t, s.DB, kept, "kept cases after epoch destruction")

	// The backup, with the same keeper and with a freshly unsealed one (a
	// restore on another host): 0 shredded cases decryptable.
	for _, k := range []struct {
		name   string
		keeper *keys.Keeper
	}{{"same keeper", s.Keeper}, {"restarted keeper", MustOpenKeeper(t, s.KeysDir, s.DevFile)}} {
		bdb := MustOpenStoreAt(t, backup, k.keeper)
		opened, failed := 0, 0
		for _, sc := range gone {
			if openedFromBackup(bdb, sc) > 0 {
				opened++
			}
			_, perr := bdb.Persons(ctx, sc.Case.ID)
			_, merr := bdb.Messages(ctx, sc.Contact.ID)
			_, herr := bdb.ContactHandle(ctx, sc.Contact.ID)
			if perr != nil && merr != nil && herr != nil {
				failed++
			}
		}
		if opened != 0 || failed != shred {
			t.Errorf("backup after epoch destruction (%s): %d/%d shredded cases decryptable, %d/%d fail every read; want 0/%d and %d/%d",
				k.name, opened, shred, failed, shred, shred, shred, shred)
		}
		bdb.Close()
	}
}

// liveDataKeys adapts the store's count to DestroyDue.
func liveDataKeys(db *sqlstore.DB) func(seal.Compartment, uint32) (int64, error) {
	return func(c seal.Compartment, epoch uint32) (int64, error) {
		return db.LiveDataKeys(context.Background(), c, epoch)
	}
}

// mustRewrapAll runs the rewrap job until no data key is left behind, and
// returns how many it rewrapped.
func mustRewrapAll(t testing.TB, db *sqlstore.DB, k *keys.Keeper, batch int) int {
	t.Helper()
	total := 0
	for {
		n, err := db.RewrapDataKeys(context.Background(), k.CurrentEpoch, k.Rewrap, batch)
		if err != nil {
			t.Fatalf("rewrap: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

// TestRotationUnderLoad is S-10: the root key and every compartment epoch
// rotate, and the live data keys are rewrapped, while four writers keep
// adding contacts and messages; no write fails, no data key stays on the old
// epochs, everything reads back, also after a restart on the rotated keys.
func TestRotationUnderLoad(t *testing.T) {
	ctx := context.Background()
	s := MustOpenSealedStore(t)
	cases := mustSeed(t, s.DB, 1, count(300, 60))
	duration := time.Duration(count(2000, 500)) * time.Millisecond

	type written struct {
		contact lifeline.Contact
		msgs    []lifeline.Message
	}
	var (
		mu       sync.Mutex
		load     []written
		extra    = map[lifeline.ContactID][]lifeline.Message{} // added to seeded contacts
		failed   atomic.Int64
		writes   atomic.Int64
		seq      atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		firstErr error
	)
	fail := func(err error) {
		failed.Add(1)
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	for w := range 4 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := seq.Add(1)
				c := lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelTelegram,
					Handle: lifeline.Sensitive(fmt.Sprintf("6%09d", i))}
				if err := s.CreateContact(ctx, &c); err != nil {
					fail(fmt.Errorf("create contact: %w", err))
					continue
				}
				writes.Add(1)
				m := lifeline.Message{ID: lifeline.NewMessageID(), ContactID: c.ID, Direction: lifeline.Inbound,
					Body: lifeline.Sensitive(fmt.Sprintf("Хочу сдаться, load-canary-%06d", i))}
				if err := s.AddMessage(ctx, &m); err != nil {
					fail(fmt.Errorf("add message: %w", err))
					continue
				}
				writes.Add(1)
				mu.Lock()
				load = append(load, written{c, []lifeline.Message{m}})
				mu.Unlock()
				sc := cases[rnd.IntN(len(cases))]
				m2 := lifeline.Message{ID: lifeline.NewMessageID(), ContactID: sc.Contact.ID, Direction: lifeline.Outbound,
					Body: lifeline.Sensitive(fmt.Sprintf("Reply load-canary-%06d", i))}
				if err := s.AddMessage(ctx, &m2); err != nil {
					fail(fmt.Errorf("add message to a seeded contact: %w", err))
					continue
				}
				writes.Add(1)
				mu.Lock()
				extra[sc.Contact.ID] = append(extra[sc.Contact.ID], m2)
				mu.Unlock()
			}
		})
	}

	time.Sleep(duration / 5)
	before := writes.Load()
	oldEpoch := map[seal.Compartment]uint32{}
	for _, c := range seal.Compartments() {
		oldEpoch[c] = s.Keeper.CurrentEpoch(c)
	}
	t0 := time.Now()
	v, err := s.Keeper.RotateRoot()
	if err != nil {
		t.Fatalf("rotate root: %v", err)
	}
	if err := s.Keeper.RotateEpochs(0); err != nil {
		t.Fatalf("rotate epochs: %v", err)
	}
	rewrapped := mustRewrapAll(t, s.DB, s.Keeper, 200)
	t.Logf("root rotated to version %d, epochs rotated, %d data keys rewrapped in %v under load",
		v, rewrapped, time.Since(t0).Round(time.Millisecond))
	during := writes.Load()
	time.Sleep(duration - duration/5)
	close(stop)
	wg.Wait()
	after := writes.Load()

	if firstErr != nil || failed.Load() != 0 {
		t.Errorf("%d failed writes, want 0; first: %v", failed.Load(), firstErr)
	}
	if before == 0 || after == during {
		t.Errorf("writes before rotation %d, after the rewrap %d: want both > 0, or the load proves nothing", before, after-during)
	}
	t.Logf("%d writes under load (%d before the rotation)", after, before)
	for _, c := range seal.Compartments() {
		if got := s.Keeper.CurrentEpoch(c); got != oldEpoch[c]+1 {
			t.Errorf("%s: current epoch %d, want %d", c, got, oldEpoch[c]+1)
		}
		n, err := s.LiveDataKeys(ctx, c, oldEpoch[c])
		if err != nil || n != 0 {
			t.Errorf("%s: %d, %v data keys left on epoch %d; want 0", c, n, err, oldEpoch[c])
		}
	}
	destroyed, err := s.Keeper.DestroyDue(liveDataKeys(s.DB))
	if err != nil || len(destroyed) != len(seal.Compartments()) {
		t.Errorf("DestroyDue = %v, %v; want every old epoch", destroyed, err)
	}

	for i := range cases {
		cases[i].Messages = append(cases[i].Messages, extra[cases[i].Contact.ID]...)
	}
	checkAll := func(db *sqlstore.DB, what string) {
		t.Helper()
		// Writers raced each other onto the seeded contacts: compare as sets.
		checkReadable(t, db, cases, what+": seeded cases", cmpopts.SortSlices(func(a, b lifeline.Message) bool { return a.ID < b.ID }))
		bad := 0
		for _, w := range load {
			h, herr := db.ContactHandle(ctx, w.contact.ID)
			ms, merr := db.Messages(ctx, w.contact.ID)
			if herr != nil || merr != nil || h != w.contact.Handle || !cmp.Equal(ms, w.msgs, equateDay) {
				bad++
				if bad <= 3 {
					t.Errorf("%s: contact written under load: %v, %v, equal %v", what, herr, merr, cmp.Equal(ms, w.msgs, equateDay))
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d/%d contacts written under load unreadable, want 0", what, bad, len(load))
		}
	}
	checkAll(s.DB, "after rotation")

	// Restart: fresh keys from the files, unsealed, on the rotated root.
	if err := s.DB.Close(); err != nil {
		t.Fatal(err)
	}
	k2 := MustOpenKeeper(t, s.KeysDir, s.DevFile)
	db2 := MustOpenStoreAt(t, s.DBPath(), k2)
	checkAll(db2, "after restart")
	more := mustSeed(t, db2, 9000, 5)
	checkReadable(t, db2, more, "written after restart")
}

// BenchmarkRewrap100k measures the rewrap job of an epoch rotation over
// 100,000 data keys (S-10 wants < 60 s): each iteration rotates every epoch
// and rewraps all of them, 1,000 per write. It reports keys/s.
func BenchmarkRewrap100k(b *testing.B) {
	const total = 100_000
	ctx := context.Background()
	s := MustOpenSealedStore(b)
	compartments := []seal.Compartment{seal.CompartmentRouting, seal.CompartmentConversation, seal.CompartmentIdentity}
	var wg sync.WaitGroup
	var made atomic.Int64
	for range 8 {
		wg.Go(func() {
			var batch []keys.WrappedKey
			flush := func() {
				err := s.Write(ctx, func(tx *sqlstore.Tx) error {
					for _, w := range batch {
						if _, err := tx.Exec(`INSERT INTO data_keys (id, owner, compartment, epoch, wrapped, created_day) VALUES (?, ?, ?, ?, ?, '2025-01-01')`,
							w.ID[:], w.Owner, string(w.Compartment), w.Epoch, w.Wrapped); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Error(err)
				}
				batch = batch[:0]
			}
			for {
				i := made.Add(1)
				if i > total {
					break
				}
				_, w, err := s.Keeper.NewDataKey("case:"+string(lifeline.NewCaseID()), compartments[i%3])
				if err != nil {
					b.Error(err)
					return
				}
				if batch = append(batch, w); len(batch) == 1000 {
					flush()
				}
			}
			if len(batch) > 0 {
				flush()
			}
		})
	}
	wg.Wait()
	var spent time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := s.Keeper.RotateEpochs(0); err != nil {
			b.Fatal(err)
		}
		if n := mustRewrapAll(b, s.DB, s.Keeper, 1000); n != total {
			b.Fatalf("rewrapped %d data keys, want %d", n, total)
		}
		spent += time.Since(t0)
	}
	b.ReportMetric(float64(total*b.N)/spent.Seconds(), "keys/s")
	b.ReportMetric(spent.Seconds()/float64(b.N), "s/100k")
}

// TestSealedServer is S-20: after a restart without unseal, intake still
// stores contacts and messages; every read of personal data answers
// EUNAVAILABLE; after the unseal, Reseal folds the messages stored under
// keys of their own into their contact's key and indexes the contacts; and
// no key byte (unseal key, data keys) is anywhere on disk.
func TestSealedServer(t *testing.T) {
	ctx := context.Background()
	s := MustOpenSealedStore(t)
	known := mustSeed(t, s.DB, 1, 3) // contacts of before the restart, with a key of their own

	// Reboot, sealed.
	if err := s.DB.Close(); err != nil {
		t.Fatal(err)
	}
	sealed := MustOpenKeeper(t, s.KeysDir, "")
	if !sealed.Sealed() {
		t.Fatal("keeper opened without unseal: not sealed")
	}
	db := MustOpenStoreAt(t, s.DBPath(), sealed)

	// Intake while sealed: new contacts with two messages each, new messages
	// for the known contacts, a new case with its applicant.
	n := count(50, 10)
	events, stored := 0, 0
	intake := mustIntake(t, db, n, &events, &stored)
	for i := range known {
		for j := range 2 {
			m := lifeline.Message{ID: lifeline.NewMessageID(), ContactID: known[i].Contact.ID, Direction: lifeline.Inbound,
				Body: lifeline.Sensitive(fmt.Sprintf("sealed-time message %d-%d, Канарейка", i, j))}
			events++
			if err := db.AddMessage(ctx, &m); err != nil {
				t.Errorf("sealed: add message to a known contact: %v", err)
				continue
			}
			stored++
			known[i].Messages = append(known[i].Messages, m)
		}
	}
	late := newSeededCase(5000)
	events++
	if err := writeCase(db, &late); err != nil {
		t.Errorf("sealed: new case with applicant, contact and messages: %v", err)
	} else {
		stored++
	}
	if stored != events {
		t.Errorf("sealed: %d/%d intake events stored, want %d/%d", stored, events, events, events)
	}

	// Every read of personal data: EUNAVAILABLE.
	unavailable := func(what string, err error) {
		t.Helper()
		if got := lifeline.ErrorCode(err); got != lifeline.EUNAVAILABLE {
			t.Errorf("sealed: %s: got %v (code %q), want code %q", what, err, got, lifeline.EUNAVAILABLE)
		}
	}
	_, err := db.Persons(ctx, known[0].Case.ID)
	unavailable("Persons", err)
	_, err = db.ContactHandle(ctx, known[0].Contact.ID)
	unavailable("ContactHandle of a known contact", err)
	_, err = db.ContactHandle(ctx, intake[0].contact.ID)
	unavailable("ContactHandle of a contact stored sealed", err)
	_, err = db.Messages(ctx, known[0].Contact.ID)
	unavailable("Messages", err)
	_, err = db.FindContact(ctx, known[0].Contact.Channel, known[0].Contact.Handle.Reveal())
	unavailable("FindContact", err)
	_, err = db.PersonsInBucket(ctx, seal.DomainServiceNumber, known[0].Person.ServiceNumber.Reveal())
	unavailable("PersonsInBucket", err)
	_, err = db.Reseal(ctx)
	unavailable("Reseal", err)

	ownKeys := countRows(t, db, `SELECT COUNT(*) FROM data_keys WHERE owner LIKE 'message:%'`)
	if want := len(known)*2 + n + 1; ownKeys != want { // the second message of each new contact
		t.Errorf("sealed: %d messages under keys of their own, want %d", ownKeys, want)
	}
	if got, want := countRows(t, db, `SELECT COUNT(*) FROM contacts WHERE handle_tag IS NULL`), n+1; got != want {
		t.Errorf("sealed: %d contacts without blind index, want %d", got, want)
	}

	// Unseal. Keep the keys of the messages stored sealed, to look for them on
	// disk once Reseal has shredded them.
	if err := sealed.UnsealWithFile(s.DevFile); err != nil {
		t.Fatal(err)
	}
	keyPatterns := newPatternSet()
	addDataKeys(t, db, sealed, keyPatterns)
	changed, err := db.Reseal(ctx)
	if err != nil {
		t.Fatalf("Reseal: %v", err)
	}
	// Contacts indexed earlier at a narrower width are re-indexed too, as
	// the number of contacts grew (bucket sizes follow row counts).
	if want := ownKeys + n + 1; changed < want {
		t.Errorf("Reseal changed %d rows, want %d or more (%d messages, %d contacts)", changed, want, ownKeys, n+1)
	}
	if got := countRows(t, db, `SELECT COUNT(DISTINCT handle_tag >> 32) FROM contacts`); got != 1 {
		t.Errorf("after Reseal: blind indexes of %d widths, want one", got)
	}
	if got := countRows(t, db, `SELECT COUNT(*) FROM data_keys WHERE owner LIKE 'message:%'`); got != 0 {
		t.Errorf("after Reseal: %d messages under keys of their own, want 0", got)
	}
	if got := countRows(t, db, `SELECT COUNT(*) FROM contacts WHERE handle_tag IS NULL`); got != 0 {
		t.Errorf("after Reseal: %d contacts without blind index, want 0", got)
	}
	checkReadable(t, db, append(known, late), "after Reseal")
	for _, w := range intake {
		id, err := db.FindContact(ctx, w.contact.Channel, w.contact.Handle.Reveal())
		if err != nil || id != w.contact.ID {
			t.Errorf("FindContact of a contact stored sealed = %s, %v; want %s", id, err, w.contact.ID)
		}
		h, herr := db.ContactHandle(ctx, w.contact.ID)
		ms, merr := db.Messages(ctx, w.contact.ID)
		if herr != nil || merr != nil || h != w.contact.Handle {
			t.Errorf("contact stored sealed: handle %v, messages %v", herr, merr)
		} else if diff := cmp.Diff(w.msgs, ms, equateDay); diff != "" {
			t.Errorf("messages stored sealed (-want +got):\n%s", diff)
		}
	}

	// No key byte on disk: the unseal key (but in the dev file, the
	// documented development-only exception), the data keys live now and
	// those Reseal shredded.
	addDataKeys(t, db, sealed, keyPatterns)
	devKey, err := os.ReadFile(s.DevFile)
	if err != nil {
		t.Fatal(err)
	}
	uk, err := seal.DecodeUnsealKey(string(devKey))
	if err != nil {
		t.Fatal(err)
	}
	keyPatterns.addBinary(t, "unseal key", uk[:])
	// Some use after the unseal, then a checkpoint and a close.
	mustSeed(t, db, 6000, 5)
	hits, files := scanTree(t, keyPatterns, s.Root, s.DevFile)
	checkNoHits(t, "open store: key bytes", hits)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	hits, files2 := scanTree(t, keyPatterns, s.Root, s.DevFile)
	checkNoHits(t, "closed store: key bytes", hits)
	t.Logf("%d key patterns, scanned %d files open and %d closed", len(keyPatterns.pats), files, files2)
	// The scan's control: the dev file holds the unseal key, and is found.
	if got := keyPatterns.scan(devKey); len(got) == 0 {
		t.Error("control: the unseal key was not found in the dev unseal file")
	}
}

type intakeContact struct {
	contact lifeline.Contact
	msgs    []lifeline.Message
}

// mustIntake stores n new contacts (channels in turn) with two messages
// each, as intake does, counting events and those stored.
func mustIntake(t testing.TB, db *sqlstore.DB, n int, events, stored *int) []intakeContact {
	t.Helper()
	ctx := context.Background()
	var out []intakeContact
	for i := range n {
		var c lifeline.Contact
		switch i % 3 {
		case 0:
			c = lifeline.Contact{Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(fmt.Sprintf("7%09d", 555000000+i))}
		case 1:
			c = lifeline.Contact{Channel: lifeline.ChannelWhatsApp, Handle: lifeline.Sensitive(fmt.Sprintf("7903555%04d", i))}
		default:
			c = lifeline.Contact{Channel: lifeline.ChannelSMS, Handle: lifeline.Sensitive(fmt.Sprintf("+7903666%04d", i))}
		}
		c.ID = lifeline.NewContactID()
		*events++
		if err := db.CreateContact(ctx, &c); err != nil {
			t.Errorf("sealed: create contact: %v", err)
			continue
		}
		*stored++
		w := intakeContact{contact: c}
		for j := range 2 {
			m := lifeline.Message{ID: lifeline.NewMessageID(), ContactID: c.ID, Direction: lifeline.Inbound,
				Body: lifeline.Sensitive(fmt.Sprintf("Хочу сдаться %d-%d", i, j))}
			*events++
			if err := db.AddMessage(ctx, &m); err != nil {
				t.Errorf("sealed: add message: %v", err)
				continue
			}
			*stored++
			w.msgs = append(w.msgs, m)
		}
		out = append(out, w)
	}
	return out
}

// countRows runs a COUNT query.
func countRows(t testing.TB, db *sqlstore.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Read(context.Background(), func(tx *sqlstore.Tx) error {
		return tx.QueryRow(query, args...).Scan(&n)
	}); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// addDataKeys unwraps every stored data key and adds its bytes to ps.
func addDataKeys(t testing.TB, db *sqlstore.DB, k *keys.Keeper, ps *patternSet) {
	t.Helper()
	var ws []keys.WrappedKey
	err := db.Read(context.Background(), func(tx *sqlstore.Tx) error {
		rows, err := tx.Query(`SELECT id, owner, compartment, epoch, wrapped FROM data_keys`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var w keys.WrappedKey
			var id []byte
			var c string
			if err := rows.Scan(&id, &w.Owner, &c, &w.Epoch, &w.Wrapped); err != nil {
				return err
			}
			copy(w.ID[:], id)
			w.Compartment = seal.Compartment(c)
			ws = append(ws, w)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) == 0 {
		t.Fatal("no data keys stored")
	}
	for _, w := range ws {
		dk, err := k.OpenDataKey(w)
		if err != nil {
			t.Fatalf("open data key of %s: %v", w.Owner, err)
		}
		ps.addBinary(t, "data key of "+w.Owner, dk.Key[:])
	}
}

// TestSealedFieldsBoundToRow is the store's part of S-11: a ciphertext
// copied onto another row or column, or with a byte flipped, does not open,
// even under the same data key.
func TestSealedFieldsBoundToRow(t *testing.T) {
	ctx := context.Background()
	s := MustOpenSealedStore(t)
	cases := mustSeed(t, s.DB, 1, 3)
	a, b := cases[0], cases[1]
	spouse := lifeline.Person{ID: lifeline.NewPersonID(), CaseID: a.Case.ID, Relation: lifeline.RelationSpouse,
		Name: "Мария Канарейкина"}
	if err := s.AddPerson(ctx, lifeline.CLIActor, &spouse); err != nil {
		t.Fatal(err)
	}
	exec := func(query string, args ...any) {
		t.Helper()
		if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
			_, err := tx.Exec(query, args...)
			return err
		}); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	blob := func(query string, args ...any) []byte {
		t.Helper()
		var b []byte
		if err := s.Read(ctx, func(tx *sqlstore.Tx) error { return tx.QueryRow(query, args...).Scan(&b) }); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return b
	}
	fails := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: opened, want an error", what)
		} else if code := lifeline.ErrorCode(err); code == lifeline.EUNAVAILABLE || code == lifeline.ENOTFOUND {
			t.Errorf("%s: got %v, want a decryption failure", what, err)
		}
	}

	// Same case, same data key: the spouse's blob on the applicant's row.
	applicant := blob(`SELECT data FROM persons WHERE id = ?`, a.Person.ID)
	exec(`UPDATE persons SET data = (SELECT data FROM persons WHERE id = ?) WHERE id = ?`, spouse.ID, a.Person.ID)
	_, err := s.Persons(ctx, a.Case.ID)
	fails("person blob swapped within a case", err)
	exec(`UPDATE persons SET data = ? WHERE id = ?`, applicant, a.Person.ID)
	if ps, err := s.Persons(ctx, a.Case.ID); err != nil || len(ps) != 2 {
		t.Fatalf("restored: Persons = %d, %v; want 2, nil", len(ps), err)
	}

	// Another case's person blob.
	exec(`UPDATE persons SET data = (SELECT data FROM persons WHERE id = ?) WHERE id = ?`, b.Person.ID, a.Person.ID)
	_, err = s.Persons(ctx, a.Case.ID)
	fails("person blob of another case", err)
	exec(`UPDATE persons SET data = ? WHERE id = ?`, applicant, a.Person.ID)

	// Messages of one contact share a key: swap their bodies.
	m0 := blob(`SELECT body FROM messages WHERE id = ?`, a.Messages[0].ID)
	exec(`UPDATE messages SET body = (SELECT body FROM messages WHERE id = ?) WHERE id = ?`, a.Messages[1].ID, a.Messages[0].ID)
	_, err = s.Messages(ctx, a.Contact.ID)
	fails("message body swapped within a contact", err)
	exec(`UPDATE messages SET body = ? WHERE id = ?`, m0, a.Messages[0].ID)

	// Another column: a message body as the contact's handle.
	h := blob(`SELECT handle FROM contacts WHERE id = ?`, a.Contact.ID)
	exec(`UPDATE contacts SET handle = ? WHERE id = ?`, m0, a.Contact.ID)
	_, err = s.ContactHandle(ctx, a.Contact.ID)
	fails("message body as a contact handle", err)
	exec(`UPDATE contacts SET handle = ? WHERE id = ?`, h, a.Contact.ID)

	// A flipped byte, anywhere past the header.
	for _, i := range []int{len(m0) - 1, len(m0) / 2, 40} {
		flipped := slices.Clone(m0)
		flipped[i] ^= 0x01
		exec(`UPDATE messages SET body = ? WHERE id = ?`, flipped, a.Messages[0].ID)
		_, err = s.Messages(ctx, a.Contact.ID)
		fails(fmt.Sprintf("message body with byte %d flipped", i), err)
	}
	exec(`UPDATE messages SET body = ? WHERE id = ?`, m0, a.Messages[0].ID)
	// Restored, everything opens again: the failures above were the swaps'.
	checkReadable(t, s.DB, cases[1:], "after restoring every blob")
	ps, err := s.Persons(ctx, a.Case.ID)
	if err != nil || len(ps) != 2 {
		t.Fatalf("after restoring every blob: Persons = %d, %v; want 2, nil", len(ps), err)
	}
	if i := slices.IndexFunc(ps, func(p lifeline.Person) bool { return p.ID == a.Person.ID }); i < 0 || !cmp.Equal(ps[i], a.Person) {
		t.Errorf("after restoring every blob: applicant not as written")
	}

}
