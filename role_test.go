// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lifeline-hotline/lifeline"
)

// The roles by the abbreviations of SECURITY.md §2.5, written out here.
var roleByAbbrev = map[string]lifeline.Role{
	"IO": "intake", "CO": "case-officer", "VO": "verification", "FO": "finance",
	"SV": "supervisor", "AU": "auditor", "AD": "admin",
}

func TestRoles(t *testing.T) {
	want := []lifeline.Role{"intake", "case-officer", "verification", "finance", "supervisor", "auditor", "admin"}
	if diff := cmp.Diff(want, lifeline.AllRoles()); diff != "" {
		t.Errorf("AllRoles() mismatch (-want +got):\n%s", diff)
	}
	for _, r := range want {
		got, err := lifeline.ParseRole(string(r))
		if err != nil || got != r || !got.Valid() || got.String() != string(r) {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "Intake", "IO", "CO", "case_officer", "caseofficer", "case officer", "root", "admin ", "system"} {
		if _, err := lifeline.ParseRole(s); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("ParseRole(%q) error %v, want code %q", s, err, lifeline.EINVALID)
		}
		if lifeline.Role(s).Valid() {
			t.Errorf("Role(%q).Valid() = true", s)
		}
	}
}

// wantCompartment lists every action and the data it reaches, written out
// here so that an action added without a test, or filed under the wrong
// compartment, fails.
var wantCompartment = map[lifeline.Action]lifeline.Compartment{
	"queue.read":                "routing",
	"conversation.read":         "conversation",
	"conversation.reply":        "conversation",
	"identity.write":            "identity",
	"identity.read":             "identity",
	"contact.read":              "routing",
	"intel.read":                "intel",
	"intel.write":               "intel",
	"meeting.approve":           "intel",
	"claim.create":              "finance",
	"finance.read":              "finance",
	"finance.write":             "finance",
	"payout.approve":            "finance",
	"payout.execute":            "finance",
	"payout.destination_change": "finance",
	"contact.search":            "routing",
	"case.assign":               "routing",
	"case.close":                "routing",
	"case.legal_hold":           "routing",
	"case.shred":                "case",
	"case.export":               "case",
	"audit.read":                "audit",
	"audit.verify":              "audit",
	"user.create":               "system",
	"user.role_assign":          "system",
	"keys.grant":                "system",
	"factor.reset":              "system",
	"keys.unseal":               "system",
	"keys.rotate":               "system",
	"keys.rekey":                "system",
	"config.write":              "system",
	"floor.manage":              "system",
	"case.break_glass":          "case",
}

func TestEveryActionHasARow(t *testing.T) {
	got := map[lifeline.Action]lifeline.Compartment{}
	for _, a := range lifeline.Actions() {
		if _, dup := got[a]; dup {
			t.Errorf("action %q has two rows", a)
		}
		got[a] = a.Compartment()
		if !a.Valid() {
			t.Errorf("%q.Valid() = false", a)
		}
	}
	if diff := cmp.Diff(wantCompartment, got); diff != "" {
		t.Errorf("actions and compartments mismatch (-want +got):\n%s", diff)
	}
	// The exported constants are the action names above.
	for _, a := range []lifeline.Action{
		lifeline.ActionSeeNewContacts, lifeline.ActionReadConversation, lifeline.ActionReplyConversation,
		lifeline.ActionWriteIdentity, lifeline.ActionReadIdentity, lifeline.ActionReadContactHandle,
		lifeline.ActionIntelRead, lifeline.ActionIntelWrite, lifeline.ActionMeetingApprove,
		lifeline.ActionClaimCreate, lifeline.ActionFinanceRead, lifeline.ActionFinanceWrite,
		lifeline.ActionPayoutApprove, lifeline.ActionPayoutExecute, lifeline.ActionPayoutDestinationChange,
		lifeline.ActionSearchContact, lifeline.ActionCaseAssign, lifeline.ActionCaseClose,
		lifeline.ActionCaseLegalHold, lifeline.ActionCaseShred, lifeline.ActionExport,
		lifeline.ActionAuditRead, lifeline.ActionAuditVerify, lifeline.ActionUserCreate,
		lifeline.ActionRoleAssign, lifeline.ActionKeysGrant, lifeline.ActionResetFactor,
		lifeline.ActionUnseal, lifeline.ActionKeysRotate, lifeline.ActionKeysRekey,
		lifeline.ActionConfig, lifeline.ActionFloorManage, lifeline.ActionBreakGlass,
	} {
		if _, ok := wantCompartment[a]; !ok {
			t.Errorf("constant %q is not in the table", a)
		}
	}
	if lifeline.Action("case.delete").Valid() || lifeline.Action("").Compartment() != "" {
		t.Error("an unknown action is valid or has a compartment")
	}
}

