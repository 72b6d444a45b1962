// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

// session is the signed-in operator of one request.
type session struct {
	sqlstore.Session
	hash []byte
	now  time.Time // when the request came: the intake desk's reach ends with time
}

// reacher is the session's operator as need-to-know sees him, now.
func (s *session) reacher() lifeline.Reacher { return lifeline.ReacherOf(&s.Operator, s.now) }

func (s *session) actor(r *http.Request) lifeline.Actor {
	return lifeline.Actor{ID: string(s.Operator.ID), Role: s.Operator.Role, RequestID: web.RequestID(r.Context())}
}

type sessionKey struct{}

// authenticate finds the live session the request's cookie names, ending
// it if it has expired, and records the activity if touch. nil if there is
// none.
func (c *Console) authenticate(r *http.Request, touch bool) *session {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	hash, err := auth.HashSessionID(ck.Value)
	if err != nil {
		return nil
	}
	s, err := c.store.SessionByHash(r.Context(), hash)
	if err != nil {
		if lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
			c.logger.Error("session lookup", "error", err.Error())
		}
		return nil
	}
	now := c.cfg.Now()
	sess := &session{Session: *s, hash: hash, now: now}
	switch {
	case now.Sub(s.CreatedAt) >= c.cfg.AbsoluteTimeout:
		c.endSession(r, sess, "absolute-timeout")
		return nil
	case now.Sub(s.LastSeen) >= c.cfg.IdleTimeout:
		c.endSession(r, sess, "idle-timeout")
		return nil
	case touch && now.Sub(s.LastSeen) >= time.Minute:
		// Minute precision is enough for a 15-minute idle limit and spares
		// a write per request.
		if err := c.store.TouchSession(r.Context(), hash); err != nil {
			c.logger.Error("touch session", "error", err.Error())
		}
	}
	return sess
}

func (c *Console) endSession(r *http.Request, s *session, reason string) {
	if err := c.store.EndSession(context.WithoutCancel(r.Context()), s.actor(r), s.hash, reason); err != nil {
		c.logger.Error("end session", "error", err.Error())
	}
}

// permit is the console's one policy decision for a route: whether the
// session may call it. Object-level checks (whose conversation) come after,
// in canSee.
func permit(s *session, a Access) bool {
	switch {
	case a.Public:
		return true
	case s == nil:
		return false
	case a.Enrol:
		return true
	case s.Stage != sqlstore.StageFull:
		return false
	case a.Any:
		return true
	}
	// Break-glass is not offered by these routes: it needs its own
	// ceremony (typed reason, step-up, alerts), so a grant of it alone
	// opens nothing here.
	g := lifeline.Allowed(s.Operator.Role, a.Action)
	return g.Permitted() && g != lifeline.GrantBreakGlass
}

// canSee is the object-level rule for a conversation (lifeline.Reaches):
// own grants reach conversations assigned to the operator; own-unassigned
// (the intake desk) also the unassigned ones, until handoff or 72 hours
// after the contact's last message; team grants those of the operator's
// teams; all every one.
func canSee(s *session, a lifeline.Action, conv *sqlstore.InboxItem) bool {
	return lifeline.Reaches(s.reacher(), a, conv.Object())
}

// page wraps a handler that needs a session: sealed → the unseal page; no
// session → the login page (or 401 for scripts); an enrolment session →
// the enrolment page; a role without the permission → 403, audited.
func (c *Console) page(a Access, h func(w http.ResponseWriter, r *http.Request, s *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", CSP)
		if c.cfg.Keys.Sealed() {
			c.redirectOrStatus(w, r, "/unseal", http.StatusServiceUnavailable)
			return
		}
		// A live stream is not activity: it must not keep a session alive.
		s := c.authenticate(r, r.Pattern != "GET /events")
		if s == nil {
			c.redirectOrStatus(w, r, "/login", http.StatusUnauthorized)
			return
		}
		if s.Stage == sqlstore.StageEnrol && !a.Enrol {
			c.redirectOrStatus(w, r, "/enrol", http.StatusForbidden)
			return
		}
		if !permit(s, a) {
			c.deny(r, s.actor(r), "console.denied", "", "route="+r.Pattern)
			c.fail(w, r, s, lifeline.Errorf(lifeline.EFORBIDDEN, "Your role does not allow this."))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)), s)
	})
}

