// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// deferredPhoto stores a contact's photo message whose file is over his
// daily media budget, as intake does: deferred, queued for later.
func (f *fixture) deferredPhoto(sender string) (lifeline.ConversationID, lifeline.ID) {
	f.t.Helper()
	var conv lifeline.ConversationID
	var file lifeline.ID
	err := f.db.Ingest(context.Background(), func(in *sqlstore.Ingest) error {
		c := &lifeline.Contact{ID: lifeline.NewContactID(), Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(sender)}
		if err := in.CreateContact(c); err != nil {
			return err
		}
		var err error
		if conv, _, err = in.OpenConversation(c.ID, lifeline.ChannelTelegram, "bot", "", lifeline.Sensitive(sender)); err != nil {
			return err
		}
		m := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: c.ID, Direction: lifeline.Inbound, Body: "документ стр. 21"}
		if err := in.AddMessage(m, conv, "photo", nil, ""); err != nil {
			return err
		}
		file, err = in.AddMedia(m.ID, c.ID, "photo", "AgACAgIAAxkBAAI-file-21", "image/jpeg", 5000, sqlstore.SkippedMediaBudget)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return conv, file
}

// TestFetchNowOnDeferredMediaForThoseWhoMayRead: the conversation shows a
// photo over the sender's media budget as to be fetched later, with a
// "fetch now" button; an operator who may read the conversation has it
// queued at once (audited, the media worker poked); one who may not read
// it gets a 404, as for a file that does not exist, and changes nothing.
func TestFetchNowOnDeferredMediaForThoseWhoMayRead(t *testing.T) {
	ctx := context.Background()
	poked := 0
	f := newFixture(t, console.Config{DisableBackoff: true, MediaPoke: func() { poked++ }})
	conv, file := f.deferredPhoto("100000401")
	boris := f.signedIn("boris", "en")
	anna := f.signedIn("anna", "uk")
	b, err := f.db.OperatorByUsername(ctx, "boris")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.Assign(ctx, lifeline.CLIActor, conv, b.ID); err != nil {
		t.Fatal(err)
	}

	page := bodyOf(t, f.do("GET", "/c/"+string(conv), nil, boris))
	if !strings.Contains(page, "To be fetched later: over the sender&#39;s daily media budget") || !strings.Contains(page, `action="/media/`+string(file)+`/fetch"`) {
		t.Fatalf("the deferred photo is not shown with its fetch-now button:\n%s", page)
	}

	// Anna is an intake operator; the conversation is Boris's now.
	if resp := f.do("POST", "/media/"+string(file)+"/fetch", url.Values{}, anna); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("fetch now by an operator who may not read: %d, want 404", resp.StatusCode)
	}
	if m, err := f.db.Media(ctx, file); err != nil || m.State != sqlstore.MediaDeferred {
		t.Fatalf("after a refused fetch now: %+v, %v; want it still deferred", m, err)
	}
	if resp := f.do("POST", "/media/not-an-id/fetch", url.Values{}, boris); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("fetch now of no file: %d, want 404", resp.StatusCode)
	}

	resp := f.do("POST", "/media/"+string(file)+"/fetch", url.Values{}, boris)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/c/"+string(conv) {
		t.Fatalf("fetch now: %d → %q, want 303 to the conversation", resp.StatusCode, resp.Header.Get("Location"))
	}
	if m, err := f.db.Media(ctx, file); err != nil || m.State != sqlstore.MediaPending {
		t.Fatalf("after fetch now: %+v, %v; want it pending (fetched next)", m, err)
	}
	if poked != 1 {
		t.Errorf("the media worker was poked %d times, want 1", poked)
	}
	if !slices.Contains(f.auditActions("allow"), "media.fetch:") {
		t.Errorf("fetch now is not audited: %q", f.auditActions("allow"))
	}
	if !slices.Contains(f.auditActions("deny"), "console.denied:"+string(lifeline.ActionReadConversation)) {
		t.Errorf("the refused fetch now is not audited as a denial: %q", f.auditActions("deny"))
	}
	// Pending, it is not offered again; asked again, it is a conflict.
	if page := bodyOf(t, f.do("GET", "/c/"+string(conv), nil, boris)); strings.Contains(page, `/media/`+string(file)+`/fetch"`) {
		t.Error("a file being fetched is offered for fetch now")
	}
	if resp := f.do("POST", "/media/"+string(file)+"/fetch", url.Values{}, boris); resp.StatusCode != http.StatusConflict {
		t.Errorf("fetch now again: %d, want 409", resp.StatusCode)
	}
}