func TestEveryRowNamesEveryRole(t *testing.T) {
	for _, p := range lifeline.Permissions() {
		if len(p.Grants) != len(roleByAbbrev) {
			t.Errorf("%s: row names %d roles, want %d", p.Action, len(p.Grants), len(roleByAbbrev))
		}
		for _, r := range roleByAbbrev {
			g, ok := p.Grants[r]
			if !ok {
				t.Errorf("%s: role %s left implicit", p.Action, r)
			}
			if g != lifeline.GrantNone && !g.Permitted() {
				t.Errorf("%s: role %s has invalid grant %v", p.Action, r, g)
			}
			if got := lifeline.Allowed(r, p.Action); got != g {
				t.Errorf("Allowed(%s, %s) = %v, but the row says %v", r, p.Action, got, g)
			}
		}
		if p.Compartment != p.Action.Compartment() {
			t.Errorf("%s: row compartment %q, Action.Compartment() %q", p.Action, p.Compartment, p.Action.Compartment())
		}
	}
}

// wantCells is every permitted cell of SECURITY.md §2.5, transcribed from
// the table as "role action grant"; every cell not listed must be none.
var wantCells = `
IO queue.read all
CO queue.read team
SV queue.read all

IO conversation.read own-unassigned
CO conversation.read own
VO conversation.read own
SV conversation.read team
IO conversation.reply own-unassigned
CO conversation.reply own
SV conversation.reply break-glass

IO identity.write append-only
CO identity.write own
VO identity.write own

CO identity.read own-step-up
VO identity.read own-step-up
FO identity.read payout-name-only
SV identity.read break-glass
CO contact.read own-step-up
VO contact.read own-step-up
FO contact.read payout-name-only
SV contact.read break-glass

CO intel.read own-verdict
VO intel.read own
SV intel.read team
VO intel.write own
SV meeting.approve approve

CO claim.create own

CO finance.read own-status
FO finance.read own
SV finance.read all
AU finance.read aggregates
FO finance.write own

SV payout.approve two-person
FO payout.execute after-approval

VO payout.destination_change verify
FO payout.destination_change propose
SV payout.destination_change approve

IO contact.search pseudonym-only
CO contact.search own
VO contact.search own
SV contact.search all

SV case.assign all

CO case.close propose
VO case.close propose
SV case.close approve
CO case.legal_hold propose
VO case.legal_hold propose
SV case.legal_hold approve

SV case.shred two-person
SV case.export two-person

SV audit.read team
AU audit.read all
AD audit.read system-events
AU audit.verify all
AD audit.verify all

SV user.create approve
AD user.create propose
SV user.role_assign approve
AD user.role_assign propose

SV keys.grant all

SV factor.reset witness
AD factor.reset initiate

SV keys.unseal custodian
AD keys.unseal custodian
SV keys.rotate custodian
AD keys.rotate custodian
SV keys.rekey custodian
AD keys.rekey custodian

SV config.write approve
AD config.write two-person
SV floor.manage all

SV case.break_glass break-glass
`

func TestMatrixCells(t *testing.T) {
	want := map[[2]string]string{}
	for _, line := range strings.Split(wantCells, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		r, ok := roleByAbbrev[f[0]]
		if len(f) != 3 || !ok {
			t.Fatalf("bad line %q in wantCells", line)
		}
		want[[2]string{string(r), f[1]}] = f[2]
	}
	cells := 0
	for a := range wantCompartment {
		for _, r := range roleByAbbrev {
			cells++
			w, ok := want[[2]string{string(r), string(a)}]
			if !ok {
				w = "none"
			}
			if got := lifeline.Allowed(r, a).String(); got != w {
				t.Errorf("Allowed(%s, %s) = %s, want %s", r, a, got, w)
			}
		}
	}
	if cells != 33*7 { // the 32 rows of §2.5 and floor.manage
		t.Errorf("checked %d cells, want %d", cells, 33*7)
	}
}

