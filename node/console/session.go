package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

const (
	// cookieName names the session cookie; its value is the session token.
	cookieName = "cairn_console"
	// csrfHeader carries the session's CSRF token on every call that
	// changes state.
	csrfHeader = "X-CSRF-Token"
	// maxSessions bounds the session table, so that a flood of sign-ins
	// cannot grow it without limit; the oldest session goes first.
	maxSessions = 10000
)

// session is one signed-in browser. The secret stays here, on the server.
type session struct {
	token     string
	csrf      string
	accessKey string
	secretKey string
	root      bool
	expires   time.Time
	created   time.Time
}

// sessions is the table of live sessions.
type sessions struct {
	ttl time.Duration
	now func() time.Time
	max int

	mu struct {
		sync.Mutex
		byToken map[string]*session
	}
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	s := &sessions{ttl: ttl, now: now, max: maxSessions}
	s.mu.byToken = make(map[string]*session)
	return s
}

// randomToken is 256 bits from the system's CSPRNG, URL-safe.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return short)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for verified credentials.
func (s *sessions) create(accessKey, secretKey string, root bool) *session {
	now := s.now()
	sess := &session{
		token:     randomToken(),
		csrf:      randomToken(),
		accessKey: accessKey,
		secretKey: secretKey,
		root:      root,
		created:   now,
		expires:   now.Add(s.ttl),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	if len(s.mu.byToken) >= s.max {
		var oldest *session
		for _, o := range s.mu.byToken {
			if oldest == nil || o.created.Before(oldest.created) {
				oldest = o
			}
		}
		delete(s.mu.byToken, oldest.token)
	}
	s.mu.byToken[sess.token] = sess
	return sess
}

// pruneLocked drops expired sessions; called on sign-in, so the table
// needs no goroutine of its own.
func (s *sessions) pruneLocked(now time.Time) {
	for t, o := range s.mu.byToken {
		if !now.Before(o.expires) {
			delete(s.mu.byToken, t)
		}
	}
}

// lookup returns the live session of a token, or nil; an expired one is
// removed.
func (s *sessions) lookup(token string) *session {
	if token == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.mu.byToken[token]
	if sess == nil {
		return nil
	}
	if !s.now().Before(sess.expires) {
		delete(s.mu.byToken, token)
		return nil
	}
	return sess
}

func (s *sessions) remove(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.byToken, token)
}

// dropAccessKey ends every session of an access key (a deleted user).
func (s *sessions) dropAccessKey(accessKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, o := range s.mu.byToken {
		if o.accessKey == accessKey {
			delete(s.mu.byToken, t)
		}
	}
}

// fromRequest finds the request's session by its cookie.
func (s *sessions) fromRequest(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	return s.lookup(c.Value)
}

// csrfOK reports whether a state-changing request carries the session's
// CSRF token. SameSite=Strict already keeps other sites' requests from
// carrying the cookie; the token is the second, independent guard.
func csrfOK(r *http.Request, sess *session) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}

// safeMethod reports whether a method changes nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