// public wraps a page that needs no session; sealed → the unseal page.
func (c *Console) public(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", CSP)
		if c.cfg.Keys.Sealed() {
			c.redirectOrStatus(w, r, "/unseal", http.StatusServiceUnavailable)
			return
		}
		h(w, r)
	})
}

// redirectOrStatus sends a browser navigation to path and answers a
// script's fetch with status.
func (c *Console) redirectOrStatus(w http.ResponseWriter, r *http.Request, path string, status int) {
	if r.Header.Get("Accept") == "text/event-stream" {
		// A live stream is no page; its script reloads the page.
		http.Error(w, http.StatusText(status), status)
		return
	}
	if r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Mode") != "cors" {
		http.Redirect(w, r, path, http.StatusSeeOther)
		return
	}
	// A form posted (or a script's fetch) gets a page that says why, in
	// the language of the session it had, and where to go on: the page it
	// came from keeps its text in the browser.
	var s *session
	if status == http.StatusForbidden {
		s = c.authenticate(r, false)
	}
	key := map[int]string{
		http.StatusUnauthorized:       "error.signedout",
		http.StatusForbidden:          "error.enrol",
		http.StatusServiceUnavailable: "error.sealed",
	}[status]
	c.errorPage(w, r, s, status, translate(c.langOf(r, s), key))
}

// langOf is the language of a page without a live session: the session's
// if any, else the one a signed-out browser last chose (its lang cookie),
// else Ukrainian.
func (c *Console) langOf(r *http.Request, s *session) string {
	return c.view(r, s, nil).L
}

