// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"regexp"
	"strings"
)

// Staged disclosure (SECURITY.md §2.13): nothing about procedures, meeting
// points or staff reaches a contact before his case is verified: a
// provocateur learns nothing by registering. DisclosureRisk is the check
// every stage-1 text goes through (the questionnaire's messages, the
// operators' replies before a verdict).

// disclosed are phrases a stage-1 message must not hold.
var disclosed = []string{
	"место встречи", "точка встречи", "точку встречи", "место сдачи", "координаты встречи", "позывной оператора",
	"місце зустрічі", "точка зустрічі", "точку зустрічі", "координати зустрічі",
	"meeting point", "rendezvous", "meeting place",
}

// coordinates matches a latitude and longitude written as decimals
// ("48.0159, 37.8029"): a place, whatever the words around it.
var coordinates = regexp.MustCompile(`[-+]?\d{1,2}\.\d{3,}\s*[,;/ ]\s*[-+]?\d{1,3}\.\d{3,}`)

// DisclosureRisk returns what in text would disclose a procedure, a
// meeting point or staff before verification, or "" if nothing does.
func DisclosureRisk(text string) string {
	lower := strings.ToLower(text)
	for _, w := range disclosed {
		if strings.Contains(lower, w) {
			return w
		}
	}
	if m := coordinates.FindString(text); m != "" {
		return "coordinates"
	}
	return ""
}
