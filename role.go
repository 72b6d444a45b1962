// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"maps"
	"slices"
	"time"
)

// Role is what an operator is for. Each operator has exactly one role; what a
// role may do is the permission table of SECURITY.md §2.5, held as data in
// this file and read with [Allowed].
type Role string

// The seven roles, with the abbreviations SECURITY.md §2.5 uses.
const (
	RoleIntake       Role = "intake"       // IO: answers new contacts, runs the questionnaire
	RoleCaseOfficer  Role = "case-officer" // CO: carries assigned cases
	RoleVerification Role = "verification" // VO: verifies identities, assesses provocation risk, plans meetings
	RoleFinance      Role = "finance"      // FO: handles reward claims and payouts
	RoleSupervisor   Role = "supervisor"   // SV: assigns, approves, break-glass
	RoleAuditor      Role = "auditor"      // AU: reads and verifies the audit log; no case data
	RoleAdmin        Role = "admin"        // AD: technical administration; no case data
)

// AllRoles returns every role, in the order of SECURITY.md §2.5.
func AllRoles() []Role {
	return []Role{
		RoleIntake, RoleCaseOfficer, RoleVerification, RoleFinance, RoleSupervisor, RoleAuditor, RoleAdmin,
	}
}

// Valid reports whether r is one of the seven roles.
func (r Role) Valid() bool { return slices.Contains(AllRoles(), r) }

// String returns the role's name, as stored and shown.
func (r Role) String() string { return string(r) }

// ParseRole returns s as a Role; it is exact (lower case) and fails with
// EINVALID for anything else.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", Errorf(EINVALID, "Unknown role.")
}

// Compartment is a class of data with its own keys (SECURITY.md §2.5).
type Compartment string

// The compartments. CompartmentCase stands for actions on a whole case file,
// which reach every case compartment at once.
const (
	CompartmentRouting      Compartment = "routing"      // C0: workflow fields and contact handles
	CompartmentConversation Compartment = "conversation" // C1: messages, transcripts, notes, media
	CompartmentIdentity     Compartment = "identity"     // C2: who he is and where
	CompartmentIntel        Compartment = "intel"        // C3: verification, assessment, meeting logistics
	CompartmentFinance      Compartment = "finance"      // C4: claims and payouts
	CompartmentCase         Compartment = "case"         // C0–C4 together: export, shred, break-glass
	CompartmentAudit        Compartment = "audit"        // AUD: the audit log
	CompartmentSystem       Compartment = "system"       // SYS: users, keys, configuration
)

// HoldsCaseData reports whether c is one of the compartments that hold data
// about a case (C0–C4, or the whole case).
func (c Compartment) HoldsCaseData() bool {
	switch c {
	case CompartmentRouting, CompartmentConversation, CompartmentIdentity,
		CompartmentIntel, CompartmentFinance, CompartmentCase:
		return true
	}
	return false
}

// Action is something an operator may be allowed to do. Each row of the
// table in SECURITY.md §2.5 is one Action, or several where the row joins
// different things ("Read/reply C1 conversation" is ActionReadConversation
// and ActionReplyConversation); each Action's comment names its row.
type Action string