// setLangCookie remembers lang in the browser for the pages it sees
// signed out.
func setLangCookie(w http.ResponseWriter, lang string) {
	if lang != "en" && lang != "uk" {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// langCookie remembers the console language of a browser across sign-outs
// (not a secret: uk or en), so that the sign-in page and the pages of an
// ended session speak it.
const langCookie = "__Host-lifeline-lang"

// crossOrigin answers a state change refused by the cross-origin
// protection: a page, not a bare 403.
func (c *Console) crossOrigin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", CSP)
	s := c.authenticate(r, false)
	if s != nil && s.Stage != sqlstore.StageFull {
		s = nil
	}
	by := anonymous
	if s != nil {
		by = s.actor(r)
	}
	c.deny(r, by, "console.cross_origin", "", "route="+r.Pattern)
	c.errorPage(w, r, s, http.StatusForbidden, translate(c.langOf(r, s), "error.crossorigin"))
}

// deny records a refusal in the audit log: who (or "anonymous"), what, and
// a reason code; never a password, a code or a username typed.
func (c *Console) deny(r *http.Request, by lifeline.Actor, action, object, reason string) {
	by.RequestID = web.RequestID(r.Context())
	if err := c.store.AuditDenied(context.WithoutCancel(r.Context()), by, action, object, reason); err != nil {
		c.logger.Error("audit", "error", err.Error())
	}
}

// anonymous is the actor of a refusal no account can be named for.
var anonymous = lifeline.Actor{ID: "anonymous"}

func (c *Console) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// startSession makes a new session (a new id at every login) and sets its
// cookie.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, op lifeline.Operator, stage string) error {
	id, hash, err := auth.NewSessionID()
	if err != nil {
		return err
	}
	by := lifeline.Actor{ID: string(op.ID), Role: op.Role, RequestID: web.RequestID(r.Context())}
	if err := c.store.CreateSession(context.WithoutCancel(r.Context()), by, hash, stage); err != nil {
		return err
	}
	c.setCookie(w, id, int(c.cfg.AbsoluteTimeout/time.Second))
	return nil
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if s := c.authenticate(r, false); s != nil && s.Stage == sqlstore.StageFull {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.render(w, r, nil, "login", http.StatusOK, map[string]any{"Username": ""})
}

// loginFailed is the one answer to every failed login: unknown user, wrong
// password, wrong or reused code, disabled account.
var loginFailed = lifeline.Errorf(lifeline.EUNAUTHORIZED, "Wrong username, password or code.")

// login checks username, password and TOTP code. Unknown users take the
// same path at the same cost (a dummy Argon2id verification), get the same
// answer and the same backoff.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	username := strings.TrimSpace(strings.ToLower(r.PostFormValue("username")))
	password, code := r.PostFormValue("password"), r.PostFormValue("code")
	again := func(err error, status int) {
		c.render(w, r, nil, "login", status, map[string]any{"Username": username, "Error": errorText(c.langOf(r, nil), err)})
	}
	if !c.cfg.DisableBackoff {
		// One guess at a time per name: a parallel one waits like a
		// failed one, so that backoff cannot be raced.
		wait, ok := c.backoff.begin(username)
		if !ok {
			again(lifeline.Errorf(lifeline.EUNAUTHORIZED, "Too many failed attempts: wait %d seconds and try again.", int(wait.Seconds()+0.999)), http.StatusTooManyRequests)
			return
		}
		defer c.backoff.end(username)
	}
	op, err := c.checkLogin(r, username, password, code)
	if err != nil {
		if lifeline.ErrorCode(err) == lifeline.EUNAVAILABLE {
			again(err, http.StatusServiceUnavailable)
			return
		}
		if !c.cfg.DisableBackoff {
			c.backoff.fail(username)
		}
		again(loginFailed, http.StatusUnauthorized)
		return
	}
	c.backoff.reset(username)
	stage := sqlstore.StageFull
	if op.MustChange {
		stage = sqlstore.StageEnrol
	}
	if err := c.startSession(w, r, op.Operator, stage); err != nil {
		c.logger.Error("start session", "error", err.Error())
		again(lifeline.Errorf(lifeline.EINTERNAL, "Something went wrong; try again."), http.StatusInternalServerError)
		return
	}
	setLangCookie(w, op.UILanguage)
	if stage == sqlstore.StageEnrol {
		http.Redirect(w, r, "/enrol", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// checkLogin returns the account if the credentials hold. Every failure is
// audited with its reason code (never the password or code).
func (c *Console) checkLogin(r *http.Request, username, password, code string) (*sqlstore.Login, error) {
	ctx := r.Context()
	pepper, err := c.cfg.Keys.Pepper()
	if err != nil {
		return nil, lifeline.Errorf(lifeline.EUNAVAILABLE, "The server is sealed.")
	}
	peppered := &auth.Hasher{Pepper: pepper, Params: c.cfg.Params}
	l, err := c.store.LoginByUsername(ctx, username)
	// An account made at the command line and not approved by a
	// supervisor signs in no more than a disabled one.
	if err != nil || l.Operator.Disabled || l.Pending {
		if err != nil && lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
			c.logger.Error("login lookup", "error", err.Error())
		}
		if err := peppered.DummyVerifyContext(ctx, password); err != nil {
			return nil, lifeline.Errorf(lifeline.EUNAVAILABLE, "The server is busy; try again in a moment.")
		}
		c.deny(r, anonymous, "login.fail", "", "unknown-or-disabled")
		return nil, loginFailed
	}
	h := peppered
	if !l.Peppered {
		h = &auth.Hasher{Params: c.cfg.Params}
	}
	ok, rehash, err := h.VerifyContext(ctx, l.PasswordHash, password)
	if err != nil && errors.Is(err, auth.ErrBusy) {
		return nil, lifeline.Errorf(lifeline.EUNAVAILABLE, "The server is busy; try again in a moment.")
	}
	by := lifeline.Actor{ID: string(l.Operator.ID), Role: l.Operator.Role}
	if !ok {
		c.deny(r, by, "login.fail", string(l.Operator.ID), "password")
		return nil, loginFailed
	}
	if l.MustChange {
		// The one-time password admits to the enrolment page only: a new
		// password and a new TOTP seed are set there, proven by a code.
		return l, nil
	}
	step, err := auth.VerifyTOTP(string(l.TOTPSecret), code, l.TOTPLastStep, c.cfg.Now())
	if err == nil {
		var fresh bool
		fresh, err = c.store.UseTOTPStep(ctx, l.Operator.ID, step)
		if err == nil && !fresh {
			err = auth.ErrTOTPReplayed
		}
	}
	if err != nil {
		reason := "totp"
		if errors.Is(err, auth.ErrTOTPReplayed) {
			reason = "totp-replay"
		}
		c.deny(r, by, "login.fail", string(l.Operator.ID), reason)
		return nil, loginFailed
	}
	if rehash || !l.Peppered {
		if hash, err := peppered.HashContext(ctx, password); err == nil {
			if err := c.store.SetPasswordHash(ctx, l.Operator.ID, hash, true); err != nil {
				c.logger.Error("rehash password", "error", err.Error())
			}
		}
	}
	return l, nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	c.endSession(r, s, "logout")
	c.setCookie(w, "", -1)
	w.Header().Set("Clear-Site-Data", `"cache", "cookies", "storage"`)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// enrolments holds the TOTP seeds offered on enrolment pages, in memory
// only, until proven by a code or expired.
type enrolments struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[lifeline.OperatorID]enrolment
}

type enrolment struct {
	key     *otp.Key
	expires time.Time
}

func newEnrolments(now func() time.Time) *enrolments {
	return &enrolments{now: now, m: map[lifeline.OperatorID]enrolment{}}
}

// get returns the operator's pending seed, making one if there is none.
func (e *enrolments) get(op lifeline.Operator) (*otp.Key, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	for id, en := range e.m {
		if now.After(en.expires) {
			delete(e.m, id)
		}
	}
	if en, ok := e.m[op.ID]; ok {
		return en.key, nil
	}
	enr, err := auth.NewTOTPSecret("Lifeline", op.Username)
	if err != nil {
		return nil, err
	}
	key, err := otp.NewKeyFromURL(enr.URL)
	if err != nil {
		return nil, err
	}
	e.m[op.ID] = enrolment{key: key, expires: now.Add(30 * time.Minute)}
	return key, nil
}

func (e *enrolments) done(id lifeline.OperatorID) {
	e.mu.Lock()
	delete(e.m, id)
	e.mu.Unlock()
}

func (c *Console) enrolPage(w http.ResponseWriter, r *http.Request, s *session) {
	if s.Stage != sqlstore.StageEnrol {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	key, err := c.enrols.get(s.Operator)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, "enrol", http.StatusOK, map[string]any{"Secret": key.Secret()})
}

// enrolQR renders the pending seed's otpauth URL as a QR code, here, so
// that no outside service ever sees it.
func (c *Console) enrolQR(w http.ResponseWriter, r *http.Request, s *session) {
	if s.Stage != sqlstore.StageEnrol {
		c.fail(w, r, s, lifeline.Errorf(lifeline.ENOTFOUND, "Not found."))
		return
	}
	key, err := c.enrols.get(s.Operator)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	img, err := key.Image(240, 240)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		c.fail(w, r, s, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(buf.Bytes())
}

func (c *Console) enrol(w http.ResponseWriter, r *http.Request, s *session) {
	if s.Stage != sqlstore.StageEnrol {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	key, err := c.enrols.get(s.Operator)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	again := func(err error) {
		c.render(w, r, s, "enrol", http.StatusBadRequest, map[string]any{"Secret": key.Secret(), "Error": errorText(c.view(r, s, nil).L, err)})
	}
	password := r.PostFormValue("password")
	if password != r.PostFormValue("password2") {
		again(lifeline.Errorf(lifeline.EINVALID, "The two passwords differ."))
		return
	}
	if err := auth.CheckPassword(password, s.Operator.Username); err != nil {
		again(lifeline.Errorf(lifeline.EINVALID, "%s", passwordAdvice(err)))
		return
	}
	step, err := auth.VerifyTOTP(key.Secret(), r.PostFormValue("code"), 0, c.cfg.Now())
	if err != nil {
		again(lifeline.Errorf(lifeline.EINVALID, "That code does not match the new key: check the authenticator app and the clock."))
		return
	}
	pepper, err := c.cfg.Keys.Pepper()
	if err != nil {
		again(lifeline.Errorf(lifeline.EUNAVAILABLE, "The server is sealed."))
		return
	}
	hash, err := (&auth.Hasher{Pepper: pepper, Params: c.cfg.Params}).HashContext(r.Context(), password)
	if err != nil {
		again(lifeline.Errorf(lifeline.EUNAVAILABLE, "The server is busy; try again in a moment."))
		return
	}
	if err := c.store.Enrol(context.WithoutCancel(r.Context()), s.actor(r), hash, []byte(key.Secret()), step); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.enrols.done(s.Operator.ID)
	if err := c.startSession(w, r, s.Operator, sqlstore.StageFull); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func passwordAdvice(err error) string {
	switch {
	case errors.Is(err, auth.ErrPasswordTooShort):
		return "A password has at least 15 characters: a few words make a good one."
	case errors.Is(err, auth.ErrPasswordCommon):
		return "That password is too easy to guess (a common word, a pattern, or your username in it); choose another: a few unrelated words make a good one."
	}
	return "That password cannot be used; choose another."
}

// backoff slows password guessing per account name, known or not, without
// ever locking an account: after n failures the next try waits 2^(n-1)
// seconds, at most a minute, and only one try per name runs at a time.
// Its memory is bounded; when full, the names with the fewest failures are
// forgotten first, so that a flood of new names never resets the backoff
// of a name under attack (SECURITY.md §2.6).
type backoff struct {
	now func() time.Time
	max int // names remembered at most
	mu  sync.Mutex
	m   map[string]backoffState
}

type backoffState struct {
	fails    int
	until    time.Time
	inFlight bool // a try of this name is being checked
}

const (
	maxBackoff = time.Minute
	// backoffNames bounds the names remembered (about 10 MB at most).
	backoffNames = 100_000
)

func newBackoff(now func() time.Time) *backoff {
	return &backoff{now: now, max: backoffNames, m: map[string]backoffState{}}
}

// begin starts a try of name: false, with how long to wait, if the name is
// backing off or a try of it is under way. A try begun must end (end).
func (b *backoff) begin(name string) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, known := b.m[name]
	if d := st.until.Sub(b.now()); d > 0 {
		return d, false
	}
	if st.inFlight {
		return time.Second, false
	}
	if !known {
		b.makeRoom()
	}
	st.inFlight = true
	b.m[name] = st
	return 0, true
}

// end ends a try begun.
func (b *backoff) end(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st, ok := b.m[name]; ok {
		st.inFlight = false
		if st.fails == 0 {
			delete(b.m, name)
		} else {
			b.m[name] = st
		}
	}
}

func (b *backoff) fail(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, known := b.m[name]
	if !known {
		b.makeRoom()
	}
	st.fails++
	d := time.Second << min(st.fails-1, 6)
	st.until = b.now().Add(min(d, maxBackoff))
	b.m[name] = st
}

// makeRoom forgets, when the memory is full, every name with the fewest
// failures (those of a spray of names: one each), never a try under way.
// Called with mu held.
func (b *backoff) makeRoom() {
	if len(b.m) < b.max {
		return
	}
	least := -1
	for _, st := range b.m {
		if !st.inFlight && (least < 0 || st.fails < least) {
			least = st.fails
		}
	}
	for name, st := range b.m {
		if !st.inFlight && st.fails == least {
			delete(b.m, name)
		}
	}
}

func (b *backoff) reset(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st, ok := b.m[name]; ok && st.inFlight {
		b.m[name] = backoffState{inFlight: true}
		return
	}
	delete(b.m, name)
}
