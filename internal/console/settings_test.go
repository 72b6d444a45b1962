// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// TestShiftsInOperatorsZone: a supervisor in Kyiv enters a shift at
// 22:00 local time: it is stored as 20:00 UTC (winter) and shown back as
// "22:00 (Київ)"; after he chooses UTC on his settings page the same shift
// shows as 20:00 (UTC); an unknown zone is refused with a page.
func TestShiftsInOperatorsZone(t *testing.T) {
	w := newPolicyWorld(t)
	ctx := context.Background()
	io := w.ops["io"]
	if err := w.f.db.SetRoutingProfile(ctx, lifeline.CLIActor, io.ID, lifeline.RoutingProfile{Languages: []lifeline.Language{lifeline.LanguageRussian}, Streams: []lifeline.Stream{lifeline.StreamSurrender}, Capacity: 3}); err != nil {
		t.Fatal(err)
	}
	kyiv, _ := time.LoadLocation("Europe/Kyiv")
	day := w.f.clock.Now().In(kyiv).AddDate(0, 0, 2)
	typed := day.Format("2006-01-02") + "T22:00"
	want := time.Date(day.Year(), day.Month(), day.Day(), 22, 0, 0, 0, kyiv).UTC()
	resp, body := w.request("POST", "/shifts", url.Values{"operator": {string(io.ID)}, "stream": {"surrender"}, "start": {typed}, "hours": {"8"}}, "sv", "", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add shift: %d\n%s", resp.StatusCode, body)
	}
	shifts, err := w.f.db.Shifts(ctx, sqlstore.ShiftFilter{Operator: io.ID})
	if err != nil || len(shifts) != 1 {
		t.Fatalf("shifts %v %v", shifts, err)
	}
	if !shifts[0].Start.Equal(want) || shifts[0].End.Sub(shifts[0].Start) != 8*time.Hour {
		t.Errorf("stored %v–%v, want %v UTC for 8 hours", shifts[0].Start, shifts[0].End, want)
	}
	_, page := w.request("GET", "/shifts", nil, "sv", "", nil)
	if !strings.Contains(page, day.Format("2006-01-02")+" 22:00 (Київ)") {
		t.Errorf("the shift is not shown at 22:00 (Київ):\n%s", page)
	}
	if resp, _ := w.request("POST", "/settings/zone", url.Values{"zone": {"UTC"}}, "sv", "", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set zone: %d", resp.StatusCode)
	}
	_, page = w.request("GET", "/shifts", nil, "sv", "", nil)
	if !strings.Contains(page, want.Format("2006-01-02 15:04")+" (UTC)") {
		t.Errorf("after choosing UTC the shift is not shown at %s (UTC)", want.Format("15:04"))
	}
	if _, page := w.request("GET", "/settings", nil, "sv", "", nil); !strings.Contains(page, `<option value="UTC" selected>`) {
		t.Errorf("the settings page does not show the zone chosen")
	}
	if resp, page := w.request("POST", "/settings/zone", url.Values{"zone": {"Mars/Olympus"}}, "sv", "", nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Невідомий часовий пояс.") {
		t.Errorf("an unknown zone: %d", resp.StatusCode)
	}
}