// The actions, in the order of the rows of SECURITY.md §2.5.
const (
	// ActionSeeNewContacts: "See new-contact queue (pseudonym, channel,
	// day)". The queue shows no content.
	ActionSeeNewContacts Action = "queue.read"

	// ActionReadConversation: the reading half of "Read/reply C1
	// conversation".
	ActionReadConversation Action = "conversation.read"
	// ActionReplyConversation: the writing half of "Read/reply C1
	// conversation": send a message to the contact, add a note.
	ActionReplyConversation Action = "conversation.reply"

	// ActionWriteIdentity: "Write C2 identity".
	ActionWriteIdentity Action = "identity.write"
	// ActionReadIdentity: "Read C2 identity".
	ActionReadIdentity Action = "identity.read"
	// ActionReadContactHandle: reading a contact's phone number, Telegram
	// id or WhatsApp id. §2.5: "Contact handles follow the Read C2 row".
	ActionReadContactHandle Action = "contact.read"

	// ActionIntelRead: the reading half of "C3 assessment, meeting
	// logistics".
	ActionIntelRead Action = "intel.read"
	// ActionIntelWrite: the writing half of "C3 assessment, meeting
	// logistics": provocation score, verdict, meeting plans.
	ActionIntelWrite Action = "intel.write"
	// ActionMeetingApprove: "approves meetings", the supervisor's part of
	// "C3 assessment, meeting logistics". A meeting goes ahead only once
	// approved.
	ActionMeetingApprove Action = "meeting.approve"

	// ActionClaimCreate: "Create reward claim".
	ActionClaimCreate Action = "claim.create"

	// ActionFinanceRead: the reading half of "Read/write C4 finance".
	ActionFinanceRead Action = "finance.read"
	// ActionFinanceWrite: the writing half of "Read/write C4 finance".
	ActionFinanceWrite Action = "finance.write"

	// ActionPayoutApprove: the approval in "Approve payout". The approver
	// is neither the claim's creator nor the payout's executor.
	ActionPayoutApprove Action = "payout.approve"
	// ActionPayoutExecute: "executes after approval" in "Approve payout":
	// making the payment once approvals (and the cooling-off period of
	// SECURITY.md §2.14) are complete.
	ActionPayoutExecute Action = "payout.execute"
	// ActionPayoutDestinationChange: "Change payout destination". A
	// change restarts verification.
	ActionPayoutDestinationChange Action = "payout.destination_change"

	// ActionSearchContact: "Search by contact id (blind index)".
	ActionSearchContact Action = "contact.search"

	// ActionCaseAssign: "Assign / reassign case".
	ActionCaseAssign Action = "case.assign"

	// ActionCaseClose: the closing half of "Close / legal hold".
	ActionCaseClose Action = "case.close"
	// ActionCaseLegalHold: the legal-hold half of "Close / legal hold":
	// keeping a closed case past its retention deadline (SECURITY.md §2.9).
	ActionCaseLegalHold Action = "case.legal_hold"

	// ActionCaseShred: "Shred case" (crypto-shredding, SECURITY.md §2.3).
	ActionCaseShred Action = "case.shred"

	// ActionExport: "Export / print". Every export is watermarked with who
	// made it.
	ActionExport Action = "case.export"

	// ActionAuditRead: "Read audit log". Audit entries name objects only by
	// HMAC (SECURITY.md §2.7), whoever reads them.
	ActionAuditRead Action = "audit.read"
	// ActionAuditVerify: "Verify audit chain".
	ActionAuditVerify Action = "audit.verify"

	// ActionUserCreate: the user half of "Create users, assign roles". No
	// one may propose or approve an account or role for themselves.
	ActionUserCreate Action = "user.create"
	// ActionRoleAssign: the role half of "Create users, assign roles".
	ActionRoleAssign Action = "user.role_assign"

	// ActionKeysGrant: "Grant compartment keys". It needs a member's or the
	// escrow's copy of the key, besides the grant.
	ActionKeysGrant Action = "keys.grant"

	// ActionResetFactor: "Reset password/2FA". The initiator never sets the
	// new password or factor: the operator re-enrolls while a supervisor
	// witnesses.
	ActionResetFactor Action = "factor.reset"

	// ActionUnseal: "unseal" in "Unseal, rotate, rekey".
	ActionUnseal Action = "keys.unseal"
	// ActionKeysRotate: "rotate" in "Unseal, rotate, rekey" (the root key).
	ActionKeysRotate Action = "keys.rotate"
	// ActionKeysRekey: "rekey" in "Unseal, rotate, rekey" (new unseal
	// shares, e.g. when a custodian leaves).
	ActionKeysRekey Action = "keys.rekey"

	// ActionConfig: "Provider secrets, config".
	ActionConfig Action = "config.write"

	// ActionFloorManage: running the operators' floor, which §2.5 leaves to
	// supervisors without a row of its own: shifts, routing profiles
	// (languages, streams, capacity) and canned answers. No case content.
	ActionFloorManage Action = "floor.manage"

	// ActionBreakGlass: "Break-glass read of any case": a typed reason,
	// WebAuthn step-up, 30 minutes, an alert to a second supervisor and an
	// auditor.
	ActionBreakGlass Action = "case.break_glass"
)

