// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

// editedInbound stores a contact's message under a provider reference, as
// intake does, and then his edit of it.
func (f *fixture) editedInbound(sender, original, edited string) lifeline.ConversationID {
	f.t.Helper()
	ctx := context.Background()
	ref := f.keeper.IntakeRef("telegram", "bot", "inbound", sender, sender+":101")
	var conv lifeline.ConversationID
	err := f.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		c := &lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(sender)}
		if err := in.CreateContact(c); err != nil {
			return err
		}
		var err error
		if conv, _, err = in.OpenConversation(c.ID, lifeline.ChannelTelegram, "bot", "", lifeline.Sensitive(sender)); err != nil {
			return err
		}
		m := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: c.ID, Direction: lifeline.Inbound, Body: lifeline.Sensitive(original)}
		return in.AddMessage(m, conv, "text", ref, "")
	})
	if err != nil {
		f.t.Fatal(err)
	}
	err = f.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		m, ok, err := in.FindInbound(ref)
		if err != nil || !ok {
			f.t.Fatalf("stored message not found by its reference: %v", err)
		}
		return in.AddEdit(m, lifeline.Sensitive(edited), time.Time{})
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return conv
}

// TestEditedMessageShownToThoseWhoMayRead: the conversation page and the
// JSON API show an edited message's current text, marked edited (in the
// operator's language), with its earlier text on demand; an operator who
// may not read the conversation gets neither text, exactly as for a
// conversation that does not exist.
func TestEditedMessageShownToThoseWhoMayRead(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, console.Config{DisableBackoff: true})
	sBoris, _ := f.enrolled("boris", lifeline.RoleIntake)
	sAnna, _ := f.enrolled("anna", lifeline.RoleIntake)
	const before, after = "Нас двое, мы у моста.", "Нас трое, мы у моста."
	conv := f.editedInbound("100000301", before, after)
	boris, err := f.db.OperatorByUsername(ctx, "boris")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.Assign(ctx, lifeline.CLIActor, conv, boris.ID); err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer(nil, web.Config{Routes: f.con.WebRoutes(), API: &web.API{Store: f.db}}, nil, nil)
	get := func(path, cookie, bearer string) (int, string) {
		req := httptest.NewRequest("GET", "https://console.example"+path, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: console.CookieName, Value: cookie})
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	token := func(user string) string {
		plain, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := auth.TokenID(plain)
		if err := f.db.CreateToken(ctx, lifeline.CLIActor, user, id, hash); err != nil {
			t.Fatal(err)
		}
		return plain
	}

	f.clock.Add(30 * time.Second)
	_, ckBoris := f.login("boris", password, code(t, sBoris, f.clock.Now()))
	_, ckAnna := f.login("anna", password, code(t, sAnna, f.clock.Now()))

	for _, path := range []string{"/c/" + string(conv), "/c/" + string(conv) + "/history"} {
		status, page := get(path, ckBoris, "")
		if status != http.StatusOK {
			t.Fatalf("GET %s as the assignee: %d", path, status)
		}
		i := strings.Index(page, after)
		d := strings.Index(page, `<details class="earlier">`)
		if i < 0 || d < i || !strings.Contains(page[d:], before) || !strings.Contains(page, `class="chip edited"`) || !strings.Contains(page, "змінено") {
			t.Errorf("GET %s: want the current text, the edited mark and the earlier text in a <details> after it:\n%s", path, page)
		}
	}
	status, body := get("/api/v1/conversations/"+string(conv)+"/messages", "", token("boris"))
	var out struct {
		Messages []struct {
			Text      string   `json:"text"`
			Edited    bool     `json:"edited"`
			EditedDay string   `json:"edited_day"`
			Earlier   []string `json:"earlier"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(body), &out); status != http.StatusOK || err != nil || len(out.Messages) != 1 {
		t.Fatalf("API as the assignee: %d, %v\n%s", status, err, body)
	}
	if m := out.Messages[0]; m.Text != after || !m.Edited || m.EditedDay != lifeline.DayOf(f.clock.Now()).String() || !slices.Equal(m.Earlier, []string{before}) {
		t.Errorf("API message %+v, want the current text, edited today, the earlier text", m)
	}

	// Another intake operator: not his conversation.
	annaToken := token("anna")
	for _, v := range []struct {
		name         string
		path, ck, tk string
	}{
		{"page", "/c/" + string(conv), ckAnna, ""},
		{"history", "/c/" + string(conv) + "/history", ckAnna, ""},
		{"API", "/api/v1/conversations/" + string(conv) + "/messages", "", annaToken},
	} {
		status, body := get(v.path, v.ck, v.tk)
		if status != http.StatusNotFound || strings.Contains(body, before) || strings.Contains(body, after) {
			t.Errorf("%s as another operator: %d, shows a text %v; want 404 and neither text", v.name, status, strings.Contains(body, before) || strings.Contains(body, after))
		}
	}
}
