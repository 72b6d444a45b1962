// SPDX-License-Identifier: AGPL-3.0-or-later

// Package console is the operators' console: server-rendered pages
// (html/template), a little JavaScript of its own, Server-Sent Events for
// live updates, every asset embedded in the binary and nothing loaded from
// any other host.
//
// Every route is declared in [Console.Routes] with the permission it needs;
// the one function [Console.permit] decides, for pages and actions alike.
// While the server is sealed every page but the unseal page redirects to
// it: nothing can be read then anyway.
package console

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CSP is the console's Content-Security-Policy: its own scripts, styles,
// images and media, and nothing else, inline or from elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Defaults of Config.
const (
	DefaultIdleTimeout     = 15 * time.Minute
	DefaultAbsoluteTimeout = 8 * time.Hour
	DefaultResponseTarget  = 2 * time.Minute
	// CookieName has the __Host- prefix: the browser keeps it only if it
	// is Secure, has no Domain and has Path=/.
	CookieName = "__Host-lifeline"
)

// Store is what the console needs of the database.
type Store interface {
	ConversationObject(ctx context.Context, id lifeline.ConversationID) (lifeline.Object, error)
	LoginByUsername(ctx context.Context, username string) (*sqlstore.Login, error)
	UseTOTPStep(ctx context.Context, id lifeline.OperatorID, step int64) (bool, error)
	CreateSession(ctx context.Context, by lifeline.Actor, hash []byte, stage string) error
	SessionByHash(ctx context.Context, hash []byte) (*sqlstore.Session, error)
	TouchSession(ctx context.Context, hash []byte) error
	EndSession(ctx context.Context, by lifeline.Actor, hash []byte, reason string) error
	Enrol(ctx context.Context, by lifeline.Actor, passwordHash string, totpSecret []byte, step int64) error
	SetPasswordHash(ctx context.Context, id lifeline.OperatorID, hash string, peppered bool) error
	SetUILanguage(ctx context.Context, id lifeline.OperatorID, lang string) error
	SetTimeZone(ctx context.Context, id lifeline.OperatorID, zone string) error
	AuditEntries(ctx context.Context, f sqlstore.AuditFilter) ([]audit.Entry, error)
	TeamMates(ctx context.Context, id lifeline.OperatorID) ([]lifeline.OperatorID, error)
	Audit(ctx context.Context, by lifeline.Actor, action, object, reason string) error
	AuditDenied(ctx context.Context, by lifeline.Actor, action, object, reason string) error

	Inbox(ctx context.Context, q sqlstore.InboxQuery) ([]sqlstore.InboxItem, error)
	QueueCounts(ctx context.Context, me lifeline.OperatorID, stream string) (map[sqlstore.Queue]int, error)
	Conversation(ctx context.Context, id lifeline.ConversationID) (*sqlstore.InboxItem, error)
	ConversationMessages(ctx context.Context, id lifeline.ConversationID) ([]sqlstore.ConversationMessage, error)
	QueueReply(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, text string) (sqlstore.QueuedReply, error)
	HeldReplies(ctx context.Context) ([]sqlstore.HeldReply, error)
	DecideHeld(ctx context.Context, by lifeline.Actor, id lifeline.MessageID, approve bool, note string) (lifeline.ConversationID, error)
	QueueTemplate(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, name, language string) (lifeline.MessageID, error)
	ConversationMedia(ctx context.Context, conv lifeline.ConversationID) ([]sqlstore.Media, error)
	Media(ctx context.Context, id lifeline.ID) (*sqlstore.Media, error)
	AddNote(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, text string) (lifeline.MessageID, error)
	SetConversationState(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, state string) error
	Assign(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, to lifeline.OperatorID) error
	Transfer(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, from, to lifeline.OperatorID) error
	Unassign(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, from lifeline.OperatorID) error
	Operators(ctx context.Context) ([]lifeline.Operator, error)

	Shifts(ctx context.Context, f sqlstore.ShiftFilter) ([]lifeline.Shift, error)
	AddShift(ctx context.Context, by lifeline.Actor, s *lifeline.Shift) error
	DeleteShift(ctx context.Context, by lifeline.Actor, id lifeline.ShiftID) error
	RoutingProfiles(ctx context.Context) ([]sqlstore.Staff, error)
	SetRoutingProfile(ctx context.Context, by lifeline.Actor, id lifeline.OperatorID, p lifeline.RoutingProfile) error
	Coverage(ctx context.Context, from, to time.Time) ([]lifeline.CoverageGap, error)

	StepUp(ctx context.Context, by lifeline.Actor, hash []byte) error
	Cases(ctx context.Context, f sqlstore.CaseFilter) ([]sqlstore.CaseSummary, error)
	CaseSummaryByID(ctx context.Context, id lifeline.CaseID) (*sqlstore.CaseSummary, error)
	CaseConversations(ctx context.Context, id lifeline.CaseID) ([]sqlstore.ConversationSummary, error)
	CaseOfConversation(ctx context.Context, conv lifeline.ConversationID) (lifeline.CaseID, error)
	OpenCase(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID) (*lifeline.Case, error)
	CaseByCode(ctx context.Context, code string) (*sqlstore.CaseSummary, error)
	LinkContact(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, id lifeline.CaseID) error
	Persons(ctx context.Context, id lifeline.CaseID) ([]lifeline.Person, error)
	AddPerson(ctx context.Context, by lifeline.Actor, p *lifeline.Person) error
	PersonRelocate(ctx context.Context, by lifeline.Actor, caseID lifeline.CaseID, person lifeline.PersonID, relocate bool) error
	PersonRelocations(ctx context.Context, caseID lifeline.CaseID) (map[lifeline.PersonID]bool, error)
	PersonRefs(ctx context.Context, caseID lifeline.CaseID) ([]sqlstore.PersonRef, error)
	TransitionCase(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, to lifeline.CaseStatus, reason string) error
	AssignCase(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, officer, verifier lifeline.OperatorID) error
	SetChoices(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, exchange, future, where string) error
	ChoiceWhere(ctx context.Context, id lifeline.CaseID) (string, error)
	CaseTimeline(ctx context.Context, id lifeline.CaseID, withDetail, intel bool) ([]sqlstore.CaseEvent, error)
	CaseScreening(ctx context.Context, id lifeline.CaseID, intel bool) (*sqlstore.Screening, error)
	SaveScreening(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, checklist map[string]bool, flags []string, note string) error
	RecordVerdict(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, verdict, reason string) error
	Duplicates(ctx context.Context, id lifeline.CaseID) ([]sqlstore.Duplicate, error)
	CreateOperation(ctx context.Context, by lifeline.Actor, plan sqlstore.OperationPlan, persons []lifeline.PersonID) (*sqlstore.Operation, error)
	SetOperationState(ctx context.Context, by lifeline.Actor, id, state string) error
	SetOutcome(ctx context.Context, by lifeline.Actor, id string, person lifeline.PersonID, outcome string) error
	Operations(ctx context.Context, caseID lifeline.CaseID, withPlan bool) ([]sqlstore.Operation, error)
	AddTask(ctx context.Context, by lifeline.Actor, t *sqlstore.Task) error
	SetTaskState(ctx context.Context, by lifeline.Actor, caseID lifeline.CaseID, id, state string) error
	Tasks(ctx context.Context, caseID lifeline.CaseID, dueBy lifeline.Day, withNotes bool) ([]sqlstore.Task, error)
	AddDocument(ctx context.Context, by lifeline.Actor, d *sqlstore.Document) error
	Documents(ctx context.Context, caseID lifeline.CaseID) ([]sqlstore.Document, error)
	Document(ctx context.Context, caseID lifeline.CaseID, id string, original bool) (*sqlstore.Document, error)
	RequestExport(ctx context.Context, by lifeline.Actor, format string) (*sqlstore.Export, error)
	ApproveExport(ctx context.Context, by lifeline.Actor, id string) error
	Exports(ctx context.Context) ([]sqlstore.Export, error)
	ExchangeList(ctx context.Context, by lifeline.Actor, id string) (*sqlstore.Export, []sqlstore.ExchangeRow, error)
	RequestErasure(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, person lifeline.PersonID, reason string) (*sqlstore.Erasure, error)
	ConfirmErasure(ctx context.Context, by lifeline.Actor, id string) error
	ProposeClose(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, reason string) error
	SetLegalHold(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, reason string) (lifeline.Day, error)
	Erasures(ctx context.Context) ([]sqlstore.Erasure, error)

	Approvals(ctx context.Context) ([]sqlstore.Approval, error)
	DecideApproval(ctx context.Context, by lifeline.Actor, id lifeline.OperatorID, approve bool) error
	Tokens(ctx context.Context, username string) ([]sqlstore.Token, error)
	IssueToken(ctx context.Context, by lifeline.Actor, id string, hash []byte, scope lifeline.TokenScope, expires time.Time) error
	RevokeOwnToken(ctx context.Context, by lifeline.Actor, id string) error

	CannedAnswers(ctx context.Context) ([]sqlstore.CannedAnswer, error)
	SaveCannedAnswer(ctx context.Context, by lifeline.Actor, c *sqlstore.CannedAnswer) error
	ArchiveCannedAnswer(ctx context.Context, by lifeline.Actor, id string) error

	Questionnaire(ctx context.Context) (*sqlstore.QuestionnaireVersion, error)
	QuestionnaireVersion(ctx context.Context, version int) (*sqlstore.QuestionnaireVersion, error)
	QuestionnaireVersions(ctx context.Context) ([]sqlstore.QuestionnaireVersion, error)
	SaveQuestionnaire(ctx context.Context, by lifeline.Actor, definition []byte) (int, error)
	QuestionnaireStatus(ctx context.Context, conv lifeline.ConversationID) (*sqlstore.QuestionnaireSession, error)
	PauseQuestionnaire(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID) error
	ReleaseQuarantined(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID) (int, error)
	FetchMediaNow(ctx context.Context, by lifeline.Actor, id lifeline.ID) error
	ResumeQuestionnaire(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID) error

	// Search, labels and wrap-ups (search.go).
	Search(ctx context.Context, by lifeline.Actor, q sqlstore.SearchQuery) (*sqlstore.SearchResult, error)
	Labels(ctx context.Context, kind string, all bool) ([]sqlstore.Label, error)
	AddLabel(ctx context.Context, by lifeline.Actor, kind, name string) (*sqlstore.Label, error)
	ArchiveLabel(ctx context.Context, by lifeline.Actor, id string) error
	ConversationLabels(ctx context.Context, conv lifeline.ConversationID) ([]sqlstore.Label, error)
	SetConversationLabels(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, ids []string) error
	CloseWithWrapUp(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, w lifeline.WrapUp) error
	WrapUpOf(ctx context.Context, conv lifeline.ConversationID) (*sqlstore.ClosedWrapUp, error)
	UndoClose(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID) error
	WrapUpCounts(ctx context.Context, from, to lifeline.Day) ([]sqlstore.WrapUpCount, error)
}

