// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

var (
	// Content that is data, not words of the console: ids, codes in an
	// audit entry, JSON, what an operator or contact typed.
	dataRE     = regexp.MustCompile(`(?s)<(script|style|code|pre|textarea|option)\b[^>]*>.*?</(script|style|code|pre|textarea|option)>`)
	tagRE      = regexp.MustCompile(`(?s)<[^>]*>`)
	attrRE     = regexp.MustCompile(`\b(?:title|placeholder|aria-label)="([^"]*)"`)
	keyRE      = regexp.MustCompile(`(?:^|\s)([a-z]+(?:\.[a-z_]+)+)(?:\s|$|[:,;·])`)
	spaceRE    = regexp.MustCompile(`\s+`)
	cyrillicRE = regexp.MustCompile(`[\p{Cyrillic}][\p{Cyrillic}' ]*`)
)

// visibleText is what a person reads on a page: its text and the titles,
// placeholders and labels of its elements, data left out.
func visibleText(page string) string {
	var attrs []string
	for _, m := range attrRE.FindAllStringSubmatch(page, -1) {
		attrs = append(attrs, m[1])
	}
	body := dataRE.ReplaceAllString(page, " ")
	body = tagRE.ReplaceAllString(body, " · ")
	return html.UnescapeString(spaceRE.ReplaceAllString(body+" "+strings.Join(attrs, " · "), " "))
}

// rawCodes are codes of the domain that must never show as they are on a
// page in either language; uiWordsEN are words of the console's English
// that must not show on a Ukrainian page.
var (
	rawCodes = []string{
		"case-officer", "telegram", "whatsapp", "webform", "surrender", "lost_contact", "in_custody", "under_way", "Unauthorized", "Forbidden", "Internal Server Error", "Помилка 4", "Помилка 5",
	}
	rawCodesUK = []string{"verification", "supervisor", "auditor", "intake", "finance", "admin", "relatives", "registered", "requested", "open", "closed", "stored", "queued", "sent", "delivered", "held", "deny", "allow", "ru", "uk", "en"}
	uiWordsEN  = []string{
		"Inbox", "Reply", "Close", "Take", "Sign out", "Sign in", "Status", "Nothing here", "Error", "Back", "Save",
		"Cases", "Shifts", "Settings", "Audit log", "waiting", "nobody", "Operator", "Stream", "Language", "Channel",
		"Note", "Delete", "Approve", "Refuse", "Download", "hours", "people", "seconds", "Time zone", "Who", "Action",
	}
)

// wordIn reports whether w occurs in text as a whole word.
func wordIn(text, w string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], w)
		if j < 0 {
			return false
		}
		j += i
		before, after := rune(' '), rune(' ')
		if j > 0 {
			before = []rune(text[:j])[len([]rune(text[:j]))-1]
		}
		if k := j + len(w); k < len(text) {
			after = []rune(text[k:])[0]
		}
		if !isWordRune(before) && !isWordRune(after) {
			return true
		}
		i = j + len(w)
	}
}

func isWordRune(r rune) bool {
	return r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 'а' && r <= 'я' || r >= 'А' && r <= 'Я' || strings.ContainsRune("іїєґІЇЄҐ'", r)
}

// untranslated lists what is wrong with a page's words in lang.
func untranslated(lang, page string) []string {
	text := visibleText(page)
	var out []string
	for _, m := range keyRE.FindAllStringSubmatch(text, -1) {
		out = append(out, "a key shown raw: "+m[1])
	}
	codes := rawCodes
	if lang == "uk" {
		codes = append(append([]string{}, rawCodes...), rawCodesUK...)
		for _, w := range uiWordsEN {
			if wordIn(text, w) {
				out = append(out, "English on a Ukrainian page: "+w)
			}
		}
	}
	if lang == "en" {
		// Ukrainian words on an English page (the language switch names
		// itself in Ukrainian).
		rest := strings.ReplaceAll(text, "Українська", "")
		if m := cyrillicRE.FindString(rest); m != "" {
			out = append(out, "Ukrainian on an English page: "+m)
		}
	}
	for _, c := range codes {
		if wordIn(text, c) {
			out = append(out, "a raw code: "+c)
		}
	}
	return out
}

