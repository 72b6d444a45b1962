// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import "testing"

// TestCSVSafe: a cell a spreadsheet would run as a formula is defused.
func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		"Тестов Олег":             "Тестов Олег",
		"=HYPERLINK(\"x\",\"y\")": "'=HYPERLINK(\"x\",\"y\")",
		"+380501234567":           "'+380501234567",
		"-1":                      "'-1",
		"@SUM(A1)":                "'@SUM(A1)",
		"":                        "",
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
