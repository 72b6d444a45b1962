// SPDX-License-Identifier: AGPL-3.0-or-later

package logs_test

import (
	"io"
	"log/slog"
	"os"
	"regexp"

	"github.com/lifeline-hotline/lifeline/internal/logs"
)

// APIToken is a secret. Like lifeline.Sensitive, it implements
// slog.LogValuer so that it prints as logs.Redacted even under an allowed
// key, or through a logger that logs.New did not build.
type APIToken string

// LogValue implements slog.LogValuer.
func (APIToken) LogValue() slog.Value { return slog.StringValue(logs.Redacted) }

func Example() {
	logger := logs.New(stripTime{os.Stdout}, slog.LevelInfo, logs.Allow("queue_depth"))
	logger.Info("webhook rejected",
		"channel", "telegram", // allowed
		"queue_depth", 3, // allowed by the option
		"chat_id", 123456789, // not allowed: redacted
		"error", APIToken("123:ABC"), // allowed key, secret type: redacted
	)
	// Output:
	// {"level":"INFO","msg":"webhook rejected","channel":"telegram","queue_depth":3,"chat_id":"[redacted]","error":"[redacted]"}
}

// stripTime drops the time attribute so that the example's output is stable.
type stripTime struct{ w io.Writer }

var timeAttr = regexp.MustCompile(`^\{"time":"[^"]*",`)

func (s stripTime) Write(p []byte) (int, error) {
	if _, err := s.w.Write(timeAttr.ReplaceAll(p, []byte("{"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
