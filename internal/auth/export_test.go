// SPDX-License-Identifier: AGPL-3.0-or-later

package auth

import "context"

// Acquire exposes the limiter to the black-box tests, which must fill it
// without running Argon2.
func (h *Hasher) Acquire(ctx context.Context, memory uint32) (release func(), err error) {
	return h.acquire(ctx, memory)
}
