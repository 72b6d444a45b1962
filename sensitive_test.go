// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
)

const canary = "Ivan Petrov +79161234567"

func TestSensitiveFmt(t *testing.T) {
	s := lifeline.Sensitive(canary)
	type wrapper struct {
		Name lifeline.Sensitive
		Ptr  *lifeline.Sensitive
	}
	w := wrapper{Name: s, Ptr: &s}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10s", "%-5v", "%T %v", "%d"} {
		var got string
		if strings.HasPrefix(verb, "%T") {
			got = fmt.Sprintf(verb, s, s)
		} else {
			got = fmt.Sprintf(verb, s)
		}
		if strings.Contains(got, "Ivan") || strings.Contains(got, "7916") || strings.Contains(got, "4976616e") {
			t.Errorf("Sprintf(%q, s) = %q; reveals the value", verb, got)
		}
		if got := fmt.Sprintf(verb, w, w); strings.Contains(got, "Ivan") {
			t.Errorf("Sprintf(%q, struct) = %q; reveals the value", verb, got)
		}
	}
	if got := fmt.Sprint(s); got != lifeline.Redacted {
		t.Errorf("Sprint = %q, want %q", got, lifeline.Redacted)
	}
	if got := s.String(); got != lifeline.Redacted {
		t.Errorf("String() = %q, want %q", got, lifeline.Redacted)
	}
	if got := s.Reveal(); got != canary {
		t.Errorf("Reveal() = %q, want the value", got)
	}
	if s.IsEmpty() || !lifeline.Sensitive("").IsEmpty() {
		t.Error("IsEmpty is wrong")
	}
	if err := fmt.Errorf("lookup %v: failed", s); strings.Contains(err.Error(), "Ivan") {
		t.Errorf("error string %q reveals the value", err)
	}
}

func TestSensitiveSlog(t *testing.T) {
	s := lifeline.Sensitive(canary)
	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(newHandler(&buf))
		log.Info("msg", "name", s, slog.Any("any", s), slog.Group("g", "nested", s),
			"struct", struct{ N lifeline.Sensitive }{s})
		if out := buf.String(); strings.Contains(out, "Ivan") || !strings.Contains(out, lifeline.Redacted) {
			t.Errorf("%s handler wrote %q", name, out)
		}
	}
}

func TestSensitiveJSON(t *testing.T) {
	v := struct {
		Name lifeline.Sensitive            `json:"name"`
		Map  map[string]lifeline.Sensitive `json:"map"`
	}{lifeline.Sensitive(canary), map[string]lifeline.Sensitive{"k": canary}}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "Ivan") {
		t.Errorf("json.Marshal = %s; reveals the value", b)
	}
	// Decoding is unaffected.
	var in struct{ Name lifeline.Sensitive }
	if err := json.Unmarshal([]byte(`{"Name":"Олена"}`), &in); err != nil || in.Name.Reveal() != "Олена" {
		t.Errorf("json.Unmarshal = %q, %v; want the value", in.Name.Reveal(), err)
	}
}
