// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/lifeline-hotline/lifeline"
)

// pluralIndex is the plural form of n in lang: Ukrainian has three (one:
// 1, 21, 31…; few: 2–4, 22–24…; many: 0, 5–20, 25–30…, and 11–14),
// English two (one: 1; other).
func pluralIndex(lang string, n int64) int {
	if n < 0 {
		n = -n
	}
	if lang == "en" {
		if n == 1 {
			return 0
		}
		return 1
	}
	switch d, h := n%10, n%100; {
	case d == 1 && h != 11:
		return 0
	case d >= 2 && d <= 4 && (h < 12 || h > 14):
		return 1
	}
	return 2
}

// plurals are counted words: {uk one|few|many, en one|other}.
var plurals = map[string][2]string{
	"n.messages":      {"повідомлення|повідомлення|повідомлень", "message|messages"},
	"n.people":        {"особа|особи|осіб", "person|people"},
	"n.seconds":       {"секунда|секунди|секунд", "second|seconds"},
	"n.minutes":       {"хвилина|хвилини|хвилин", "minute|minutes"},
	"n.hours":         {"година|години|годин", "hour|hours"},
	"n.days":          {"день|дні|днів", "day|days"},
	"n.conversations": {"розмова|розмови|розмов", "conversation|conversations"},
	"n.entries":       {"запис|записи|записів", "entry|entries"},
	"n.shares":        {"частка|частки|часток", "share|shares"},
}

// form picks the form of n from "one|few|many" (uk) or "one|other" (en).
func form(lang string, n int64, forms string) string {
	fs := strings.Split(forms, "|")
	i := pluralIndex(lang, n)
	if i >= len(fs) {
		i = len(fs) - 1
	}
	return fs[i]
}

// plural is "n words" in lang, the words chosen by n's plural form: the
// one plural helper, also the template function n.
func plural(lang string, n any, key string) string {
	var v int64
	switch x := n.(type) {
	case int:
		v = int64(x)
	case int64:
		v = x
	case int32:
		v = int64(x)
	case float64:
		v = int64(x)
	default:
		return fmt.Sprint(n) + " " + key
	}
	p, ok := plurals[key]
	if !ok {
		return strconv.FormatInt(v, 10) + " " + key
	}
	f := p[0]
	if lang == "en" {
		f = p[1]
	}
	return strconv.FormatInt(v, 10) + " " + form(lang, v, f)
}

// countedRE finds "N {one|few|many}" in a formatted sentence: the braces
// take the form of the number just before them.
var countedRE = regexp.MustCompile(`(\d+) \{([^{}]*)\}`)

func counted(lang, s string) string {
	return countedRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := countedRE.FindStringSubmatch(m)
		n, _ := strconv.ParseInt(sub[1], 10, 64)
		return sub[1] + " " + form(lang, n, sub[2])
	})
}

// codes are the words for the raw codes of the domain that pages show:
// roles, channel kinds, conversation states, languages, states of files,
// exports, erasures, operations. A code with no words shows as itself,
// which the page walker catches.
var codes = map[string][2]string{ // {uk, en}
	"role.intake":       {"оператор прийому", "intake operator"},
	"role.case-officer": {"куратор справ", "case officer"},
	"role.verification": {"верифікатор", "verification officer"},
	"role.finance":      {"фінансист", "finance officer"},
	"role.supervisor":   {"керівник", "supervisor"},
	"role.auditor":      {"аудитор", "auditor"},
	"role.admin":        {"адміністратор", "administrator"},
	"role.system":       {"система", "system"},
	"role.cli":          {"командний рядок", "command line"},
	"ck.telegram":       {"Telegram", "Telegram"},
	"ck.whatsapp":       {"WhatsApp", "WhatsApp"},
	"ck.sms":            {"SMS", "SMS"},
	"ck.voice":          {"голос", "voice"},
	"ck.webform":        {"вебформа", "web form"},
	"conv.open":         {"відкрита", "open"},
	"conv.closed":       {"закрита", "closed"},
	"lang.ru":           {"російська", "Russian"},
	"lang.uk":           {"українська", "Ukrainian"},
	"lang.en":           {"англійська", "English"},
	"file.stored":       {"збережено", "stored"},
	"file.pending":      {"завантажується", "being fetched"},
	"file.refused":      {"відхилено", "refused"},
	"file.failed":       {"не вдалося завантажити", "failed"},
	"file.skipped":      {"не завантажено", "skipped"},
	"file.shredded":     {"знищено", "shredded"},
	"erasure.requested": {"запитано", "requested"},
	"erasure.confirmed": {"підтверджено", "confirmed"},
	"erasure.done":      {"виконано", "done"},
	"op.planned":        {"заплановано", "planned"},
	"op.approved":       {"затверджено", "approved"},
	"op.under_way":      {"триває", "under way"},
	"op.done":           {"завершено", "done"},
	"op.cancelled":      {"скасовано", "cancelled"},
	"decision.allow":    {"дозволено", "allowed"},
	"decision.deny":     {"відмовлено", "denied"},
}

// word is the words for a raw code of a kind (role, ck, conv, lang…): the
// template function word.
func word(lang, kind string, code any) string {
	c := fmt.Sprint(code)
	m, ok := codes[kind+"."+c]
	if !ok {
		return c
	}
	if lang == "en" {
		return m[1]
	}
	return m[0]
}

// argWord is an error's string argument in lang: a state, role, kind or
// stream named in a message shows in the reader's words, anything else as
// it is.
func argWord(lang, s string) string {
	for _, k := range []string{"cs", "status", "export"} {
		if _, ok := messages[k+"."+s]; ok {
			return translate(lang, k+"."+s)
		}
	}
	for _, k := range []string{"role", "conv", "ck", "op", "erasure", "file"} {
		if _, ok := codes[k+"."+s]; ok {
			return word(lang, k, s)
		}
	}
	if lifeline.Stream(s) == lifeline.StreamSurrender || lifeline.Stream(s) == lifeline.StreamRelatives {
		return translate(lang, "stream."+s)
	}
	return s
}

// errorText is what an operator reading lang sees for err: the message's
// format in his words (errorWords, keyed by the English format), its
// arguments formatted, any state or role among them translated, counted
// words in the right form. A message with no words shows in English.
func errorText(lang string, err error) string {
	format, args := lifeline.ErrorFormat(err)
	if format == "%s" && len(args) == 1 {
		// A sentence passed through as is (the store's conflicts).
		if s, ok := args[0].(string); ok {
			format, args = s, nil
		}
	}
	if format == "" {
		return ""
	}
	w, ok := errorWords[format]
	switch {
	case ok && lang != "en":
		format = w[0]
	case ok && w[1] != "":
		format = w[1]
	}
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
		// A string, or a named string type such as lifeline.Role.
		if v := reflect.ValueOf(a); v.IsValid() && v.Kind() == reflect.String {
			out[i] = argWord(lang, v.String())
		}
	}
	return counted(lang, fmt.Sprintf(format, out...))
}
