// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

func TestDayOf(t *testing.T) {
	// 01:30 in Kyiv (UTC+3 in summer) is still the previous day in UTC.
	kyiv := time.FixedZone("EEST", 3*60*60)
	d := lifeline.DayOf(time.Date(2024, 7, 1, 1, 30, 0, 0, kyiv))
	if y, m, dd := d.Date(); y != 2024 || m != time.June || dd != 30 {
		t.Errorf("DayOf = %v, want 2024-06-30", d)
	}
	if got := d.String(); got != "2024-06-30" {
		t.Errorf("String() = %q", got)
	}
	if got := d.Time(); !got.Equal(time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)) || got.Location() != time.UTC {
		t.Errorf("Time() = %v", got)
	}
	if lifeline.DayOf(time.Date(2024, 6, 30, 23, 59, 59, 999, time.UTC)) != d {
		t.Error("two instants of one UTC day give different Days")
	}
}

func TestNewDayAndParseDay(t *testing.T) {
	for _, s := range []string{"2024-02-29", "2025-12-31", "0001-01-01", "9999-12-31"} {
		d, err := lifeline.ParseDay(s)
		if err != nil || d.String() != s {
			t.Errorf("ParseDay(%q) = %v, %v", s, d, err)
		}
		if n, err := lifeline.NewDay(d.Date()); err != nil || n != d {
			t.Errorf("NewDay(%q parts) = %v, %v", s, n, err)
		}
	}
	for _, s := range []string{"", "2025-02-29", "2025-04-31", "2025-13-01", "2025-1-1", "2025-01-01T00:00:00Z", "0000-01-01", "01/02/2025", " 2025-01-01"} {
		if _, err := lifeline.ParseDay(s); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("ParseDay(%q) error %v, want code %q", s, err, lifeline.EINVALID)
		}
	}
	if _, err := lifeline.NewDay(2025, time.February, 29); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Errorf("NewDay(2025-02-29) error %v, want code %q", err, lifeline.EINVALID)
	}
	if _, err := lifeline.NewDay(10000, time.January, 1); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Errorf("NewDay(10000-01-01) error %v, want code %q", err, lifeline.EINVALID)
	}
}

func TestDayArithmetic(t *testing.T) {
	d, _ := lifeline.ParseDay("2024-12-31")
	next := d.AddDays(1)
	if next.String() != "2025-01-01" {
		t.Errorf("AddDays(1) = %v", next)
	}
	if got := d.AddDays(-366).String(); got != "2023-12-31" {
		t.Errorf("AddDays(-366) = %v", got)
	}
	if !d.Before(next) || d.After(next) || !next.After(d) || d.Compare(d) != 0 || d.Compare(next) != -1 || next.Compare(d) != 1 {
		t.Error("Before/After/Compare disagree")
	}
	var zero lifeline.Day
	if !zero.IsZero() || d.IsZero() || zero.String() != "" {
		t.Errorf("zero Day: IsZero %v, String %q", zero.IsZero(), zero.String())
	}
}

func TestDayText(t *testing.T) {
	type row struct {
		Created lifeline.Day `json:"created"`
		Closed  lifeline.Day `json:"closed"`
	}
	d, _ := lifeline.ParseDay("2025-03-14")
	b, err := json.Marshal(row{Created: d})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"created":"2025-03-14","closed":""}`; got != want {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}
	var back row
	if err := json.Unmarshal(b, &back); err != nil || back.Created != d || !back.Closed.IsZero() {
		t.Errorf("json.Unmarshal = %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"created":"2025-02-30"}`), &back); err == nil {
		t.Error("json.Unmarshal accepted 2025-02-30")
	}
}
