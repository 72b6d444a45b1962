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
	"подскажите": true, "скажите": true, "объясните": true, "поясните": true, "расскажите": true,
	"подскажи": true, "скажи": true, "объясни": true, "расскажи": true,
	// Ukrainian
	"як": true, "яким": true, "який": true, "яка": true, "яке": true, "які": true, "що": true, "шо": true, "де": true,
	"куди": true, "звідки": true, "коли": true, "чому": true, "навіщо": true, "нащо": true, "чи": true, "можна": true,
	"скільки": true, "хто": true, "підкажіть": true, "скажіть": true, "поясніть": true, "розкажіть": true,
	"підкажи": true, "поясни": true, "розкажи": true,
	// English
	"how": true, "what": true, "where": true, "when": true, "why": true, "who": true, "whom": true, "whose": true,
	"which": true, "can": true, "could": true, "is": true, "are": true, "am": true, "do": true, "does": true, "did": true,
	"will": true, "would": true, "should": true, "shall": true, "may": true, "might": true,
	"explain": true, "tell": true,
}

// auxiliaries open an English question only when a subject follows ("can
// I", "is it", "will you", "tell me"): in an answer they are names ("Will
// Harper") or months ("May 5, 1990").
var auxiliaries = map[string]bool{
	"can": true, "could": true, "is": true, "are": true, "am": true, "do": true, "does": true, "did": true,
	"will": true, "would": true, "should": true, "shall": true, "may": true, "might": true, "tell": true,
}

var subjects = map[string]bool{
	"i": true, "you": true, "we": true, "they": true, "he": true, "she": true, "it": true, "me": true, "us": true, "u": true,
	"my": true, "your": true, "our": true, "their": true, "his": true, "her": true, "its": true,
	"this": true, "that": true, "there": true, "these": true, "those": true, "the": true, "a": true, "an": true,
	"someone": true, "somebody": true, "anyone": true, "anybody": true, "anything": true, "something": true,
}

// notAsking follow "как", "когда" and the like in answers, not questions:
// "как угодно", "когда как", "як завжди".
var notAsking = map[string]bool{
	"угодно": true, "удобно": true, "всегда": true, "как": true, "попало": true,
	"завгодно": true, "зручно": true, "завжди": true, "як": true,
}

// An AnswerKind is what a free-text question of the questionnaire asks
// for. Some words open a question in a message but an answer to such a
// question: "Можно писать вечером" answers how to reach him.
type AnswerKind string

// The kinds of answer.
const (
	AnswerNone  AnswerKind = ""      // no free-text answer: an opening message, a choice, a yes or no
	AnswerText  AnswerKind = "text"  // free text of no kind below
	AnswerName  AnswerKind = "name"  // a person's name
	AnswerUnit  AnswerKind = "unit"  // a unit, rank or service number
	AnswerPlace AnswerKind = "place" // where he is, or where he is to be sent
	AnswerReach AnswerKind = "reach" // how and when to reach him
	AnswerDate  AnswerKind = "date"  // a date
)

// reachAnswers open answers to how and when to reach him ("Можно писать
// вечером", "Когда стемнеет", "When it's dark").
var reachAnswers = map[string]bool{"можно": true, "можна": true, "когда": true, "коли": true, "when": true, "whenever": true}

// leadWords may come before a clause's question word: greetings and
// conjunctions ("Здравствуйте, как…", "А если…", "Добрый день как…").
var leadWords = map[string]bool{
	"а": true, "и": true, "но": true, "ну": true, "так": true, "ой": true, "слушайте": true, "пожалуйста": true, "извините": true, "простите": true,
	"это": true, "вот": true, "і": true, "й": true, "та": true, "але": true, "це": true, "слухайте": true, "будь": true, "ласка": true, "вибачте": true,
	"and": true, "but": true, "so": true, "well": true, "oh": true, "please": true, "sorry": true,
	"здравствуйте": true, "здравствуй": true, "здрасте": true, "привет": true, "вітаю": true, "привіт": true, "hello": true, "hi": true, "hey": true,
	"добрый": true, "доброе": true, "доброй": true, "добрий": true, "доброго": true, "good": true,
	"день": true, "вечер": true, "утро": true, "ночи": true, "вечір": true, "ранку": true, "дня": true, "morning": true, "evening": true, "afternoon": true,
}

// ifWords after "а" ask too: "а если меня поймают", "а якщо", "and if".
var ifWords = map[string]bool{"если": true, "якщо": true, "if": true}

// LooksLikeQuestion reports whether a contact's message reads as a question
// for a person: it has a question mark, or one of its sentences or clauses
// opens (after at most three greeting or conjunction words) with a question
// word or a request to explain in Russian, Ukrainian or English ("как",
// "что", "можно", "а если", "скажите", "що", "чи", "how", "can I", "tell
// me", …), or asks with "ли" ("Безопасно ли это"). kind is what the
// message answers, if it answers a free-text question: there an English
// auxiliary asks only with a subject after it ("Will Harper" is a name),
// and, for how to reach him, "можно" and "когда" open answers. It errs
// towards yes: a false yes costs an operator a look, a false no leaves a
// soldier's question unanswered.
func LooksLikeQuestion(text string, kind AnswerKind) bool {
	if strings.ContainsAny(text, "?？") {
		return true
	}
	clauses := strings.FieldsFunc(text, func(r rune) bool {
		return strings.ContainsRune(".!,;:\n\r…()«»\"", r)
	})
	for _, c := range clauses {
		if clauseAsks(c, kind) {
			return true
		}
	}
	return false
}

// clauseAsks reports whether one clause opens with a question.
func clauseAsks(c string, kind AnswerKind) bool {
	// "ли" second asks ("Безопасно ли это", "Правда ли"); in a name, "Ли"
	// is a surname ("Виктор Ли"), so there only as written in lower case.
	if w := strings.Fields(c); len(w) > 1 && (strings.ToLower(w[1]) == "ли" && kind != AnswerName || w[1] == "ли") {
		return true
	}
	words := strings.FieldsFunc(strings.ToLower(c), func(r rune) bool {
		// Keep hyphens and apostrophes inside words: "что-то" is not "что".
		return !unicode.IsLetter(r) && r != '-' && r != '\'' && r != '’'
	})
	for i := range words {
		words[i] = strings.Trim(words[i], "-'’")
	}
	afterA := false
	for i, w := range words {
		var next string
		if i+1 < len(words) {
			next = words[i+1]
		}
		switch {
		case questionWords[w]:
			switch {
			case notAsking[next] && !auxiliaries[w]:
				return false // "как угодно", "когда как"
			case kind == AnswerReach && reachAnswers[w]:
				return false
			case kind != AnswerNone && auxiliaries[w] && !subjects[next]:
				return false
			}
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
