// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var shareLine = regexp.MustCompile(`(?m)^\s+(LLS1-\S+)$`)

// TestKeyCeremonies walks a real installation's key life: init prints 3-of-5
// shares; serve starts sealed and says so; unseal refuses a mistyped share
// and stays sealed with two; the third unseals; rotation rewraps; seal drops
// the keys; panic, once confirmed, destroys them for good.
func TestKeyCeremonies(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	intake := filepath.Join(t.TempDir(), "credstore", "lifeline-intake")
	if res := runLifeline(t, nil, "init", "--data", dir, "--shares", "5", "--threshold", "3"); res.code != 2 || !strings.Contains(res.stderr, "--intake-key") {
		t.Fatalf("init of a real installation without --intake-key: got %d %q, want the usage error", res.code, res.stderr)
	}
	out := mustRun(t, nil, "init", "--data", dir, "--shares", "5", "--threshold", "3", "--intake-key", intake)
	var shares []string
	for _, m := range shareLine.FindAllStringSubmatch(out, -1) {
		shares = append(shares, m[1])
	}
	if len(shares) != 5 {
		t.Fatalf("init printed %d shares, want 5:\n%s", len(shares), out)
	}
	if res := runLifeline(t, nil, "init", "--data", dir); res.code == 0 {
		t.Fatal("a second init succeeded, want it refused")
	}
	for _, name := range []string{"keys/keyring", "keys/compartments"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range shares {
			if strings.Contains(string(b), s) {
				t.Fatalf("%s holds a share", name)
			}
		}
	}

	// The intake key is not in the data directory; serve needs it, and
	// refuses it inside the directory of a real installation.
	if _, err := os.Stat(filepath.Join(dir, "keys", "intake")); !os.IsNotExist(err) {
		t.Fatalf("intake key in the data directory: %v, want none", err)
	}
	if res := runLifeline(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0"); res.code != 2 || !strings.Contains(res.stderr, "intake key") {
		t.Errorf("serve without the intake key: got %d %q, want the usage error", res.code, res.stderr)
	}
	inside := filepath.Join(dir, "keys", "intake")
	b, err := os.ReadFile(intake)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inside, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := runLifeline(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--intake-key", inside); res.code != 2 || !strings.Contains(res.stderr, "inside the data directory") {
		t.Errorf("serve with the intake key inside the data directory: got %d %q, want it refused", res.code, res.stderr)
	}
	os.Remove(inside)

	srv := mustStartServe(t, map[string]string{"LIFELINE_INTAKE_KEY_FILE": intake}, "serve", "--data", dir, "--listen", "127.0.0.1:0")
	base := "http://" + srv.addr
	wantReady := func(state string) {
		t.Helper()
		resp, body := mustGet(t, base+"/readyz")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "keys: "+state) {
			t.Errorf("GET /readyz: got %d %q, want 200 and keys: %s", resp.StatusCode, body, state)
		}
		_, metrics := mustGet(t, base+"/metrics")
		want := map[string]string{"sealed": "lifeline_sealed 1", "unsealed": "lifeline_sealed 0"}[state]
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics: want %q", want)
		}
	}
	wantReady("sealed")

	// k-1 shares, one of them given twice and one mistyped: still sealed.
	typo := []byte(shares[1])
	typo[len(typo)-3] ^= 1
	res := runLifelineInput(t, nil, shares[0]+"\n"+shares[0]+"\n"+string(typo)+"\n"+shares[2]+"\n", "unseal", "--data", dir)
	if res.code != 1 || !strings.Contains(res.stderr, "refused") {
		t.Errorf("unseal with 2 good shares: got exit %d, stderr %q; want 1 with the refusals", res.code, res.stderr)
	}
	if strings.Count(res.stderr, "refused") != 2 {
		t.Errorf("got refusals %q, want the duplicate and the typo refused", res.stderr)
	}
	if out := mustRun(t, nil, "keys", "status", "--data", dir); !strings.Contains(out, "sealed (2 of 3") {
		t.Errorf("keys status: got %q, want sealed (2 of 3 shares given)", out)
	}
	wantReady("sealed")

	// The third share unseals: the server kept the first two.
	res = runLifelineInput(t, nil, shares[4]+"\n", "unseal", "--data", dir)
	if res.code != 0 || !strings.Contains(res.stdout, "Unsealed") {
		t.Fatalf("unseal with the third share: got exit %d, %q %q", res.code, res.stdout, res.stderr)
	}
	wantReady("unsealed")

	out = mustRun(t, nil, "keys", "rotate", "--data", dir)
	if !strings.Contains(out, "Root key at version 2") {
		t.Errorf("keys rotate: got %q", out)
	}
	mustRun(t, nil, "seal", "--data", dir)
	wantReady("sealed")

	if res := runLifelineInput(t, nil, "no\n", "keys", "panic", "--data", dir); res.code == 0 {
		t.Fatal("keys panic without the phrase succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "keyring")); err != nil {
		t.Fatalf("unconfirmed panic touched the keyring: %v", err)
	}
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	mustRunInput(t, panicPhrase+"\n", "keys", "panic", "--data", dir, "--intake-key", intake)
	for _, path := range []string{filepath.Join(dir, "keys/keyring"), filepath.Join(dir, "keys/compartments"), intake} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s after panic: %v, want gone", path, err)
		}
	}
	res = runLifeline(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0")
	if res.code != 2 || !strings.Contains(res.stderr, "lifeline init") {
		t.Errorf("serve after panic: got %d %q, want the no-keys usage error", res.code, res.stderr)
	}
	out = mustRun(t, nil, "audit", "verify", "--data", dir)
	if !strings.HasPrefix(out, "Audit log intact") {
		t.Errorf("audit verify: %q", out)
	}
}

