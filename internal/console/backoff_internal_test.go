// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"fmt"
	"testing"
	"time"
)

// TestSignInBackoffNotResetByFloodingNames: a name under attack keeps its
// backoff while more distinct names than the memory holds fail once each;
// the memory stays bounded.
func TestSignInBackoffNotResetByFloodingNames(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b := newBackoff(func() time.Time { return now })
	for range 3 {
		b.fail("olena")
	}
	for i := range backoffNames + 10 {
		b.fail(fmt.Sprintf("spray%06d", i))
	}
	if wait, ok := b.begin("olena"); ok || wait < 3*time.Second {
		t.Fatalf("after a flood of %d names the attacked name may try again (wait %v): its backoff was reset", backoffNames+10, wait)
	}
	if len(b.m) > backoffNames {
		t.Errorf("the memory holds %d names, more than %d", len(b.m), backoffNames)
	}
	// Time passes: the name may try again, and its next failure waits
	// longer still (the failures were remembered).
	now = now.Add(5 * time.Second)
	if _, ok := b.begin("olena"); !ok {
		t.Fatal("after its backoff the name may not try")
	}
	b.fail("olena")
	b.end("olena")
	if wait, _ := b.begin("olena"); wait != 8*time.Second {
		t.Errorf("fourth failure waits %v, want 8s", wait)
	}
}
