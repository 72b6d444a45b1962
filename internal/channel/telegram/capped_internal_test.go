// SPDX-License-Identifier: AGPL-3.0-or-later

package telegram

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCappedBody(t *testing.T) {
	tests := []struct {
		data    string
		limit   int64
		wantErr bool
	}{
		{"", 0, false},
		{"abc", 3, false},
		{"abc", 10, false},
		{"abcd", 3, true},
		{strings.Repeat("x", 100000), 99999, true},
	}
	for _, tt := range tests {
		c := &cappedBody{body: io.NopCloser(strings.NewReader(tt.data)), left: tt.limit}
		got, err := io.ReadAll(c)
		if tt.wantErr {
			if !errors.Is(err, errFileTooLarge) || int64(len(got)) > tt.limit {
				t.Errorf("%d bytes, limit %d: got %d bytes, %v; want at most the limit and errFileTooLarge", len(tt.data), tt.limit, len(got), err)
			}
			continue
		}
		if err != nil || string(got) != tt.data {
			t.Errorf("%d bytes, limit %d: got %d bytes, %v", len(tt.data), tt.limit, len(got), err)
		}
	}
}
