// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline"
)

// TestDisclosuresFindEachCategory: each kind of detail is found and named
// by its category code, in the three languages.
func TestDisclosuresFindEachCategory(t *testing.T) {
	for text, want := range map[string][]lifeline.Disclosure{
		"Подходите в 06:00.":                 {lifeline.DiscloseTime},
		"Будьте готовы к 18.30.":             {lifeline.DiscloseTime},
		"Вихід о шостій.":                    {lifeline.DiscloseTime},
		"Be there at 6 am.":                  {lifeline.DiscloseTime},
		"Be ready at 0600h.":                 {lifeline.DiscloseTime},
		"Выходите в полночь.":                {lifeline.DiscloseTime},
		"Выходите послезавтра.":              {lifeline.DiscloseDate},
		"Выход 12.03.":                       {lifeline.DiscloseDate},
		"Выход 12 марта.":                    {lifeline.DiscloseDate},
		"Go on Monday.":                      {lifeline.DiscloseDate},
		"The 3rd of May.":                    {lifeline.DiscloseDate},
		"Будьте готовы через два дня.":       {lifeline.DiscloseDate},
		"Точка 3.":                           {lifeline.DisclosePlace},
		"Ждите у моста.":                     {lifeline.DisclosePlace},
		"Ждём в Бахмуте.":                    {lifeline.DisclosePlace},
		"Чекайте біля мосту.":                {lifeline.DisclosePlace},
		"Wait near the bridge.":              {lifeline.DisclosePlace},
		"Ждите у 48.0159, 37.8029":           {lifeline.DiscloseCoordinates},
		"MGRS 37U DQ 12345 67890":            {lifeline.DiscloseCoordinates},
		"geo:48.0159,37.8029":                {lifeline.DiscloseCoordinates},
		"Маршрут сообщим отдельно.":          {lifeline.DiscloseRoute},
		"Позывной Сокол.":                    {lifeline.DiscloseCallSign},
		"Позивний: Беркут":                   {lifeline.DiscloseCallSign},
		"Your call sign is Falcon.":          {lifeline.DiscloseCallSign},
		"Вас примет 3-я рота.":               {lifeline.DiscloseUnit},
		"Данные в в/ч 12345.":                {lifeline.DiscloseUnit},
		"The 36th brigade knows.":            {lifeline.DiscloseUnit},
		"Командир Иванов в курсе.":           {lifeline.DisclosePerson},
		"Ask for Captain Miller.":            {lifeline.DisclosePerson},
		"Здравствуйте, вы в безопасности.":   nil,
		"Ответим в течение дня.":             nil,
		"Оператор ответит через минуту.":     nil,
		"What is your unit?":                 nil,
		"Какой у вас позывной?":              nil,
		"В какой части вы служите?":          nil,
		"Можно продолжить в Telegram.":       nil,
		"Номер части вы можете не называть.": nil,
		"Вы сможете писать в 2 раза чаще?":   nil,
		"Мы поможем Вам и Вашей семье, у Вас всё получится": nil,
		"Осталось три четверти анкеты.":                     nil,
	} {
		if got := lifeline.Disclosures(text); !slices.Equal(got, want) {
			t.Errorf("Disclosures(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestDisclosureCorpus measures the detector on sets of operator
// replies: in each, at least 95% of the risky ones are held, at most
// 10% of the harmless ones.
func TestDisclosureCorpus(t *testing.T) {
	// The corpus written with the detector (at least 100 of each); a
	// black-box checker's set, written without sight of it; and two sets
	// written by two engineers before the detector was changed for the
	// checker's misses (each measured unseen first: see its header). Each
	// set must pass the bar alone.
	for _, name := range []string{"disclosure-corpus.tsv", "disclosure-heldout.tsv", "disclosure-fresh.tsv", "disclosure-colleague.tsv"} {
		t.Run(name, func(t *testing.T) { checkDisclosureSet(t, name, name == "disclosure-corpus.tsv") })
	}
}

func checkDisclosureSet(t *testing.T, name string, main bool) {
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type tally struct{ n, held int }
	counts := map[string]*tally{"risky": {}, "harmless": {}}
	langs := map[string]int{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if sc.Text() == "" || strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		label, rest, _ := strings.Cut(sc.Text(), "\t")
		lang, text, ok := strings.Cut(rest, "\t")
		c := counts[label]
		if !ok || c == nil || !slices.Contains([]string{"ru", "uk", "en"}, lang) || text == "" {
			t.Fatalf("line %d: want risky|harmless <TAB> ru|uk|en <TAB> text", line)
		}
		langs[lang]++
		c.n++
		got := lifeline.Disclosures(text)
		if len(got) > 0 {
			c.held++
		}
		switch {
		case label == "risky" && len(got) == 0:
			t.Logf("line %d: risky reply not held: %s", line, text)
		case label == "harmless" && len(got) > 0:
			t.Logf("line %d: harmless reply held for %v: %s", line, got, text)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	r, h := counts["risky"], counts["harmless"]
	if main && (r.n < 100 || h.n < 100) || langs["ru"] == 0 || langs["uk"] == 0 || langs["en"] == 0 {
		t.Fatalf("corpus of %d risky and %d harmless replies (%v): want at least 100 of each in ru, uk and en", r.n, h.n, langs)
	}
	riskyHeld, harmlessHeld := 100*float64(r.held)/float64(r.n), 100*float64(h.held)/float64(h.n)
	t.Logf("risky held: %d of %d (%.1f%%); harmless held: %d of %d (%.1f%%)", r.held, r.n, riskyHeld, h.held, h.n, harmlessHeld)
	if riskyHeld < 95 {
		t.Errorf("risky held %.1f%%, want at least 95%%", riskyHeld)
	}
	if harmlessHeld > 10 {
		t.Errorf("harmless held %.1f%%, want at most 10%%", harmlessHeld)
	}
}

// FuzzDisclosures: any text, however hostile, gives an answer without a
// panic, made only of known category codes, each once, in report order.
func FuzzDisclosures(f *testing.F) {
	sc, err := os.ReadFile("testdata/disclosure-corpus.tsv")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(string(sc), "\n") {
		if _, text, ok := strings.Cut(line, "\t"); ok {
			f.Add(text)
		}
	}
	f.Add("в/ч")
	f.Add("позывной")
	f.Add("через")
	f.Add("12.")
	f.Add("\xff\xfe в 6")
	f.Fuzz(func(t *testing.T, text string) {
		got := lifeline.Disclosures(text)
		all := lifeline.AllDisclosures()
		last := -1
		for _, d := range got {
			i := slices.Index(all, d)
			if i <= last {
				t.Fatalf("Disclosures(%q) = %v: unknown, repeated or out of order", text, got)
			}
			last = i
		}
		if !utf8.ValidString(lifeline.JoinDisclosures(got)) || !slices.Equal(lifeline.ParseDisclosures(lifeline.JoinDisclosures(got)), got) {
			t.Fatalf("codes %v do not survive a round trip", got)
		}
	})
}
