// SPDX-License-Identifier: AGPL-3.0-or-later

package logs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lifeline-hotline/lifeline/internal/logs"
)

// Canaries stand for personal data: none may ever reach the output bytes.
const (
	canaryPhone = "+79161234567"
	canaryName  = "Иван Канареечкин"
)

// decodeLines parses each JSON line of out, failing the test on a line that
// is not a JSON object.
func decodeLines(tb testing.TB, out []byte) []map[string]any {
	tb.Helper()
	var lines []map[string]any
	for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			tb.Fatalf("line %q is not a JSON object: %v", line, err)
		}
		delete(m, "time") // varies
		lines = append(lines, m)
	}
	return lines
}

func TestNewAllowedKeysPass(t *testing.T) {
	var buf bytes.Buffer
	logger := logs.New(&buf, slog.LevelInfo)
	logger.Info("request",
		"route", "POST /cases/{id}/assign",
		"method", "POST",
		"status", 201,
		"latency_ms", 1.5,
		"request_id", "0123456789abcdef01234567",
		"outcome", "ok",
		"component", "web",
		"error", errors.New("assign case 42: conflict"),
		"event_hash", "deadbeef",
		"count", 3,
		"channel", "telegram",
		"kind", "sms",
		"seq", 7,
		"size", 1024,
		"version", "1.0.0",
		"addr", "127.0.0.1:8080",
		"duration_ms", 12,
		"stack", "goroutine 1 [running]:",
	)
	got := decodeLines(t, buf.Bytes())
	want := []map[string]any{{
		"level": "INFO", "msg": "request",
		"route": "POST /cases/{id}/assign", "method": "POST", "status": 201.0, "latency_ms": 1.5,
		"request_id": "0123456789abcdef01234567", "outcome": "ok", "component": "web",
		"error": "assign case 42: conflict", "event_hash": "deadbeef", "count": 3.0,
		"channel": "telegram", "kind": "sms", "seq": 7.0, "size": 1024.0, "version": "1.0.0",
		"addr": "127.0.0.1:8080", "duration_ms": 12.0, "stack": "goroutine 1 [running]:",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log line mismatch (-want +got):\n%s", diff)
	}
}

func TestNewRedactsUnknownKeys(t *testing.T) {
	var buf bytes.Buffer
	logger := logs.New(&buf, slog.LevelDebug)
	logger.Debug("inbound", "phone", canaryPhone, "name", canaryName, "status", 200)
	logger.With("from", canaryPhone).Info("with attrs", "count", 1)
	oddArgs := []any{canaryName} // a value without a key (go vet flags the literal form)
	logger.Info("bad key", oddArgs...)
	logger.Info("data as key", canaryPhone, "x") // a key built from data
	logger.Info("keyed by name", canaryName, 1)  // not an identifier: the key goes too
	logger.Info("any", slog.Any("payload", map[string]string{"text": canaryName}))

	out := buf.String()
	for _, canary := range []string{canaryPhone, canaryName} {
		if strings.Contains(out, canary) {
			t.Errorf("output contains canary %q:\n%s", canary, out)
		}
	}
	got := decodeLines(t, buf.Bytes())
	want := []map[string]any{
		{"level": "DEBUG", "msg": "inbound", "phone": logs.Redacted, "name": logs.Redacted, "status": 200.0},
		{"level": "INFO", "msg": "with attrs", "from": logs.Redacted, "count": 1.0},
		{"level": "INFO", "msg": "bad key", "!BADKEY": logs.Redacted},
		{"level": "INFO", "msg": "data as key", "!redacted_key": logs.Redacted},
		{"level": "INFO", "msg": "keyed by name", "!redacted_key": logs.Redacted},
		{"level": "INFO", "msg": "any", "payload": logs.Redacted},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines mismatch (-want +got):\n%s", diff)
	}
}

func TestNewGroups(t *testing.T) {
	var buf bytes.Buffer
	logger := logs.New(&buf, slog.LevelInfo, logs.Allow("db.wait_ms", "db.pool.size"))
	logger.Info("nested",
		slog.Group("db", "wait_ms", 4, "dsn", "file:"+canaryName, slog.Group("pool", "size", 8, "owner", canaryPhone)),
		slog.Group("", "status", 200, "phone", canaryPhone), // an empty group key inlines its members
		slog.Group("http", "status", 500),                   // "status" is allowed only at the top level
	)
	logger.WithGroup("db").With("wait_ms", 9, "user", canaryName).Info("with group", "size", 1)

	if out := buf.String(); strings.Contains(out, canaryPhone) || strings.Contains(out, canaryName) {
		t.Errorf("output contains a canary:\n%s", out)
	}
	got := decodeLines(t, buf.Bytes())
	want := []map[string]any{
		{
			"level": "INFO", "msg": "nested",
			"db":     map[string]any{"wait_ms": 4.0, "dsn": logs.Redacted, "pool": map[string]any{"size": 8.0, "owner": logs.Redacted}},
			"status": 200.0, "phone": logs.Redacted,
			"http": map[string]any{"status": logs.Redacted},
		},
		{
			// Built-in keys are never grouped; everything after WithGroup is.
			"level": "INFO", "msg": "with group",
			"db": map[string]any{"wait_ms": 9.0, "user": logs.Redacted, "size": logs.Redacted},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines mismatch (-want +got):\n%s", diff)
	}
}

func TestNewAllowOption(t *testing.T) {
	var buf bytes.Buffer
	logs.New(&buf, slog.LevelInfo, logs.Allow("queue_depth")).Info("outbox", "queue_depth", 12, "queue", "x")
	got := decodeLines(t, buf.Bytes())
	want := []map[string]any{{"level": "INFO", "msg": "outbox", "queue_depth": 12.0, "queue": logs.Redacted}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log line mismatch (-want +got):\n%s", diff)
	}
}

func TestNewLevel(t *testing.T) {
	var buf bytes.Buffer
	logger := logs.New(&buf, slog.LevelWarn)
	logger.Info("dropped")
	logger.Warn("kept")
	got := decodeLines(t, buf.Bytes())
	want := []map[string]any{{"level": "WARN", "msg": "kept"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines mismatch (-want +got):\n%s", diff)
	}
}

// secret stands for any type that holds a secret or personal data.
type secret string

func (secret) LogValue() slog.Value { return slog.StringValue(logs.Redacted) }

func TestNewLogValuerUnderAllowedKey(t *testing.T) {
	var buf bytes.Buffer
	logs.New(&buf, slog.LevelInfo).Info("oops", "error", secret(canaryPhone), "kind", secret(canaryName))
	if out := buf.String(); strings.Contains(out, canaryPhone) || strings.Contains(out, canaryName) {
		t.Errorf("output contains a canary:\n%s", out)
	}
	got := decodeLines(t, buf.Bytes())
	want := []map[string]any{{"level": "INFO", "msg": "oops", "error": logs.Redacted, "kind": logs.Redacted}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log line mismatch (-want +got):\n%s", diff)
	}
}

// TestNewLogInjection shows that a newline or control character in the
// message or in an allowed value cannot forge a second line.
func TestNewLogInjection(t *testing.T) {
	var buf bytes.Buffer
	forged := "x\n{\"level\":\"INFO\",\"msg\":\"forged\"}\r\u2028\x1b[31m\x00"
	logger := logs.New(&buf, slog.LevelInfo)
	logger.Info("msg "+forged, "error", fmt.Errorf("parse: %s", forged), "route", forged)

	out := buf.Bytes()
	if n := bytes.Count(out, []byte("\n")); n != 1 {
		t.Fatalf("got %d newlines, want 1:\n%s", n, out)
	}
	for _, c := range out[:len(out)-1] {
		if c < 0x20 || c == 0x7f {
			t.Fatalf("output holds raw control byte %#x:\n%q", c, out)
		}
	}
	got := decodeLines(t, out)
	want := []map[string]any{{"level": "INFO", "msg": "msg " + forged, "error": "parse: " + forged, "route": forged}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log line mismatch (-want +got):\n%s", diff)
	}
}