// Keys is what the console needs of the keeper.
type Keys interface {
	Sealed() bool
	Pepper() ([]byte, error)
}

// Template is an approved WhatsApp message template the console offers
// when the 24-hour window is closed.
type Template struct {
	Name     string // as approved by Meta
	Language string // its language code, such as "ru"
	Label    string // what the operator sees
}

// Config is the console's configuration.
type Config struct {
	Store  Store
	Keys   Keys
	Logger *slog.Logger
	// Unseal feeds one custodian's share to the keeper (the same path as
	// lifeline unseal) and reports the shares held and needed.
	Unseal func(ctx context.Context, share string) (have, need int, err error)
	// Queued, if set, is called after a reply is queued (to wake the outbox).
	Queued func()
	// MediaPoke, if set, is called after an operator asked for a file now
	// (to wake the media worker).
	MediaPoke func()
	// Hub carries live events to open consoles; New makes one if nil.
	Hub *Hub
	// Params are the Argon2id costs of new password hashes; zero means the
	// pinned ones. Only tests lower them.
	Params auth.Params
	// Session limits; zero means the defaults.
	IdleTimeout, AbsoluteTimeout time.Duration
	// ResponseTarget is the first-response target shown by the timers.
	ResponseTarget time.Duration
	// Templates are the approved WhatsApp templates.
	Templates []Template
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// VerifyAudit checks the whole audit log as lifeline audit verify
	// does, in process, for the audit viewer's verdict; nil shows none.
	VerifyAudit func(ctx context.Context) (audit.Report, error)
	// DisableBackoff turns the per-account login backoff off: tests of
	// timing only.
	DisableBackoff bool
}

