// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"testing"

	"github.com/lifeline-hotline/lifeline"
)

// TestDefaultRewardSchedule checks the figures of the law as DESIGN.md
// gives them.
func TestDefaultRewardSchedule(t *testing.T) {
	want := []struct {
		code     string
		name     string
		min, max int64
	}{
		{"combat_aircraft", "Combat aircraft", 0, 1_000_000},
		{"ship_rank_1_2", "Ship of 1st–2nd rank", 0, 1_000_000},
		{"combat_helicopter", "Combat helicopter", 0, 500_000},
		{"ship_rank_3_4", "Ship of 3rd–4th rank", 0, 500_000},
		{"auxiliary_ship", "Auxiliary ship", 0, 200_000},
		{"tank_spg", "Tank or self-propelled gun", 0, 100_000},
		{"armoured_vehicle", "Infantry fighting vehicle, armoured personnel carrier or armoured reconnaissance vehicle", 0, 50_000},
		{"small_combat_boat", "Small combat boat", 0, 50_000},
		{"multiple_rocket_launcher", "Multiple rocket launcher", 25_000, 35_000},
		{"military_vehicle", "Military vehicle", 0, 10_000},
	}
	got := lifeline.DefaultRewardSchedule()
	if len(got) != len(want) {
		t.Fatalf("%d categories, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Code != w.code || g.Name != w.name || g.MinUSD != w.min || g.MaxUSD != w.max {
			t.Errorf("category %d = {%s %q %d–%d}, want {%s %q %d–%d}", i, g.Code, g.Name, g.MinUSD, g.MaxUSD, w.code, w.name, w.min, w.max)
		}
		if g.NameUK == "" || g.NameRU == "" || g.NameUK == g.NameRU {
			t.Errorf("%s: Ukrainian %q, Russian %q", g.Code, g.NameUK, g.NameRU)
		}
		if err := g.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v", g.Code, err)
		}
	}
	if err := lifeline.ValidateRewardSchedule(got); err != nil {
		t.Errorf("ValidateRewardSchedule(default) = %v", err)
	}
}

func TestDefaultRewardScheduleIsACopy(t *testing.T) {
	s := lifeline.DefaultRewardSchedule()
	s[0].MaxUSD = 1
	if got := lifeline.DefaultRewardSchedule()[0].MaxUSD; got != 1_000_000 {
		t.Fatalf("changing a copy changed the default schedule: MaxUSD = %d", got)
	}
}

func TestRewardCheckAmount(t *testing.T) {
	var tank, mlrs lifeline.RewardCategory
	for _, c := range lifeline.DefaultRewardSchedule() {
		switch c.Code {
		case "tank_spg":
			tank = c
		case "multiple_rocket_launcher":
			mlrs = c
		}
	}
	for _, tt := range []struct {
		c    lifeline.RewardCategory
		usd  int64
		want string
	}{
		{tank, 0, ""},
		{tank, 60_000, ""},
		{tank, 100_000, ""},
		{tank, 100_001, lifeline.EINVALID},
		{tank, -1, lifeline.EINVALID},
		{mlrs, 24_999, lifeline.EINVALID},
		{mlrs, 25_000, ""},
		{mlrs, 35_000, ""},
		{mlrs, 35_001, lifeline.EINVALID},
	} {
		if got := lifeline.ErrorCode(tt.c.CheckAmount(tt.usd)); got != tt.want {
			t.Errorf("%s.CheckAmount(%d) code %q, want %q", tt.c.Code, tt.usd, got, tt.want)
		}
	}
}

func TestRewardValidate(t *testing.T) {
	ok := lifeline.RewardCategory{Code: "drone_1", Name: "Drone", NameUK: "Дрон", NameRU: "Дрон", MaxUSD: 5_000}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	for name, mutate := range map[string]func(*lifeline.RewardCategory){
		"empty code":     func(c *lifeline.RewardCategory) { c.Code = "" },
		"upper code":     func(c *lifeline.RewardCategory) { c.Code = "Drone" },
		"spaced code":    func(c *lifeline.RewardCategory) { c.Code = "small drone" },
		"blank name":     func(c *lifeline.RewardCategory) { c.Name = " " },
		"no UK name":     func(c *lifeline.RewardCategory) { c.NameUK = "" },
		"no RU name":     func(c *lifeline.RewardCategory) { c.NameRU = "" },
		"zero max":       func(c *lifeline.RewardCategory) { c.MaxUSD = 0 },
		"negative min":   func(c *lifeline.RewardCategory) { c.MinUSD = -1 },
		"min above max":  func(c *lifeline.RewardCategory) { c.MinUSD = 6_000 },
		"negative max":   func(c *lifeline.RewardCategory) { c.MaxUSD = -5 },
		"very long code": func(c *lifeline.RewardCategory) { c.Code = string(make([]byte, 65)) },
	} {
		c := ok
		mutate(&c)
		if err := c.Validate(); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("%s: Validate() = %v, want code %q", name, err, lifeline.EINVALID)
		}
	}
	if err := lifeline.ValidateRewardSchedule(nil); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Errorf("ValidateRewardSchedule(nil) = %v", err)
	}
	if err := lifeline.ValidateRewardSchedule([]lifeline.RewardCategory{ok, ok}); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Errorf("ValidateRewardSchedule(duplicate) = %v", err)
	}
	bad := ok
	bad.MaxUSD = 0
	if err := lifeline.ValidateRewardSchedule([]lifeline.RewardCategory{ok, bad}); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Errorf("ValidateRewardSchedule(bad line) = %v", err)
	}
}
