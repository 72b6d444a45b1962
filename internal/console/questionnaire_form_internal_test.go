// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"encoding/json"
	"net/url"
	"testing"
)

// FuzzFormDefinition: whatever a form posts, the editor's form reader
// answers JSON or an error, never a panic.
func FuzzFormDefinition(f *testing.F) {
	for _, seed := range []struct{ query, add string }{
		{"q.steps.0.id=a&q.steps.0.type=text&q.steps.0.text.ru=x&q.steps.0.required=on", ""},
		{"q.steps.1.options.0.value=ru&q.steps.1.options.0.remove=on&q.languages=ru,uk", "steps.1.options"},
		{"q.steps.0=a&q.steps.x=b", "steps"},
		{"q.keywords.pause=a%0Ab&q.steps.0.min_len=-1", ""},
		{"q.a.b.c.d.e.f.g.h.i=1&q.steps.999=x", "a.0"},
	} {
		f.Add(seed.query, seed.add)
	}
	f.Fuzz(func(t *testing.T, query, add string) {
		form, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		b, err := formDefinition(form, add)
		if err == nil && !json.Valid(b) {
			t.Fatalf("formDefinition(%q, %q) = %s: not JSON", query, add, b)
		}
	})
}