// TestNoCaseContentForAdminOrAuditor checks SECURITY.md §2.5: "AD and AU
// hold no compartment keys at all". The auditor's one grant on case data is
// finance aggregates, which hold no row of a case.
func TestNoCaseContentForAdminOrAuditor(t *testing.T) {
	for a, c := range wantCompartment {
		if !lifeline.Compartment(c).HoldsCaseData() {
			continue
		}
		if g := lifeline.Allowed(lifeline.RoleAdmin, a); g != lifeline.GrantNone {
			t.Errorf("admin has %v on case action %s", g, a)
		}
		g := lifeline.Allowed(lifeline.RoleAuditor, a)
		if g != lifeline.GrantNone && !(a == lifeline.ActionFinanceRead && g == lifeline.GrantAggregates) {
			t.Errorf("auditor has %v on case action %s", g, a)
		}
	}
	for _, c := range []lifeline.Compartment{"routing", "conversation", "identity", "intel", "finance", "case"} {
		if !c.HoldsCaseData() {
			t.Errorf("%q.HoldsCaseData() = false", c)
		}
	}
	for _, c := range []lifeline.Compartment{"audit", "system", ""} {
		if c.HoldsCaseData() {
			t.Errorf("%q.HoldsCaseData() = true", c)
		}
	}
}

// TestMatrixProperties checks rules of SECURITY.md that follow from the
// table as a whole.
func TestMatrixProperties(t *testing.T) {
	for _, p := range lifeline.Permissions() {
		var proposers, approvers, initiators, witnesses int
		for r, g := range p.Grants {
			switch g {
			case lifeline.GrantPropose:
				proposers++
			case lifeline.GrantApprove:
				approvers++
			case lifeline.GrantInitiate:
				initiators++
			case lifeline.GrantWitness:
				witnesses++
			case lifeline.GrantBreakGlass:
				if r != lifeline.RoleSupervisor {
					t.Errorf("%s: break-glass for %s; only supervisors break glass", p.Action, r)
				}
			}
		}
		// Whatever may be proposed can be approved by someone.
		if proposers > 0 && approvers == 0 {
			t.Errorf("%s: proposals but no approver", p.Action)
		}
		if initiators > 0 && witnesses == 0 {
			t.Errorf("%s: initiated but never witnessed", p.Action)
		}
	}
	// Payouts: the executor never approves, the approver never executes.
	for _, r := range lifeline.AllRoles() {
		if lifeline.Allowed(r, lifeline.ActionPayoutApprove).Permitted() && lifeline.Allowed(r, lifeline.ActionPayoutExecute).Permitted() {
			t.Errorf("%s may both approve and execute payouts", r)
		}
	}
	// The intake operator never reads identity back.
	if g := lifeline.Allowed(lifeline.RoleIntake, lifeline.ActionReadIdentity); g.Permitted() {
		t.Errorf("intake reads identity: %v", g)
	}
	// Contact handles follow the Read C2 row.
	for _, r := range lifeline.AllRoles() {
		if a, b := lifeline.Allowed(r, lifeline.ActionReadIdentity), lifeline.Allowed(r, lifeline.ActionReadContactHandle); a != b {
			t.Errorf("%s: identity.read %v but contact.read %v", r, a, b)
		}
	}
}

func TestAllowedDeniesByDefault(t *testing.T) {
	for _, r := range []lifeline.Role{"", "root", "SV", "Supervisor", "supervisor "} {
		for _, a := range lifeline.Actions() {
			if g := lifeline.Allowed(r, a); g != lifeline.GrantNone {
				t.Errorf("Allowed(%q, %s) = %v, want none", r, a, g)
			}
		}
	}
	for _, a := range []lifeline.Action{"", "case.delete", "CASE.SHRED", "case.shred ", "*"} {
		for _, r := range lifeline.AllRoles() {
			if g := lifeline.Allowed(r, a); g != lifeline.GrantNone {
				t.Errorf("Allowed(%s, %q) = %v, want none", r, a, g)
			}
		}
	}
}

func TestPermissionsIsACopy(t *testing.T) {
	ps := lifeline.Permissions()
	for i := range ps {
		for r := range ps[i].Grants {
			ps[i].Grants[r] = lifeline.GrantAll
		}
		ps[i].Action = "changed"
	}
	if g := lifeline.Allowed(lifeline.RoleAdmin, lifeline.ActionReadIdentity); g != lifeline.GrantNone {
		t.Fatalf("changing Permissions() granted admin %v on identity.read", g)
	}
	if !lifeline.ActionReadIdentity.Valid() {
		t.Fatal("changing Permissions() removed an action")
	}
}

