// SPDX-License-Identifier: AGPL-3.0-or-later

// Package wake paces background workers that every stored message pokes:
// under a flood they look at most every so often, not once per message,
// and a lone message still wakes them at once.
package wake

import (
	"context"
	"time"
)

// Settle waits until gap has passed since the worker's last pass began at
// start; it returns false if ctx ended first. A worker calls it after a
// poke, before its next pass.
func Settle(ctx context.Context, start time.Time, gap time.Duration) bool {
	d := gap - time.Since(start)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
