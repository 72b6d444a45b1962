// SPDX-License-Identifier: AGPL-3.0-or-later

package web

import (
	"log/slog"
	"regexp"
	"strings"
)

// serverErrorLog receives the http.Server's own error log ("http: TLS
// handshake error from 203.0.113.7:50312: EOF", "http: Accept error: …")
// and passes it to the server's logger. Those lines name the caller's
// address, which must not be logged (SECURITY.md §2.8), so addresses are
// replaced and only the first line is kept, shortened.
type serverErrorLog struct{ logger *slog.Logger }

func (l serverErrorLog) Write(p []byte) (int, error) {
	msg := string(p)
	if strings.HasPrefix(msg, "http: panic serving") {
		// A panic outside recoverPanic: in the middleware itself. The value
		// could quote the request; the stack cannot.
		_, stack, _ := strings.Cut(msg, "\n")
		l.logger.Error("panic", "component", "http.Server", "stack", stack)
		return len(p), nil
	}
	l.logger.Warn("http server", "component", "http.Server", "error", scrubServerLog(msg))
	return len(p), nil
}

// maxServerLogLine bounds what is kept of one line.
const maxServerLogLine = 200

// ipAddr is an IPv4 address, or an IPv6 one in brackets (as net/http
// writes remote addresses), with a port or not.
var ipAddr = regexp.MustCompile(`\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?|\[[0-9A-Fa-f:.%\w]*\](?::\d+)?`)

// scrubServerLog returns the first line of an http.Server log message with
// every address replaced by "[addr]", cut to maxServerLogLine bytes.
func scrubServerLog(msg string) string {
	msg, _, _ = strings.Cut(msg, "\n")
	msg = ipAddr.ReplaceAllString(msg, "[addr]")
	if len(msg) > maxServerLogLine {
		msg = strings.ToValidUTF8(msg[:maxServerLogLine], "") + "…"
	}
	return msg
}