// Console serves the operator console. Build it with New.
type Console struct {
	cfg     Config
	store   Store
	logger  *slog.Logger
	hub     *Hub
	pages   map[string]*template.Template
	static  http.Handler
	backoff *backoff
	enrols  *enrolments
	defs    sync.Map // questionnaire version → *questionnaire.Definition, parsed once

	verdicts auditVerdict // the audit viewer's latest verification
}

// New returns a console.
func New(cfg Config) (*Console, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if cfg.ResponseTarget <= 0 {
		cfg.ResponseTarget = DefaultResponseTarget
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Hub == nil {
		cfg.Hub = NewHub()
	}
	cfg.Hub.mu.Lock()
	cfg.Hub.resolve = cfg.Store.ConversationObject
	cfg.Hub.mu.Unlock()
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	return &Console{
		cfg:     cfg,
		store:   cfg.Store,
		logger:  cfg.Logger,
		hub:     cfg.Hub,
		pages:   pages,
		static:  http.StripPrefix("/static/", http.FileServerFS(sub)),
		backoff: newBackoff(cfg.Now),
		enrols:  newEnrolments(cfg.Now),
	}, nil
}

// Hub returns the console's live-event hub, for intake and the outbox to
// publish to.
func (c *Console) Hub() *Hub { return c.hub }

// Access is who may call a route: anyone, anyone with a session in any
// stage, or holders of a permission.
type Access struct {
	Public bool            // no session needed (login, unseal, assets)
	Enrol  bool            // an enrolment session suffices
	Action lifeline.Action // else: a full session whose role is granted this
	Any    bool            // a full session, any role
}

// Route is one console route: its pattern, who may call it, and the
// handler.
type Route struct {
	Pattern string
	Access  Access
	Handler http.Handler
}

// Routes returns the console's whole URL surface, each route with the
// access it requires; the web server mounts them.
func (c *Console) Routes() []Route {
	public := Access{Public: true}
	anyone := Access{Any: true}
	queue := Access{Action: lifeline.ActionSeeNewContacts}
	read := Access{Action: lifeline.ActionReadConversation}
	reply := Access{Action: lifeline.ActionReplyConversation}
	floor := Access{Action: lifeline.ActionFloorManage}
	cases := Access{Action: lifeline.ActionSearchContact}
	writeID := Access{Action: lifeline.ActionWriteIdentity}
	readID := Access{Action: lifeline.ActionReadIdentity}
	intelR := Access{Action: lifeline.ActionIntelRead}
	intelW := Access{Action: lifeline.ActionIntelWrite}
	assign := Access{Action: lifeline.ActionCaseAssign}
	export := Access{Action: lifeline.ActionExport}
	shred := Access{Action: lifeline.ActionCaseShred}
	hold := Access{Action: lifeline.ActionCaseLegalHold}
	closing := Access{Action: lifeline.ActionCaseClose}
	release := Access{Action: lifeline.ActionMeetingApprove}
	accounts := Access{Action: lifeline.ActionUserCreate}
	r := []Route{
		c.route("GET /{$}", anyone, c.home),
		{"GET /static/", public, c.assets()},
		{"GET /login", public, c.public(c.loginPage)},
		{"POST /login", public, c.public(c.login)},
		c.route("POST /logout", Access{Enrol: true}, c.logout),
		c.route("GET /enrol", Access{Enrol: true}, c.enrolPage),
		c.route("GET /enrol/qr.png", Access{Enrol: true}, c.enrolQR),
		c.route("POST /enrol", Access{Enrol: true}, c.enrol),
		{"GET /unseal", public, http.HandlerFunc(c.unsealPage)},
		{"POST /unseal", public, http.HandlerFunc(c.unseal)},
		c.route("POST /settings/language", anyone, c.setLanguage),
		c.route("GET /settings", anyone, c.settingsPage),
		c.route("POST /settings/zone", anyone, c.setZone),
		c.route("GET /audit", Access{Action: lifeline.ActionAuditRead}, c.auditPage),
		c.route("GET /events", anyone, c.events),
		c.route("GET /inbox", queue, c.show("inbox", "layout.html", c.inboxData)),
		c.route("GET /inbox/list", queue, c.show("inbox", "list", c.inboxData)),
		c.route("GET /inbox/counts", queue, c.inboxCounts),
		c.route("GET /c/{id}", read, c.show("conversation", "layout.html", c.conversationData)),
		c.route("GET /c/{id}/history", read, c.show("conversation", "history", c.conversationData)),
		c.route("GET /media/{id}", read, c.media),
		c.route("POST /media/{id}/fetch", read, c.fetchMedia),
		c.route("POST /c/{id}/reply", reply, c.reply),
		c.route("POST /c/{id}/template", reply, c.sendTemplate),
		c.route("POST /c/{id}/release", reply, c.release),
		c.route("POST /c/{id}/note", read, c.note),
		c.route("GET /held", release, c.show("held", "layout.html", c.heldData)),
		c.route("POST /held/{id}/approve", release, c.decideHeld(true)),
		c.route("POST /held/{id}/reject", release, c.decideHeld(false)),
		c.route("POST /c/{id}/take", read, c.take),
		c.route("POST /c/{id}/assign", Access{Action: lifeline.ActionCaseAssign}, c.assign),
		c.route("POST /c/{id}/close", read, c.closeConversation),
		c.route("POST /c/{id}/reopen", read, c.reopenConversation),
		c.route("GET /canned", floor, c.cannedPage),
		c.route("POST /canned", floor, c.saveCanned),
		c.route("POST /canned/{id}/archive", floor, c.archiveCanned),
		c.route("GET /cases", cases, c.casesPage),
		c.route("GET /cases/{id}", cases, c.casePage),
		c.route("POST /c/{id}/case", writeID, c.openCase),
		c.route("POST /c/{id}/link", writeID, c.linkContact),
		c.route("POST /cases/{id}/reveal", readID, c.reveal),
		c.route("POST /cases/{id}/persons", writeID, c.withCase(func(v *caseView) bool { return v.WriteID }, c.addPerson)),
		c.route("POST /cases/{id}/status", cases, c.withCase(func(v *caseView) bool { return v.WriteID || v.Approve }, c.setStatus)),
		c.route("POST /cases/{id}/choices", writeID, c.withCase(func(v *caseView) bool { return v.WriteID && !v.Pseudonym }, c.setChoices)),
		c.route("POST /cases/{id}/assign", assign, c.withCase(func(v *caseView) bool { return v.Assign }, c.assignCase)),
		c.route("POST /cases/{id}/screening", intelW, c.withCase(func(v *caseView) bool { return v.IntelWrite }, c.saveScreening)),
		c.route("POST /cases/{id}/verdict", intelW, c.withCase(func(v *caseView) bool { return v.IntelWrite }, c.verdict)),
		c.route("POST /cases/{id}/operations", intelW, c.withCase(func(v *caseView) bool { return v.IntelWrite }, c.createOperation)),
		c.route("POST /cases/{id}/operation-state", intelR, c.withCase(func(v *caseView) bool { return v.IntelWrite || v.Approve }, c.operationState)),
		c.route("POST /cases/{id}/operation-outcome", intelW, c.withCase(func(v *caseView) bool { return v.IntelWrite }, c.operationOutcome)),
		c.route("POST /cases/{id}/tasks", writeID, c.withCase(func(v *caseView) bool { return v.WriteID && !v.Pseudonym }, c.addTask)),
		c.route("POST /cases/{id}/tasks/{task}", writeID, c.withCase(func(v *caseView) bool { return v.WriteID && !v.Pseudonym }, c.taskState)),
		c.route("POST /cases/{id}/documents", writeID, c.withCase(func(v *caseView) bool { return v.WriteID }, c.addDocument)),
		c.route("GET /cases/{id}/documents/{doc}", readID, c.document),
		c.route("POST /cases/{id}/erase", shred, c.withCase(func(v *caseView) bool { return true }, c.requestErasure)),
		c.route("POST /erasures/{id}/confirm", shred, c.confirmErasure),
		c.route("POST /cases/{id}/propose-close", closing, c.withCase(func(v *caseView) bool { return v.WriteID && !v.Pseudonym }, c.proposeClose)),
		c.route("POST /cases/{id}/hold", hold, c.withCase(func(v *caseView) bool { return v.Hold }, c.legalHold)),
		c.route("GET /approvals", accounts, c.approvalsPage),
		c.route("POST /approvals/{id}/approve", accounts, c.decideApproval(true)),
		c.route("POST /approvals/{id}/refuse", accounts, c.decideApproval(false)),
		c.route("GET /tokens", read, c.tokensPage),
		c.route("POST /tokens", read, c.createToken),
		c.route("POST /tokens/{id}/revoke", read, c.revokeToken),
		c.route("GET /exports", export, c.exportsPage),
		c.route("POST /exports", export, c.requestExport),
		c.route("POST /exports/{id}/approve", export, c.approveExport),
		c.route("GET /exports/{id}/download", export, c.downloadExport),
		c.route("GET /shifts", floor, c.shiftsPage),
		c.route("POST /shifts", floor, c.addShift),
		c.route("POST /shifts/{id}/delete", floor, c.deleteShift),
		c.route("POST /staff/{id}/profile", floor, c.setProfile),
		c.route("GET /coverage", floor, c.coveragePage),
		c.route("GET /questionnaire", floor, c.questionnairePage),
		c.route("POST /questionnaire", floor, c.saveQuestionnaire),
		c.route("GET /c/{id}/bot", reply, c.botPage),
		c.route("POST /c/{id}/bot/pause", reply, c.pauseBot),
		c.route("POST /c/{id}/bot/resume", reply, c.resumeBot),
		// Search, labels and the wrap-up at close (search.go).
		c.route("GET /search", read, c.searchPage),
		c.route("POST /search", read, c.searchPage),
		c.route("POST /c/{id}/labels", read, c.setLabels),
		c.route("POST /c/{id}/undo-close", read, c.undoClose),
		c.route("GET /labels", floor, c.labelsPage),
		c.route("POST /labels", floor, c.addLabel),
		c.route("POST /labels/{id}/archive", floor, c.archiveLabel),
	}
	// CSRF: a state change from another site is refused by the browser's
	// own Sec-Fetch-Site and Origin headers (no bypass patterns), and the
	// cookie is SameSite=Strict besides.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(c.crossOrigin))
	for i := range r {
		r[i].Handler = cop.Handler(r[i].Handler)
	}
	return r
}

// route is a route that needs a session: its declared access is the one
// page checks, so the two cannot differ.
func (c *Console) route(pattern string, a Access, h func(http.ResponseWriter, *http.Request, *session)) Route {
	return Route{Pattern: pattern, Access: a, Handler: c.page(a, h)}
}

// WebRoutes returns Routes for mounting on the web server.
func (c *Console) WebRoutes() []web.Route {
	var out []web.Route
	for _, r := range c.Routes() {
		out = append(out, web.Route{Pattern: r.Pattern, Handler: r.Handler})
	}
	return out
}

func (c *Console) assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		c.static.ServeHTTP(w, r)
	})
}