// Grant says how far a role may perform an [Action]: not at all, on which
// cases, with which limits, or as which of several people. Each cell of the
// table in SECURITY.md §2.5 is one Grant.
//
// A Grant is the rule; the caller enforces it against the object at hand
// (whether the case is assigned to the operator, whether step-up happened,
// whether the approver differs from the proposer). The zero Grant is
// GrantNone, so a missing entry denies.
type Grant uint8

// The grants. The §2.5 wording each stands for is in quotes.
const (
	// GrantNone: "-". Denied, and the denial is audited.
	GrantNone Grant = iota
	// GrantAll: "R", "W" or "all" without a limit: every object.
	GrantAll
	// GrantTeam: "team": cases of the operator's team (shift or unit).
	GrantTeam
	// GrantOwn: "own", "own scope", "assigned": cases assigned to the
	// operator.
	GrantOwn
	// GrantOwnUnassigned: "own-unassigned, until handoff or 72 h": new
	// contacts the intake operator took from the queue, until the case is
	// handed to a case officer or 72 hours pass, whichever is first.
	GrantOwnUnassigned
	// GrantOwnStepUp: "own, step-up reveal": own cases, each reveal after a
	// fresh step-up authentication (SECURITY.md §2.6).
	GrantOwnStepUp
	// GrantOwnVerdict: "own R (verdict only)": own cases, the verification
	// verdict and nothing else of C3.
	GrantOwnVerdict
	// GrantOwnStatus: "own status": own cases, the status of claims and
	// payouts and nothing else of C4.
	GrantOwnStatus
	// GrantAppendOnly: "append-only, no read-back": may add data but never
	// read it, even what the operator wrote.
	GrantAppendOnly
	// GrantPayoutNameOnly: "payout name only": the payee's name for a
	// payout the finance officer is assigned, nothing else of C2.
	GrantPayoutNameOnly
	// GrantPseudonymOnly: "case pseudonym only": a match shows the case's
	// code name and nothing else.
	GrantPseudonymOnly
	// GrantAggregates: "aggregates only": totals over many cases, never a
	// row of one case.
	GrantAggregates
	// GrantSystemEvents: "system events": audit entries about the system
	// (keys, configuration, accounts), never about a case.
	GrantSystemEvents
	// GrantAfterApproval: "executes after approval": may act only once
	// every required approval is recorded, and never as one of the
	// approvers.
	GrantAfterApproval
	// GrantVerify: "re-verifies": the change takes effect only after this
	// role has verified it again.
	GrantVerify
	// GrantPropose: "proposes", "propose": may start the action, which
	// takes effect only when a different person with GrantApprove or
	// GrantTwoPerson accepts it.
	GrantPropose
	// GrantApprove: "approve", "approves", "2P approve": may accept a
	// proposal made by a different person, never one's own.
	GrantApprove
	// GrantTwoPerson: "2P": may perform the action only together with a
	// second, different person (of this or another role holding
	// GrantTwoPerson or GrantApprove); one initiates, the other confirms.
	GrantTwoPerson
	// GrantInitiate: "initiates, cannot set value": may start the action
	// but never chooses its outcome (the new password or factor); it
	// completes only under a GrantWitness holder.
	GrantInitiate
	// GrantWitness: "witnesses re-enrollment": must be present while the
	// operator enrolls new factors; the action completes only then.
	GrantWitness
	// GrantCustodian: "custodian (M-of-N)": holds one unseal share; acts
	// only together with enough other custodians.
	GrantCustodian
	// GrantBreakGlass: "BG": only through break-glass (see
	// ActionBreakGlass): typed reason, step-up, 30 minutes, alerts.
	GrantBreakGlass
)