// TestNoUntranslatedWordsOnAnyPage walks every GET page of the console
// (every route of Routes() but assets, streams, files and JSON) as each
// role of a seeded world, in Ukrainian and in English, with the objects
// of the world in place of the patterns' ids (those out of reach give
// error pages, which are walked too), and fails on a translation key
// shown raw, an English word of the console on a Ukrainian page, or a
// raw code of the domain.
func TestNoUntranslatedWordsOnAnyPage(t *testing.T) {
	w := newPolicyWorld(t)
	ctx := context.Background()
	// A closed conversation and a note, so that their words show too.
	if err := w.f.db.SetConversationState(ctx, lifeline.CLIActor, w.convs["free"], "closed"); err != nil {
		t.Fatal(err)
	}
	skip := map[string]bool{
		"GET /static/": true, "GET /events": true, "GET /inbox/counts": true, "GET /media/{id}": true,
		"GET /enrol/qr.png": true, "GET /cases/{id}/documents/{doc}": true, "GET /exports/{id}/download": true,
	}
	var paths []string
	for _, r := range w.f.con.Routes() {
		method, pattern, _ := strings.Cut(r.Pattern, " ")
		if method != "GET" || skip[r.Pattern] {
			continue
		}
		pattern = strings.TrimSuffix(pattern, "{$}")
		switch {
		case strings.HasPrefix(pattern, "/c/{id}"):
			for _, c := range []string{"own", "co", "free", "other"} {
				paths = append(paths, strings.Replace(pattern, "{id}", string(w.convs[c]), 1))
			}
		case strings.HasPrefix(pattern, "/cases/{id}"):
			for _, c := range []string{"own", "other"} {
				paths = append(paths, strings.Replace(pattern, "{id}", string(w.cases[c]), 1))
			}
		case strings.Contains(pattern, "{"):
			t.Errorf("the walker does not know how to fill %s", r.Pattern)
		default:
			paths = append(paths, pattern)
		}
	}
	for _, q := range sqlstore.Queues {
		paths = append(paths, "/inbox?q="+string(q))
	}
	paths = append(paths, "/cases?lost=1", "/audit?action=session.", "/c/nosuchconversation0000000")
	actors := []string{"io", "co", "vo", "fo", "sv", "au", "ad", "anonymous"}
	found := map[string]map[string]bool{} // problem → where
	pages := 0
	for _, lang := range []string{"uk", "en"} {
		for _, a := range actors {
			if a != "anonymous" {
				if err := w.f.db.SetUILanguage(ctx, w.ops[a].ID, lang); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range paths {
				resp, body := w.request("GET", p, nil, a, lang, nil)
				if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
					continue
				}
				pages++
				if p == "/questionnaire" {
					// The questionnaire editor shows the definition it
					// edits: the contact's texts in Russian, Ukrainian and
					// English, its field keys and language codes, as data
					// the supervisor writes. Only its keys are checked.
					for _, m := range keyRE.FindAllStringSubmatch(visibleText(body), -1) {
						t.Errorf("a key shown raw on the questionnaire editor: %s", m[1])
					}
					continue
				}
				for _, problem := range untranslated(lang, body) {
					if found[problem] == nil {
						found[problem] = map[string]bool{}
					}
					found[problem][lang+" "+a+" "+p] = true
				}
			}
		}
	}
	if pages < 200 {
		t.Errorf("walked only %d pages", pages)
	}
	var problems []string
	for p := range found {
		problems = append(problems, p)
	}
	sort.Strings(problems)
	for _, p := range problems {
		var where []string
		for w := range found[p] {
			where = append(where, w)
		}
		sort.Strings(where)
		if len(where) > 3 {
			where = append(where[:3], "…")
		}
		t.Errorf("%s (on %d pages: %s)", p, len(found[p]), strings.Join(where, "; "))
	}
	t.Logf("walked %d pages", pages)
	_ = http.StatusOK
}