func mustRunInput(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	res := runLifelineInput(t, nil, stdin, args...)
	if res.code != 0 {
		t.Fatalf("lifeline %s: got exit %d, want 0; stderr:\n%s", strings.Join(args, " "), res.code, res.stderr)
	}
	return res.stdout
}

// TestKeysRekeyOldSharesRefused (issue 11 §3): a custodian left: a quorum
// of the current shares makes new ones, refused while a server runs; from
// then on the old shares unseal nothing and the new ones unseal, and the
// data opens as before.
func TestKeysRekeyOldSharesRefused(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"LIFELINE_INTAKE_KEY_FILE": filepath.Join(t.TempDir(), "intake")}
	var old []string
	for _, m := range shareLine.FindAllStringSubmatch(mustRun(t, env, "init", "--data", dir, "--shares", "3", "--threshold", "2"), -1) {
		old = append(old, m[1])
	}
	mustRun(t, env, "migrate", "--data", dir)

	srv := mustStartServe(t, env, "serve", "--data", dir, "--listen", "127.0.0.1:0")
	res := runLifelineInput(t, env, old[0]+"\n"+old[1]+"\n", "keys", "rekey", "--data", dir)
	checkOneLineError(t, res, 1)
	if !strings.Contains(res.stderr, "in use by lifeline process") {
		t.Errorf("rekey beside a running server: %q, want it refused", res.stderr)
	}
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}

	if res := runLifelineInput(t, env, old[0]+"\n", "keys", "rekey", "--data", dir); res.code == 0 {
		t.Fatalf("rekey with one share of two: exit 0, want it refused")
	}
	out := runLifelineInput(t, env, old[1]+"\n"+old[2]+"\n", "keys", "rekey", "--data", dir)
	if out.code != 0 {
		t.Fatalf("rekey: exit %d: %s", out.code, out.stderr)
	}
	var fresh []string
	for _, m := range shareLine.FindAllStringSubmatch(out.stdout, -1) {
		fresh = append(fresh, m[1])
	}
	if len(fresh) != 3 || slices.Contains(fresh, old[0]) {
		t.Fatalf("rekey printed %d shares %q, want 3 new ones", len(fresh), fresh)
	}

	srv = mustStartServe(t, env, "serve", "--data", dir, "--listen", "127.0.0.1:0")
	defer srv.stop(t)
	res = runLifelineInput(t, env, old[0]+"\n"+old[1]+"\n", "unseal", "--data", dir)
	if st := mustRun(t, env, "keys", "status", "--data", dir); !strings.HasPrefix(st, "sealed") {
		t.Fatalf("after unsealing with the old shares: %q (%s), want still sealed", st, res.stderr)
	}
	runLifelineInput(t, env, fresh[0]+"\n"+fresh[2]+"\n", "unseal", "--data", dir)
	if st := mustRun(t, env, "keys", "status", "--data", dir); st != "unsealed\n" {
		t.Fatalf("after unsealing with the new shares: %q, want unsealed", st)
	}
}