var grantNames = [...]string{
	GrantNone:           "none",
	GrantAll:            "all",
	GrantTeam:           "team",
	GrantOwn:            "own",
	GrantOwnUnassigned:  "own-unassigned",
	GrantOwnStepUp:      "own-step-up",
	GrantOwnVerdict:     "own-verdict",
	GrantOwnStatus:      "own-status",
	GrantAppendOnly:     "append-only",
	GrantPayoutNameOnly: "payout-name-only",
	GrantPseudonymOnly:  "pseudonym-only",
	GrantAggregates:     "aggregates",
	GrantSystemEvents:   "system-events",
	GrantAfterApproval:  "after-approval",
	GrantVerify:         "verify",
	GrantPropose:        "propose",
	GrantApprove:        "approve",
	GrantTwoPerson:      "two-person",
	GrantInitiate:       "initiate",
	GrantWitness:        "witness",
	GrantCustodian:      "custodian",
	GrantBreakGlass:     "break-glass",
}

// String returns the grant's name, such as "own-step-up".
func (g Grant) String() string {
	if int(g) < len(grantNames) {
		return grantNames[g]
	}
	return "invalid"
}

// Permitted reports whether g lets the role act at all, within its limits:
// false for GrantNone and for values that are not grants.
func (g Grant) Permitted() bool { return g != GrantNone && int(g) < len(grantNames) }

// Permission is one row of the table: the grant of every role for one
// action.
type Permission struct {
	Action      Action
	Compartment Compartment // the data the action reaches
	Grants      map[Role]Grant
}

