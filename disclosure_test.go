// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"testing"

	"github.com/lifeline-hotline/lifeline"
)

func TestDisclosureRisk(t *testing.T) {
	for text, want := range map[string]string{
		"Здравствуйте, вы в безопасности.":            "",
		"Место встречи сообщим позже":                 "место встречи",
		"Наша точка зустрічі біля млина":              "точка зустрічі",
		"Go to the Meeting Point at dawn":             "meeting point",
		"Ждите у 48.0159, 37.8029 после полуночи":     "coordinates",
		"Номер части 12345, звание 3, родился в 1994": "",
	} {
		if got := lifeline.DisclosureRisk(text); got != want {
			t.Errorf("DisclosureRisk(%q) = %q, want %q", text, got, want)
		}
	}
}
