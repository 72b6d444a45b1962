// SPDX-License-Identifier: AGPL-3.0-or-later

package web

import "testing"

func TestScrubServerLog(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http: TLS handshake error from 203.0.113.7:50312: EOF\n", "http: TLS handshake error from [addr]: EOF"},
		{"http: TLS handshake error from [2001:db8::1]:443: remote error\n", "http: TLS handshake error from [addr]: remote error"},
		{"http: Accept error: accept tcp 127.0.0.1:8080: too many open files; retrying in 5ms", "http: Accept error: accept tcp [addr]: too many open files; retrying in 5ms"},
		{"http2: server: error reading preface from client 198.51.100.2:1234: EOF", "http2: server: error reading preface from client [addr]: EOF"},
		{"first line\nsecond line with 10.0.0.1", "first line"},
	}
	for _, tt := range tests {
		if got := scrubServerLog(tt.in); got != tt.want {
			t.Errorf("scrubServerLog(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
	long := scrubServerLog(string(make([]byte, 1000)))
	if len(long) > maxServerLogLine+len("…") {
		t.Errorf("long line: got %d bytes, want at most %d", len(long), maxServerLogLine+len("…"))
	}
}