// permissions is the table of SECURITY.md §2.5, one row per Action in the
// table's order. Every row names all seven roles, GrantNone included, so
// that no cell is left implicit. It is unexported so that nothing can
// change it at run time; read it with Allowed or Permissions.
var permissions = []Permission{
	{ActionSeeNewContacts, CompartmentRouting, map[Role]Grant{
		RoleIntake: GrantAll, RoleCaseOfficer: GrantTeam, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantAll, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionReadConversation, CompartmentConversation, map[Role]Grant{
		RoleIntake: GrantOwnUnassigned, RoleCaseOfficer: GrantOwn, RoleVerification: GrantOwn, RoleFinance: GrantNone,
		RoleSupervisor: GrantTeam, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionReplyConversation, CompartmentConversation, map[Role]Grant{
		RoleIntake: GrantOwnUnassigned, RoleCaseOfficer: GrantOwn, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantBreakGlass, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionWriteIdentity, CompartmentIdentity, map[Role]Grant{
		RoleIntake: GrantAppendOnly, RoleCaseOfficer: GrantOwn, RoleVerification: GrantOwn, RoleFinance: GrantNone,
		RoleSupervisor: GrantNone, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionReadIdentity, CompartmentIdentity, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantOwnStepUp, RoleVerification: GrantOwnStepUp, RoleFinance: GrantPayoutNameOnly,
		RoleSupervisor: GrantBreakGlass, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionReadContactHandle, CompartmentRouting, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantOwnStepUp, RoleVerification: GrantOwnStepUp, RoleFinance: GrantPayoutNameOnly,
		RoleSupervisor: GrantBreakGlass, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionIntelRead, CompartmentIntel, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantOwnVerdict, RoleVerification: GrantOwn, RoleFinance: GrantNone,
		RoleSupervisor: GrantTeam, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionIntelWrite, CompartmentIntel, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantOwn, RoleFinance: GrantNone,
		RoleSupervisor: GrantNone, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionMeetingApprove, CompartmentIntel, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantApprove, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionClaimCreate, CompartmentFinance, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantOwn, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantNone, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionFinanceRead, CompartmentFinance, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantOwnStatus, RoleVerification: GrantNone, RoleFinance: GrantOwn,
		RoleSupervisor: GrantAll, RoleAuditor: GrantAggregates, RoleAdmin: GrantNone,
	}},
	{ActionFinanceWrite, CompartmentFinance, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantOwn,
		RoleSupervisor: GrantNone, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionPayoutApprove, CompartmentFinance, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantTwoPerson, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionPayoutExecute, CompartmentFinance, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantAfterApproval,
		RoleSupervisor: GrantNone, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionPayoutDestinationChange, CompartmentFinance, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantVerify, RoleFinance: GrantPropose,
		RoleSupervisor: GrantApprove, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionSearchContact, CompartmentRouting, map[Role]Grant{
		RoleIntake: GrantPseudonymOnly, RoleCaseOfficer: GrantOwn, RoleVerification: GrantOwn, RoleFinance: GrantNone,
		RoleSupervisor: GrantAll, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionCaseAssign, CompartmentRouting, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantAll, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionCaseClose, CompartmentRouting, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantPropose, RoleVerification: GrantPropose, RoleFinance: GrantNone,
		RoleSupervisor: GrantApprove, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionCaseLegalHold, CompartmentRouting, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantPropose, RoleVerification: GrantPropose, RoleFinance: GrantNone,
		RoleSupervisor: GrantApprove, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionCaseShred, CompartmentCase, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantTwoPerson, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionExport, CompartmentCase, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantTwoPerson, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionAuditRead, CompartmentAudit, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantTeam, RoleAuditor: GrantAll, RoleAdmin: GrantSystemEvents,
	}},
	{ActionAuditVerify, CompartmentAudit, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantNone, RoleAuditor: GrantAll, RoleAdmin: GrantAll,
	}},
	{ActionUserCreate, CompartmentSystem, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantApprove, RoleAuditor: GrantNone, RoleAdmin: GrantPropose,
	}},
	{ActionRoleAssign, CompartmentSystem, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantApprove, RoleAuditor: GrantNone, RoleAdmin: GrantPropose,
	}},
	{ActionKeysGrant, CompartmentSystem, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantAll, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionResetFactor, CompartmentSystem, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantWitness, RoleAuditor: GrantNone, RoleAdmin: GrantInitiate,
	}},
	{ActionUnseal, CompartmentSystem, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantCustodian, RoleAuditor: GrantNone, RoleAdmin: GrantCustodian,
	}},
	{ActionKeysRotate, CompartmentSystem, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantCustodian, RoleAuditor: GrantNone, RoleAdmin: GrantCustodian,
	}},
	{ActionKeysRekey, CompartmentSystem, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantCustodian, RoleAuditor: GrantNone, RoleAdmin: GrantCustodian,
	}},
	{ActionConfig, CompartmentSystem, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantApprove, RoleAuditor: GrantNone, RoleAdmin: GrantTwoPerson,
	}},
	{ActionFloorManage, CompartmentSystem, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantAll, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
	{ActionBreakGlass, CompartmentCase, map[Role]Grant{
		RoleIntake: GrantNone, RoleCaseOfficer: GrantNone, RoleVerification: GrantNone, RoleFinance: GrantNone,
		RoleSupervisor: GrantBreakGlass, RoleAuditor: GrantNone, RoleAdmin: GrantNone,
	}},
}

// permissionIndex finds a row by its action.
var permissionIndex = func() map[Action]*Permission {
	m := make(map[Action]*Permission, len(permissions))
	for i := range permissions {
		m[permissions[i].Action] = &permissions[i]
	}
	return m
}()

// Allowed returns the grant role has for action a. It denies by default: an
// unknown role or action, or a cell that is not in the table, gives
// GrantNone. It is the one policy function behind the UI, the API, search,
// export and notifications (SECURITY.md §2.5).
func Allowed(role Role, a Action) Grant {
	p, ok := permissionIndex[a]
	if !ok {
		return GrantNone
	}
	return p.Grants[role] // GrantNone for a role not in the row
}

// Actions returns every action, in the order of the table.
func Actions() []Action {
	as := make([]Action, len(permissions))
	for i, p := range permissions {
		as[i] = p.Action
	}
	return as
}

// Valid reports whether a is an action of the table.
func (a Action) Valid() bool {
	_, ok := permissionIndex[a]
	return ok
}

// Compartment returns the data a reaches, or "" if a is not an action.
func (a Action) Compartment() Compartment {
	if p, ok := permissionIndex[a]; ok {
		return p.Compartment
	}
	return ""
}

