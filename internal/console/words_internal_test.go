// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
)

// errorFormats finds every message format an operator may be shown: the
// literal format of each Errorf call in the root package, the store and
// the console, and the sentences the store passes through as "%s".
func errorFormats(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range []string{"../..", "../sqlstore", "."} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			af, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(af, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				var name string
				switch fn := call.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					if x, ok := fn.X.(*ast.Ident); ok && x.Name == "lifeline" {
						name = fn.Sel.Name
					}
				}
				arg := map[string]int{"Errorf": 1, "sessionChanged": 3}[name]
				if arg == 0 || len(call.Args) <= arg {
					return true
				}
				lit, ok := call.Args[arg].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					if name == "Errorf" {
						t.Errorf("%s: a message format that is not a literal cannot be translated", fset.Position(call.Pos()))
					}
					return true
				}
				s, _ := strconv.Unquote(lit.Value)
				if s != "%s" {
					out[s] = fset.Position(call.Pos()).String()
				}
				return true
			})
		}
	}
	return out
}

var verbRE = regexp.MustCompile(`%[-+# 0]*[0-9]*[a-zA-Z%]`)

// TestEveryErrorMessageTranslated: every message format in the code, and
// the generic sentence of every code, has Ukrainian words with the same
// arguments in the same order, and its counted words have their forms.
func TestEveryErrorMessageTranslated(t *testing.T) {
	formats := errorFormats(t)
	if len(formats) < 150 {
		t.Fatalf("found only %d formats: the scan is broken", len(formats))
	}
	for _, m := range lifeline.GenericMessages() {
		formats[m] = "generic"
	}
	for _, e := range []error{auth.ErrPasswordTooShort, auth.ErrPasswordCommon, errors.New("other")} {
		formats[passwordAdvice(e)] = "passwordAdvice"
	}
	for f, where := range formats {
		w, ok := errorWords[f]
		if !ok || w[0] == "" {
			t.Errorf("%s: no Ukrainian words for %q", where, f)
			continue
		}
		if a, b := verbRE.FindAllString(f, -1), verbRE.FindAllString(w[0], -1); !slices.Equal(a, b) {
			t.Errorf("%q: the Ukrainian takes %v, the English %v", f, b, a)
		}
		if w[1] != "" && !slices.Equal(verbRE.FindAllString(f, -1), verbRE.FindAllString(w[1], -1)) {
			t.Errorf("%q: the counted English takes other arguments", f)
		}
		for _, m := range regexp.MustCompile(`\{([^{}]*)\}`).FindAllStringSubmatch(w[0], -1) {
			if strings.Count(m[1], "|") != 2 {
				t.Errorf("%q: Ukrainian counted words need three forms: %q", f, m[1])
			}
		}
		for _, m := range regexp.MustCompile(`\{([^{}]*)\}`).FindAllStringSubmatch(w[1], -1) {
			if strings.Count(m[1], "|") != 1 {
				t.Errorf("%q: English counted words need two forms: %q", f, m[1])
			}
		}
	}
	for f := range errorWords {
		if _, ok := formats[f]; !ok {
			t.Errorf("words for %q, a message the code no longer has", f)
		}
	}
}

// TestPluralForms: one helper gives Ukrainian one/few/many and English
// one/other, for counted words in templates and in messages alike.
func TestPluralForms(t *testing.T) {
	for _, c := range []struct {
		lang string
		n    int
		key  string
		want string
	}{
		{"uk", 1, "n.people", "1 особа"}, {"uk", 2, "n.people", "2 особи"}, {"uk", 5, "n.people", "5 осіб"},
		{"uk", 11, "n.people", "11 осіб"}, {"uk", 12, "n.people", "12 осіб"}, {"uk", 14, "n.people", "14 осіб"},
		{"uk", 21, "n.people", "21 особа"}, {"uk", 22, "n.people", "22 особи"}, {"uk", 25, "n.people", "25 осіб"},
		{"uk", 0, "n.people", "0 осіб"}, {"uk", 101, "n.people", "101 особа"}, {"uk", 111, "n.people", "111 осіб"},
		{"uk", 1, "n.seconds", "1 секунда"}, {"uk", 2, "n.seconds", "2 секунди"}, {"uk", 5, "n.seconds", "5 секунд"},
		{"uk", 3, "n.messages", "3 повідомлення"}, {"uk", 7, "n.messages", "7 повідомлень"},
		{"en", 1, "n.people", "1 person"}, {"en", 2, "n.people", "2 people"}, {"en", 0, "n.people", "0 people"},
		{"en", 1, "n.seconds", "1 second"}, {"en", 21, "n.seconds", "21 seconds"},
	} {
		if got := plural(c.lang, c.n, c.key); got != c.want {
			t.Errorf("plural(%s, %d, %s) = %q, want %q", c.lang, c.n, c.key, got, c.want)
		}
	}
	for _, c := range []struct {
		lang string
		n    int
		want string
	}{
		{"uk", 1, "зачекайте 1 секунду і"}, {"uk", 3, "зачекайте 3 секунди і"}, {"uk", 15, "зачекайте 15 секунд і"},
		{"en", 1, "wait 1 second and"}, {"en", 30, "wait 30 seconds and"},
	} {
		err := lifeline.Errorf(lifeline.EUNAUTHORIZED, "Too many failed attempts: wait %d seconds and try again.", c.n)
		if got := errorText(c.lang, err); !strings.Contains(got, c.want) {
			t.Errorf("%s, %d: %q, want it to contain %q", c.lang, c.n, got, c.want)
		}
	}
}

// TestErrorTextInOperatorsWords: a store message reads in the operator's
// language, the states it names in words, not codes; an internal error
// shows the generic sentence only.
func TestErrorTextInOperatorsWords(t *testing.T) {
	err := lifeline.Errorf(lifeline.ECONFLICT, "A case in status %s cannot move to %s.", lifeline.CaseRegistered, lifeline.CaseClosed)
	if got, want := errorText("uk", err), "Справа зі статусом «зареєстровано» не може перейти в «закрито»."; got != want {
		t.Errorf("uk: %q, want %q", got, want)
	}
	if got, want := errorText("en", err), "A case in status registered cannot move to closed."; got != want {
		t.Errorf("en: %q, want %q", got, want)
	}
	err = lifeline.Errorf(lifeline.EINVALID, "Operators of the %s role do not take conversations.", lifeline.RoleAuditor)
	if got := errorText("uk", err); !strings.Contains(got, "«аудитор»") {
		t.Errorf("a role named in a message: %q", got)
	}
	if got := errorText("uk", errors.New("disk full at /var/x")); got != "Внутрішня помилка." {
		t.Errorf("internal: %q", got)
	}
	if got := errorText("uk", lifeline.Errorf(lifeline.ECONFLICT, "%s", "The bot session changed meanwhile.")); got != "Сесія бота тим часом змінилася." {
		t.Errorf("passed through: %q", got)
	}
}
