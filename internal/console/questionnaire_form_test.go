// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
)

var (
	formOf       = regexp.MustCompile(`(?s)<form method="post" action="/questionnaire" id="questionnaire-form".*?</form>`)
	formInput    = regexp.MustCompile(`<input (type="(?:hidden|checkbox)" )?name="([^"]+)"(?: value="([^"]*)")?([^>]*)>`)
	formTextarea = regexp.MustCompile(`(?s)<textarea name="([^"]+)"[^>]*>(.*?)</textarea>`)
	formSelect   = regexp.MustCompile(`(?s)<select name="([^"]+)">(.*?)</select>`)
	formSelected = regexp.MustCompile(`<option value="([^"]*)" selected>`)
)

// browserForm is what a browser would post from the page's editor form
// as it stands: every text field, the checked boxes, the selected options.
func browserForm(t *testing.T, page string) url.Values {
	t.Helper()
	f := formOf.FindString(page)
	if f == "" {
		t.Fatalf("no editor form on the page:\n%s", page)
	}
	v := url.Values{}
	for _, m := range formInput.FindAllStringSubmatch(f, -1) {
		if m[1] == `type="checkbox" ` && !strings.Contains(m[4], "checked") {
			continue
		}
		val := html.UnescapeString(m[3])
		if m[1] == `type="checkbox" ` {
			val = "on"
		}
		v.Set(m[2], val)
	}
	for _, m := range formTextarea.FindAllStringSubmatch(f, -1) {
		v.Set(m[1], strings.TrimPrefix(html.UnescapeString(m[2]), "\n"))
	}
	for _, m := range formSelect.FindAllStringSubmatch(f, -1) {
		if s := formSelected.FindStringSubmatch(m[2]); s != nil {
			v.Set(m[1], html.UnescapeString(s[1]))
		}
	}
	return v
}

// sameDefinition reports whether two definitions say the same.
func sameDefinition(t *testing.T, a, b []byte) bool {
	t.Helper()
	da, err := questionnaire.Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := questionnaire.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(da)
	jb, _ := json.Marshal(db)
	return string(ja) == string(jb)
}

// TestQuestionnaireFormRoundTripsAndPreviews: the editor shows the
// questionnaire as a form; posted back unchanged it saves the same
// definition; a question gets an option added and filled, shown in the
// preview in the chosen language without saving; an option removed and a
// text changed are saved; a missing translation is refused with the
// problem named, the edit kept in the form, nothing saved.
func TestQuestionnaireFormRoundTripsAndPreviews(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, console.Config{DisableBackoff: true})
	sup, _ := f.enrolled("svitlana", lifeline.RoleSupervisor)
	f.clock.Add(30 * time.Second)
	_, ck := f.login("svitlana", password, code(t, sup, f.clock.Now()))

	page := bodyOf(t, f.do("GET", "/questionnaire", nil, ck))
	form := browserForm(t, page)
	if form.Get("q.steps.1.text.ru") != "Кто вы?" || form.Get("q.steps.1.options.1.next") != "relatives_end" || form.Get("q.steps.2.required") != "on" {
		t.Fatalf("the form does not carry the stream question, its branch and the name's required mark: %v", form)
	}
	if !strings.Contains(page, `id="questionnaire-preview"`) || !strings.Contains(page, "Кто вы?\n1. Военнослужащий") {
		t.Errorf("the page previews no question as the contact reads it")
	}

	// Unchanged, the form saves the same questionnaire.
	form.Set("action", "save")
	resp := f.do("POST", "/questionnaire", form, ck)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the unchanged form: %d\n%s", resp.StatusCode, bodyOf(t, resp))
	}
	v1, err := f.db.Questionnaire(ctx)
	if err != nil || !sameDefinition(t, v1.Definition, questionnaire.DefaultJSON) {
		t.Fatalf("the unchanged form saved another questionnaire: %v\n%s", err, v1.Definition)
	}

	// Add an option to the stream question: the form comes back with an
	// empty third row, nothing saved.
	form = browserForm(t, bodyOf(t, f.do("GET", "/questionnaire", nil, ck)))
	form.Set("action", "add:steps.1.options")
	resp = f.do("POST", "/questionnaire", form, ck)
	page = bodyOf(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="q.steps.1.options.2.value" value=""`) {
		t.Fatalf("add option: %d, want the form with a third, empty option\n%s", resp.StatusCode, page)
	}
	form = browserForm(t, page)
	form.Set("q.steps.1.options.2.value", "relatives")
	form.Set("q.steps.1.options.2.label.ru", "Другое")
	form.Set("q.steps.1.options.2.label.uk", "Інше")
	form.Set("q.steps.1.options.2.label.en", "Someone else")
	form.Set("q.steps.1.options.2.next", "relatives_end")
	form.Set("preview_lang", "uk")
	form.Set("action", "preview")
	resp = f.do("POST", "/questionnaire", form, ck)
	page = bodyOf(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Хто ви?\n1. Військовослужбовець") || !strings.Contains(page, "3. Інше") {
		t.Fatalf("preview in Ukrainian: %d, want the stream question with the new option\n%s", resp.StatusCode, page)
	}
	if v, _ := f.db.Questionnaire(ctx); v.Version != 1 {
		t.Errorf("adding and previewing saved version %d, want nothing saved", v.Version)
	}

	// Save with the new option, the relatives' option removed and the
	// question reworded.
	form = browserForm(t, page)
	form.Set("q.steps.1.options.1.remove", "on")
	form.Set("q.steps.1.text.ru", "Кто вы? Ответьте цифрой.")
	form.Set("action", "save")
	if resp := f.do("POST", "/questionnaire", form, ck); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", resp.StatusCode, bodyOf(t, resp))
	}
	v2, err := f.db.Questionnaire(ctx)
	if err != nil || v2.Version != 2 {
		t.Fatalf("saved %v %v, want version 2", v2, err)
	}
	d, err := questionnaire.Parse(v2.Definition)
	if err != nil {
		t.Fatal(err)
	}
	stream := d.Steps[1]
	if stream.Text["ru"] != "Кто вы? Ответьте цифрой." || len(stream.Options) != 2 || stream.Options[1].Value != "relatives" || stream.Options[1].Label["en"] != "Someone else" {
		t.Errorf("saved stream question %+v", stream)
	}

	// A translation left out: refused, named, the edit still in the form.
	form = browserForm(t, bodyOf(t, f.do("GET", "/questionnaire", nil, ck)))
	form.Set("q.steps.2.text.uk", "")
	form.Set("q.steps.2.text.ru", "Фамилия, имя, отчество?")
	form.Set("action", "save")
	resp = f.do("POST", "/questionnaire", form, ck)
	page = bodyOf(t, resp)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `id="questionnaire-problems"`) || !strings.Contains(page, "uk") ||
		browserForm(t, page).Get("q.steps.2.text.ru") != "Фамилия, имя, отчество?" {
		t.Fatalf("missing translation: %d, want 400 with the problem and the edit kept\n%s", resp.StatusCode, page)
	}
	if v, _ := f.db.Questionnaire(ctx); v.Version != 2 {
		t.Errorf("a refused form saved version %d", v.Version)
	}
	// A malformed field is a clear refusal, not a panic.
	bad := url.Values{"editor": {"form"}, "action": {"save"}, "q.steps.x.1": {"a"}, "q.steps.1": {"b"}}
	if resp := f.do("POST", "/questionnaire", bad, ck); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed form fields: %d, want 400", resp.StatusCode)
	}
}
