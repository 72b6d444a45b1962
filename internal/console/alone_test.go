// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/console"
)

// TestSignInBackoffNotRacedByParallelGuesses: guesses at one account sent
// all at once are checked one at a time: exactly one is tried, the others
// are told to wait, and only one failure is audited.
func TestSignInBackoffNotRacedByParallelGuesses(t *testing.T) {
	// A hash that takes a while, so that the guesses overlap.
	f := newFixture(t, console.Config{Params: auth.Params{Memory: 32 * 1024, Time: 2, Threads: 1}})
	f.enrolled("olena", lifeline.RoleCaseOfficer)
	before := len(f.auditActions("deny"))
	const guesses = 6
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make(chan int, guesses)
	for i := range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp := f.do("POST", "/login", url.Values{"username": {"olena"}, "password": {"wrong guess number " + strings.Repeat("x", i)}, "code": {"000000"}}, "")
			codes <- resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	close(codes)
	tried := 0
	for c := range codes {
		switch c {
		case http.StatusUnauthorized:
			tried++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("a guess answered %d, want 401 or 429", c)
		}
	}
	if tried != 1 {
		t.Errorf("%d of %d parallel guesses were tried, want 1", tried, guesses)
	}
	if fails := len(f.auditActions("deny")) - before; fails != 1 {
		t.Errorf("%d failed logins audited, want 1", fails)
	}
}
