// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"strings"
	"testing"
)

func TestLooksLikeQuestion(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		// Question marks, anywhere.
		{"Как это сделать безопасно?", true},
		{"Это правда, что можно сдаться ?!", true},
		{"Куда? Я не понял", true},
		{"а 1？", true},
		// Question words, in each language, without a question mark.
		{"Как это сделать безопасно", true},
		{"что будет с семьёй", true},
		{"Можно писать ночью", true},
		{"А если меня поймают", true},
		{"а что потом", true},
		{"Що буде з родиною", true},
		{"Чи можна написати пізніше", true},
		{"А якщо мене спіймають", true},
		{"how do I do it safely", true},
		{"Can my wife come too", true},
		{"is it safe", true},
		{"What if they check my phone", true},
		// After a greeting, a conjunction or another clause.
		{"Здравствуйте, как сдаться", true},
		{"Добрый день как с вами связаться", true},
		{"Вітаю. Коли ви відповісте", true},
		{"Hello, where do I go", true},
		{"Жена просит узнать, что будет с семьёй.", true},
		{"Нас отправляют через неделю. Что мне нужно знать", true},
		{"Подскажите, пожалуйста", true},
		// Answers and statements.
		{"1", false},
		{"Русский", false},
		{"Да", false},
		{"Тестов Иван Петрович", false},
		{"01.02.1993", false},
		{"в/ч 00000", false},
		{"Здравствуйте. Хочу сдаться.", false},
		{"Я могу писать только ночью.", false},
		{"Спасибо. Я на связи.", false},
		{"Меня отправляют на фронт через неделю.", false},
		{"что-то не помню номер", false}, // "что-то" is not "что"
		{"Какао", false},                 // a word that begins like one is not one
		{"Здравствуйте", false},
		{"Добрый день", false},
		{"пауза", false},
		{"я не знаю как", false}, // the word must open the clause
		{"", false},
		{"   ", false},
		{"!!!", false},
	} {
		if got := LooksLikeQuestion(tc.text); got != tc.want {
			t.Errorf("LooksLikeQuestion(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

// FuzzLooksLikeQuestion: any text, however hostile, gets an answer without
// a panic; a question mark always makes a question; surrounding space and
// case change nothing.
func FuzzLooksLikeQuestion(f *testing.F) {
	for _, s := range []string{"Как это сделать безопасно?", "1", "А если", "\x00\xff?", strings.Repeat("а ", 5000), "що-то", "Hello, how"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := LooksLikeQuestion(s)
		if strings.ContainsRune(s, '?') && !got {
			t.Errorf("%q has a question mark but is no question", s)
		}
		if LooksLikeQuestion("  "+s+"\n") != got {
			t.Errorf("%q: surrounding space changed the answer", s)
		}
		upper := strings.ToUpper(s)
		roundTrip, lower := strings.ToLower(upper), strings.ToLower(s) // some letters do not come back
		if roundTrip == lower && LooksLikeQuestion(upper) != got {
			t.Errorf("%q: upper case changed the answer", s)
		}
	})
}