func TestGrant(t *testing.T) {
	if lifeline.GrantNone.Permitted() || lifeline.GrantNone.String() != "none" {
		t.Errorf("GrantNone: Permitted %v, String %q", lifeline.GrantNone.Permitted(), lifeline.GrantNone)
	}
	var zero lifeline.Grant
	if zero != lifeline.GrantNone {
		t.Error("the zero Grant is not GrantNone")
	}
	names := map[string]lifeline.Grant{}
	for g := lifeline.GrantNone; g <= lifeline.GrantBreakGlass; g++ {
		s := g.String()
		if s == "" || s == "invalid" {
			t.Errorf("Grant(%d) has no name", g)
		}
		if prev, dup := names[s]; dup {
			t.Errorf("Grant(%d) and Grant(%d) are both %q", prev, g, s)
		}
		names[s] = g
		if g != lifeline.GrantNone && !g.Permitted() {
			t.Errorf("%v.Permitted() = false", g)
		}
	}
	bad := lifeline.GrantBreakGlass + 1
	if bad.Permitted() || bad.String() != "invalid" {
		t.Errorf("Grant(%d): Permitted %v, String %q", bad, bad.Permitted(), bad)
	}
}

// TestReaches: the object-level rule, cell by cell for the grants it
// knows.
func TestReaches(t *testing.T) {
	me, other := lifeline.NewOperatorID(), lifeline.NewOperatorID()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	recent := now.Add(-time.Hour)
	for _, c := range []struct {
		role    lifeline.Role
		action  lifeline.Action
		owners  []lifeline.OperatorID
		handles bool
		want    bool
	}{
		{lifeline.RoleCaseOfficer, lifeline.ActionReadConversation, []lifeline.OperatorID{me}, false, true},
		{lifeline.RoleCaseOfficer, lifeline.ActionReadConversation, []lifeline.OperatorID{other}, false, false},
		{lifeline.RoleCaseOfficer, lifeline.ActionReadConversation, []lifeline.OperatorID{""}, true, false}, // own is not unassigned
		{lifeline.RoleIntake, lifeline.ActionReadConversation, []lifeline.OperatorID{""}, true, true},
		{lifeline.RoleIntake, lifeline.ActionReadConversation, []lifeline.OperatorID{other}, false, false},
		{lifeline.RoleIntake, lifeline.ActionReadConversation, []lifeline.OperatorID{me}, false, true},
		{lifeline.RoleSupervisor, lifeline.ActionReadConversation, []lifeline.OperatorID{""}, true, true},      // team: no team or owner yet
		{lifeline.RoleSupervisor, lifeline.ActionReadConversation, []lifeline.OperatorID{other}, false, false}, // team: owned, of no team of his
		{lifeline.RoleSupervisor, lifeline.ActionReplyConversation, []lifeline.OperatorID{other}, true, false}, // break-glass only
		{lifeline.RoleVerification, lifeline.ActionReadIdentity, []lifeline.OperatorID{other, me}, false, true},
		{lifeline.RoleIntake, lifeline.ActionWriteIdentity, []lifeline.OperatorID{other}, true, true}, // append-only, what he handles
		{lifeline.RoleIntake, lifeline.ActionWriteIdentity, []lifeline.OperatorID{me}, false, false},
		{lifeline.RoleFinance, lifeline.ActionReadConversation, []lifeline.OperatorID{me}, true, false},
		{lifeline.RoleAdmin, lifeline.ActionSearchContact, []lifeline.OperatorID{me}, true, false},
	} {
		who := lifeline.Reacher{Role: c.role, ID: me, At: now}
		if got := lifeline.Reaches(who, c.action, lifeline.Object{Owners: c.owners, Handles: c.handles, LastMessage: recent}); got != c.want {
			t.Errorf("Reaches(%s, %s, owners %v, handles %v) = %v, want %v", c.role, c.action, c.owners, c.handles, got, c.want)
		}
	}
	if lifeline.Reaches(lifeline.Reacher{Role: lifeline.RoleCaseOfficer, At: now}, lifeline.ActionReadConversation,
		lifeline.Object{Owners: []lifeline.OperatorID{""}, LastMessage: recent}) {
		t.Error("an invalid operator id reached an unassigned object")
	}
}

