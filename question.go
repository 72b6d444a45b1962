// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"strings"
	"unicode"
)

// A question for a person. A soldier who writes to the hotline often asks
// before he answers anything ("Как это сделать безопасно?"); the
// registration bot cannot answer him, so a message that reads as a question
// goes to an operator at once instead of being taken as an answer or met
// with "answer with a number" (internal/questionnaire). LooksLikeQuestion is
// that one rule, for every place that needs it.

// questionWords open a question, in Russian, Ukrainian and English, lower
// case. A clause that starts with one (after a greeting or a conjunction)
// asks something, even without a question mark.
var questionWords = map[string]bool{
	// Russian
	"как": true, "каким": true, "какой": true, "какая": true, "какое": true, "какие": true, "что": true, "чё": true, "че": true,
	"чем": true, "чего": true, "где": true, "куда": true, "откуда": true, "когда": true, "почему": true, "зачем": true,
	"отчего": true, "можно": true, "сколько": true, "кто": true, "кого": true, "кому": true, "разве": true, "неужели": true,
	"подскажите": true, "скажите": true, "объясните": true,
	// Ukrainian
	"як": true, "яким": true, "який": true, "яка": true, "яке": true, "які": true, "що": true, "шо": true, "де": true,
	"куди": true, "звідки": true, "коли": true, "чому": true, "навіщо": true, "нащо": true, "чи": true, "можна": true,
	"скільки": true, "хто": true, "підкажіть": true, "скажіть": true, "поясніть": true,
	// English
	"how": true, "what": true, "where": true, "when": true, "why": true, "who": true, "whom": true, "whose": true,
	"which": true, "can": true, "could": true, "is": true, "are": true, "am": true, "do": true, "does": true, "did": true,
	"will": true, "would": true, "should": true, "shall": true, "may": true, "might": true,
}

// leadWords may come before a clause's question word: greetings and
// conjunctions ("Здравствуйте, как…", "А если…", "Добрый день как…").
var leadWords = map[string]bool{
	"а": true, "и": true, "но": true, "ну": true, "і": true, "й": true, "та": true, "але": true, "and": true, "but": true, "so": true, "well": true,
	"здравствуйте": true, "здравствуй": true, "здрасте": true, "привет": true, "вітаю": true, "привіт": true, "hello": true, "hi": true, "hey": true,
	"добрый": true, "доброе": true, "доброй": true, "добрий": true, "доброго": true, "good": true,
	"день": true, "вечер": true, "утро": true, "ночи": true, "вечір": true, "ранку": true, "дня": true, "morning": true, "evening": true, "afternoon": true,
}

// ifWords after "а" ask too: "а если меня поймают", "а якщо", "and if".
var ifWords = map[string]bool{"если": true, "якщо": true, "if": true}

// LooksLikeQuestion reports whether a contact's message reads as a question
// for a person: it has a question mark, or one of its sentences or clauses
// opens (after at most three greeting or conjunction words) with a question
// word in Russian, Ukrainian or English ("как", "что", "можно", "а если",
// "що", "чи", "how", "can", …). It errs towards yes: a false yes costs an
// operator a look, a false no leaves a soldier's question unanswered.
func LooksLikeQuestion(text string) bool {
	if strings.ContainsAny(text, "?？") {
		return true
	}
	clauses := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return strings.ContainsRune(".!,;:\n\r…()«»\"", r)
	})
	for _, c := range clauses {
		if clauseAsks(c) {
			return true
		}
	}
	return false
}

// clauseAsks reports whether one clause, lower case, opens with a question.
func clauseAsks(c string) bool {
	words := strings.FieldsFunc(c, func(r rune) bool {
		// Keep hyphens and apostrophes inside words: "что-то" is not "что".
		return !unicode.IsLetter(r) && r != '-' && r != '\'' && r != '’'
	})
	afterA := false
	for i, w := range words {
		w = strings.Trim(w, "-'’")
		switch {
		case questionWords[w]:
			return true
		case afterA && ifWords[w]:
			return true
		case leadWords[w] && i < 3:
			afterA = w == "а" || w == "and"
		default:
			return false
		}
	}
	return false
}
