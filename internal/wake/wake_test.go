// SPDX-License-Identifier: AGPL-3.0-or-later

package wake_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/wake"
)

func TestSettle(t *testing.T) {
	// Long after the last pass: no wait.
	if !wake.Settle(context.Background(), time.Now().Add(-time.Hour), 50*time.Millisecond) {
		t.Fatal("an idle worker did not wake")
	}
	// Right after a pass: waits out the gap.
	start := time.Now()
	if !wake.Settle(context.Background(), start, 50*time.Millisecond) || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("a busy worker woke after %s, want at least 50ms", time.Since(start))
	}
	// A cancelled context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if wake.Settle(ctx, time.Now(), time.Hour) {
		t.Fatal("Settle waited past a cancelled context")
	}
}
