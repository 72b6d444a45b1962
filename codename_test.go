// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
)

var codeNameRE = regexp.MustCompile(`^[A-Z]{3,16}-[0-9]{4}$`)

func TestNewCodeName(t *testing.T) {
	const n = 5000
	names := map[string]bool{}
	words := map[string]bool{}
	digits := map[byte]bool{}
	for range n {
		s := lifeline.NewCodeName()
		if !codeNameRE.MatchString(s) {
			t.Fatalf("NewCodeName() = %q, does not match %v", s, codeNameRE)
		}
		if !lifeline.ValidCodeName(s) {
			t.Fatalf("ValidCodeName(%q) = false", s)
		}
		names[s] = true
		word, num, _ := strings.Cut(s, "-")
		words[word] = true
		for i := range num {
			digits[num[i]] = true
		}
	}
	// About 2 million names: 5000 draws collide a handful of times at most.
	if len(names) < n-50 {
		t.Errorf("%d distinct names in %d draws", len(names), n)
	}
	// About 200 words: 5000 draws see nearly all of them.
	if len(words) < 180 {
		t.Errorf("only %d distinct words in %d draws; want ~200", len(words), n)
	}
	if len(digits) != 10 {
		t.Errorf("only digits %v appear", digits)
	}
}

func TestValidCodeName(t *testing.T) {
	for _, s := range []string{"KESTREL-4821", "ELK-0000", "YELLOWHAMMER-9999", "ABCDEFGHIJKLMNOP-1234"} {
		if !lifeline.ValidCodeName(s) {
			t.Errorf("ValidCodeName(%q) = false, want true", s)
		}
	}
	for _, s := range []string{
		"", "KESTREL", "KESTREL-", "KESTREL-482", "KESTREL-48210", "kestrel-4821", "Kestrel-4821",
		"KE-4821", "ABCDEFGHIJKLMNOPQ-1234", "KESTREL_4821", "KESTREL 4821", "KESTREL-48a1",
		"KESTREL-4821-1", "-4821", "KESTRЕL-4821", // Cyrillic Е
		"KESTREL-٤٨٢١", // Arabic-Indic digits
	} {
		if lifeline.ValidCodeName(s) {
			t.Errorf("ValidCodeName(%q) = true, want false", s)
		}
	}
}
