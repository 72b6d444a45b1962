// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"slices"
	"strings"
)

// RewardCategory is one line of the reward schedule: a kind of equipment a
// soldier may bring over and what it may earn him. Amounts are whole US
// dollars.
//
// The schedule's amounts are bounds, not prices: the assessed amount of a
// claim depends on the equipment's condition and is decided by two
// approvals from different people (DESIGN.md). MaxUSD is the "up to"
// figure. MinUSD is 0 except where the law gives a range (multiple rocket
// launcher, $25,000–35,000).
type RewardCategory struct {
	Code   string // stable key, lower case with underscores; stored on claims
	Name   string // English
	NameUK string // Ukrainian
	NameRU string // Russian: the language most claimants read
	MinUSD int64  // lowest assessed amount; 0 for "up to" lines
	MaxUSD int64  // highest assessed amount
}

// Validate reports with EINVALID whether c is not a usable schedule line:
// its code is not 1–64 characters of a–z, 0–9 and '_', a name is blank, or
// the amounts are not 0 ≤ MinUSD ≤ MaxUSD with MaxUSD > 0.
func (c RewardCategory) Validate() error {
	switch {
	case !validRewardCode(c.Code):
		return Errorf(EINVALID, "Invalid reward category code.")
	case strings.TrimSpace(c.Name) == "" || strings.TrimSpace(c.NameUK) == "" || strings.TrimSpace(c.NameRU) == "":
		return Errorf(EINVALID, "A reward category needs a name in English, Ukrainian and Russian.")
	case c.MinUSD < 0 || c.MaxUSD <= 0 || c.MinUSD > c.MaxUSD:
		return Errorf(EINVALID, "Invalid reward amounts.")
	}
	return nil
}

// CheckAmount reports with EINVALID whether usd lies outside the category's
// range [MinUSD, MaxUSD]. An assessment outside the schedule needs the
// schedule changed (by an admin, audited), not an exception on one claim.
func (c RewardCategory) CheckAmount(usd int64) error {
	if usd < c.MinUSD || usd > c.MaxUSD {
		return Errorf(EINVALID, "The amount is outside the schedule for this category.")
	}
	return nil
}

func validRewardCode(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// ValidateRewardSchedule reports with EINVALID whether a schedule is
// unusable: empty, a line that fails [RewardCategory.Validate], or two lines
// with one code.
func ValidateRewardSchedule(schedule []RewardCategory) error {
	if len(schedule) == 0 {
		return Errorf(EINVALID, "The reward schedule is empty.")
	}
	seen := make(map[string]bool, len(schedule))
	for _, c := range schedule {
		if err := c.Validate(); err != nil {
			return err
		}
		if seen[c.Code] {
			return Errorf(EINVALID, "Two reward categories share a code.")
		}
		seen[c.Code] = true
	}
	return nil
}

// defaultRewardSchedule is the schedule of DESIGN.md, in its order.
var defaultRewardSchedule = []RewardCategory{
	{"combat_aircraft", "Combat aircraft",
		"Бойовий літак", "Боевой самолёт", 0, 1_000_000},
	{"ship_rank_1_2", "Ship of 1st–2nd rank",
		"Корабель 1–2 рангу", "Корабль 1–2 ранга", 0, 1_000_000},
	{"combat_helicopter", "Combat helicopter",
		"Бойовий гелікоптер", "Боевой вертолёт", 0, 500_000},
	{"ship_rank_3_4", "Ship of 3rd–4th rank",
		"Корабель 3–4 рангу", "Корабль 3–4 ранга", 0, 500_000},
	{"auxiliary_ship", "Auxiliary ship",
		"Допоміжне судно", "Вспомогательное судно", 0, 200_000},
	{"tank_spg", "Tank or self-propelled gun",
		"Танк або самохідна артилерійська установка", "Танк или самоходная артиллерийская установка", 0, 100_000},
	{"armoured_vehicle", "Infantry fighting vehicle, armoured personnel carrier or armoured reconnaissance vehicle",
		"Бойова машина піхоти, бронетранспортер або бойова розвідувально-дозорна машина",
		"Боевая машина пехоты, бронетранспортёр или боевая разведывательно-дозорная машина", 0, 50_000},
	{"small_combat_boat", "Small combat boat",
		"Малий бойовий катер", "Малый боевой катер", 0, 50_000},
	{"multiple_rocket_launcher", "Multiple rocket launcher",
		"Реактивна система залпового вогню", "Реактивная система залпового огня", 25_000, 35_000},
	{"military_vehicle", "Military vehicle",
		"Військовий автомобіль", "Военный автомобиль", 0, 10_000},
}

// DefaultRewardSchedule returns the schedule of the law as seed data, a
// fresh copy each call. The running schedule is the store's, edited by an
// admin with every change audited.
func DefaultRewardSchedule() []RewardCategory { return slices.Clone(defaultRewardSchedule) }
