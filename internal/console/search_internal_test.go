// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// TestSearchAndWrapUpWordsTranslated: every key the search and wrap-up
// build from a value (an outcome, a conversation's state, a kind of
// search, a language) has Ukrainian and English words.
func TestSearchAndWrapUpWordsTranslated(t *testing.T) {
	var keys []string
	for _, o := range lifeline.Outcomes() {
		keys = append(keys, "outcome."+string(o))
	}
	for _, s := range []string{"open", "waiting", "closed"} {
		keys = append(keys, "convstate."+s)
	}
	for _, k := range []string{sqlstore.SearchByCode, sqlstore.SearchByNumber, sqlstore.SearchByHandle, sqlstore.SearchByWords} {
		keys = append(keys, "search.by."+k)
	}
	for _, l := range lifeline.Languages() {
		keys = append(keys, "lang."+string(l))
	}
	for _, k := range keys {
		if m, ok := messages[k]; !ok || m[0] == "" || m[1] == "" {
			t.Errorf("no words for %q", k)
		}
	}
}
