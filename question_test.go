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
		// Requests to explain, "ли", and more conjunctions before them.
		{"Скажіть спершу чи безпечно це", true},
		{"Ой а как это работает", true},
		{"Так объясните что будет дальше", true},
		{"Tell me what happens next", true},
		{"Безопасно ли это", true},
		// Answers whatever was asked.
		{"Как угодно", false},
		{"Когда как", false},
		{"Где угодно, лишь бы живым", false},
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
		if got := LooksLikeQuestion(tc.text, AnswerNone); got != tc.want {
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
		got := LooksLikeQuestion(s, AnswerNone)
		if strings.ContainsRune(s, '?') && !got {
			t.Errorf("%q has a question mark but is no question", s)
		}
		if LooksLikeQuestion("  "+s+"\n", AnswerNone) != got {
			t.Errorf("%q: surrounding space changed the answer", s)
		}
		upper := strings.ToUpper(s)
		roundTrip, lower := strings.ToLower(upper), strings.ToLower(s) // some letters do not come back
		if roundTrip == lower && LooksLikeQuestion(upper, AnswerNone) != got {
			t.Errorf("%q: upper case changed the answer", s)
		}
	})
}

// TestLooksLikeQuestionPerAnswerKind: at each free-text question of the
// questionnaire, realistic answers are taken as answers and questions, with
// or without a question mark, go to a person. The questions are what the
// issue-10 runs saw swallowed ("А зачем вам моё имя", "Как вы меня заберёте
// отсюда", "Скажіть спершу чи безпечно це") and their kin.
func TestLooksLikeQuestionPerAnswerKind(t *testing.T) {
	for _, tc := range []struct {
		kind      AnswerKind
		answers   []string
		questions []string
	}{
		{AnswerName,
			[]string{"Тестов Иван Петрович", "Иван", "Петренко Олег", "Ткаченко Микола Іванович", "Виктор Ли", "John Smith",
				"Will Harper", "May Brown", "Ну Иван", "Сидоров, рядовой", "Лучше без фамилии, зовите Саша"},
			[]string{"А зачем вам моё имя", "Зачем вам имя", "Скажите сначала, это анонимно", "Скажіть спершу чи безпечно це",
				"Навіщо вам моє ім'я", "Tell me first who you are", "Why do you need my name", "Можно без фамилии",
				"Можна без прізвища", "Can I give just my first name", "А кто это увидит", "Обязательно ли называть фамилию"}},
		{AnswerUnit,
			[]string{"в/ч 00000", "3-я рота", "155 бригада", "Третий батальон", "Не помню номер", "Что-то вроде 2-го батальона",
				"Мобилизован, 110 бригада", "Mobilized, 110th brigade", "Will say later"},
			[]string{"Какая разница какая часть", "А зачем номер части", "Объясните зачем это", "Что будет если скажу",
				"Кому вы это передадите", "Who will see this", "Поясніть навіщо це", "Is this safe to tell"}},
		{AnswerPlace,
			[]string{"Донецкая область, под Горловкой", "Где-то под Бахмутом", "В окопе у Авдеевки", "Когда как, меняем позиции",
				"Не могу сказать", "Near Bakhmut", "Десь під Покровськом", "Куда-то на юг, говорят"},
			[]string{"Как вы меня заберёте отсюда", "Куда мне идти", "Что мне делать дальше", "Where should I go",
				"Tell me how to get out", "Поясніть, куди йти", "А если меня поймают", "Як ви мене заберете"}},
		{AnswerReach,
			[]string{"Можно писать вечером", "Можно в телеграм", "Когда стемнеет, пишите", "Коли стемніє", "Можна дзвонити після 20:00",
				"When it's dark", "Как угодно", "Only Telegram", "Пишите сюда же", "Этот чат, лучше ночью"},
			[]string{"Как вы со мной свяжетесь", "А что если телефон заберут", "Кто будет звонить", "Скажите, это безопасно",
				"Can you call me", "Чи ви мені подзвоните"}},
		{AnswerDate,
			[]string{"01.02.1993", "1 февраля 1993", "May 5, 1990", "5 травня 1990", "1993-02-01"},
			[]string{"Зачем вам дата рождения", "А это зачем вам", "Навіщо вам це", "Why do you need it", "May I skip this"}},
	} {
		for _, text := range tc.answers {
			if LooksLikeQuestion(text, tc.kind) {
				t.Errorf("%s: %q is an answer, taken for a question", tc.kind, text)
			}
		}
		for _, text := range tc.questions {
			if !LooksLikeQuestion(text, tc.kind) {
				t.Errorf("%s: %q is a question, taken for an answer", tc.kind, text)
			}
			if !LooksLikeQuestion(text+"?", tc.kind) {
				t.Errorf("%s: %q with a question mark taken for an answer", tc.kind, text)
			}
		}
	}
}