// TestIntakeReachEndsAtHandoff: the intake desk reaches its own and the
// unassigned conversations only until they are handed to a case officer.
func TestIntakeReachEndsAtHandoff(t *testing.T) {
	me := lifeline.NewOperatorID()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	io := lifeline.Reacher{Role: lifeline.RoleIntake, ID: me, At: now}
	for _, a := range []lifeline.Action{lifeline.ActionReadConversation, lifeline.ActionReplyConversation} {
		mine := lifeline.Object{Owners: []lifeline.OperatorID{me}, LastMessage: now.Add(-time.Hour)}
		waiting := lifeline.Object{Handles: true, LastMessage: now.Add(-time.Hour)}
		if !lifeline.Reaches(io, a, mine) || !lifeline.Reaches(io, a, waiting) {
			t.Fatalf("%s: intake does not reach its own or a waiting conversation before handoff", a)
		}
		mine.HandedOff, waiting.HandedOff = true, true
		if lifeline.Reaches(io, a, mine) || lifeline.Reaches(io, a, waiting) {
			t.Errorf("%s: intake still reaches a conversation handed to a case officer", a)
		}
	}
	// The case officer's own reach is not the intake desk's: handoff is
	// when it starts.
	co := lifeline.Reacher{Role: lifeline.RoleCaseOfficer, ID: me, At: now}
	if !lifeline.Reaches(co, lifeline.ActionReadConversation, lifeline.Object{Owners: []lifeline.OperatorID{me}, HandedOff: true}) {
		t.Error("the case officer lost his own conversation at handoff")
	}
}

// TestIntakeReachEndsAfter72Hours: the intake desk's reach to a
// conversation ends 72 hours after its contact's last message, and an
// unknown last message reaches nothing.
func TestIntakeReachEndsAfter72Hours(t *testing.T) {
	me := lifeline.NewOperatorID()
	last := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	o := lifeline.Object{Owners: []lifeline.OperatorID{me}, LastMessage: last}
	at := func(d time.Duration) lifeline.Reacher {
		return lifeline.Reacher{Role: lifeline.RoleIntake, ID: me, At: last.Add(d)}
	}
	if !lifeline.Reaches(at(72*time.Hour-time.Second), lifeline.ActionReadConversation, o) {
		t.Error("intake lost a conversation before 72 hours")
	}
	if lifeline.Reaches(at(72*time.Hour), lifeline.ActionReadConversation, o) {
		t.Error("intake reaches a conversation 72 hours after its last message")
	}
	if lifeline.Reaches(at(time.Hour), lifeline.ActionReadConversation, lifeline.Object{Owners: []lifeline.OperatorID{me}}) {
		t.Error("intake reaches a conversation whose last message is unknown")
	}
}

// TestTeamScopeReachesOnlyOwnTeams: a grant marked team reaches objects of
// the operator's teams (and those no team holds yet), never another
// team's; all and own grants are not affected by teams.
func TestTeamScopeReachesOnlyOwnTeams(t *testing.T) {
	sv := lifeline.Reacher{Role: lifeline.RoleSupervisor, ID: lifeline.NewOperatorID(), Teams: []lifeline.Team{"north"}, At: time.Now()}
	north := lifeline.Object{Teams: []lifeline.Team{"north"}}
	south := lifeline.Object{Teams: []lifeline.Team{"south"}}
	both := lifeline.Object{Teams: []lifeline.Team{"south", "north"}}
	for _, a := range []lifeline.Action{lifeline.ActionReadConversation, lifeline.ActionIntelRead, lifeline.ActionAuditRead} {
		if lifeline.Allowed(sv.Role, a) != lifeline.GrantTeam {
			t.Fatalf("%s is not a team grant of the supervisor", a)
		}
		if !lifeline.Reaches(sv, a, north) || !lifeline.Reaches(sv, a, both) || !lifeline.Reaches(sv, a, lifeline.Object{}) {
			t.Errorf("%s: the supervisor does not reach his own team's objects", a)
		}
		if lifeline.Reaches(sv, a, south) {
			t.Errorf("%s: a team grant reached another team's object", a)
		}
	}
	none := sv
	none.Teams = nil
	if lifeline.Reaches(none, lifeline.ActionReadConversation, north) {
		t.Error("an operator of no team reached a team's object")
	}
	// GrantAll is not limited by teams.
	if !lifeline.Reaches(sv, lifeline.ActionFinanceRead, south) {
		t.Error("an all grant was limited to the operator's teams")
	}
	// Case officers see the new-contact queue of their team.
	co := lifeline.Reacher{Role: lifeline.RoleCaseOfficer, ID: lifeline.NewOperatorID(), Teams: []lifeline.Team{"south"}, At: time.Now()}
	if lifeline.Reaches(co, lifeline.ActionSeeNewContacts, north) || !lifeline.Reaches(co, lifeline.ActionSeeNewContacts, south) {
		t.Error("the case officer's team grant on the queue ignores teams")
	}
}