// Permissions returns a copy of the whole table, one row per action in the
// table's order, for pages and tests that show who may do what. Changing
// the copy changes nothing else.
func Permissions() []Permission {
	ps := slices.Clone(permissions)
	for i := range ps {
		ps[i].Grants = maps.Clone(ps[i].Grants)
	}
	return ps
}

// IntakeWindow is how long the intake desk's reach to a conversation
// lasts after its contact's last message (SECURITY.md §2.5: "until handoff
// or 72 h", whichever comes first).
const IntakeWindow = 72 * time.Hour

// Reacher is an operator at a moment, as need-to-know sees him: his role,
// id and teams, and the time (the intake desk's reach ends with time).
type Reacher struct {
	Role  Role
	ID    OperatorID
	Teams []Team
	At    time.Time
}

// ReacherOf returns op as a Reacher at time at.
func ReacherOf(op *Operator, at time.Time) Reacher {
	return Reacher{Role: op.Role, ID: op.ID, Teams: op.Teams, At: at}
}

// Object is what need-to-know knows of one object (a conversation or a
// case) when it decides whether an operator reaches it.
type Object struct {
	// Owners are the operators the object is assigned to: a
	// conversation's operator; a case's case officer and verification
	// officer.
	Owners []OperatorID
	// Handles says the operator handles the object as the intake desk
	// does: a conversation waits unassigned; for a case, one of its
	// conversations is within his intake reach.
	Handles bool
	// Teams are the teams the object belongs to: a case's team; a
	// conversation's, its case's or else its operator's teams. An object
	// of no team and no owner (a new contact no one has taken) is the
	// whole floor's; one of no team with an owner is no team's.
	Teams []Team
	// HandedOff: the object has been handed to a case officer (its case
	// has one, or an operator other than an intake operator has it).
	HandedOff bool
	// LastMessage is the hour of its contact's latest message (the zero
	// time if unknown, which ends the intake desk's reach).
	LastMessage time.Time
}

// IntakeOpen reports whether the intake desk still reaches o at time at:
// it has not been handed off, and its contact wrote within IntakeWindow.
func (o Object) IntakeOpen(at time.Time) bool {
	return !o.HandedOff && !o.LastMessage.IsZero() && at.Before(o.LastMessage.Add(IntakeWindow))
}

// inTeams reports whether a team grant of who reaches o: o belongs to one
// of his teams, or to no team and no one yet (a new contact is the whole
// floor's until someone takes it).
func (o Object) inTeams(who Reacher) bool {
	if len(o.Teams) == 0 {
		return !slices.ContainsFunc(o.Owners, OperatorID.Valid)
	}
	for _, t := range o.Teams {
		if slices.Contains(who.Teams, t) {
			return true
		}
	}
	return false
}

// Reaches is the one object-level rule of need-to-know, for every page,
// API call, search, export, live event and notification: whether who's
// grant for action reaches o. "own" grants reach the owners' objects;
// own-unassigned (the intake desk) reaches its own and the unassigned
// conversations until they are handed off or IntakeWindow after the
// contact's last message; append-only and pseudonym-only grants reach what
// the operator handles; team grants reach objects of the operator's teams
// (and those of no team yet); all, approve and two-person grants reach
// every object; break-glass reaches nothing without its own ceremony, and
// no other grant reaches any object.
func Reaches(who Reacher, action Action, o Object) bool {
	switch Allowed(who.Role, action) {
	case GrantAll, GrantApprove, GrantTwoPerson:
		return true
	case GrantTeam:
		return o.inTeams(who)
	case GrantOwn, GrantOwnStepUp, GrantOwnVerdict, GrantOwnStatus, GrantPropose:
		return who.ID.Valid() && slices.Contains(o.Owners, who.ID)
	case GrantOwnUnassigned:
		return who.ID.Valid() && (slices.Contains(o.Owners, who.ID) || o.Handles) && o.IntakeOpen(who.At)
	case GrantAppendOnly, GrantPseudonymOnly:
		return o.Handles
	}
	return false
}
