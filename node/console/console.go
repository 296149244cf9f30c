package console

import (
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed static
var staticFiles embed.FS

// DefaultSessionTTL is how long a sign-in lasts.
const DefaultSessionTTL = 8 * time.Hour

// Config configures a Console.
type Config struct {
	// S3 is the gateway's S3 handler: every bucket and object action is a
	// signed request served by it, so its authorization decides.
	S3 http.Handler
	// S3Host is the Host the console's requests name (and sign); the
	// gateway's S3 address, so that virtual-host addressing stays out of
	// the way. Default "localhost".
	S3Host string
	// S3URL is the S3 endpoint as clients reach it (http://host:port),
	// for presigned links; empty disables them.
	S3URL string
	// Region is the gateway's region; default us-east-1.
	Region string
	// RootAccessKey identifies the root credentials, which alone see the
	// cluster overview and manage users.
	RootAccessKey string
	// Cluster answers the overview and user management; nil hides them.
	Cluster Cluster
	// SessionTTL bounds a session; default DefaultSessionTTL.
	SessionTTL time.Duration
	// SecureCookie marks the session cookie Secure (the console is
	// served over HTTPS).
	SecureCookie bool
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.S3Host == "" {
		c.S3Host = "localhost"
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first configuration error.
func (c *Config) Validate() error {
	if c.S3 == nil {
		return errors.New("console: an S3 handler is required")
	}
	if c.RootAccessKey == "" {
		return errors.New("console: the root access key is required")
	}
	if c.SessionTTL < 0 {
		return errors.New("console: negative session TTL")
	}
	return nil
}

// Console serves the web console. It starts no goroutines.
type Console struct {
	cfg      Config
	sessions *sessions
	mux      *http.ServeMux
}

// New builds a Console.
func New(cfg Config) (*Console, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, sessions: newSessions(cfg.SessionTTL, cfg.Now), mux: http.NewServeMux()}
	c.routes()
	return c, nil
}

// handlerFunc is an API handler of a signed-in session.
type handlerFunc func(w http.ResponseWriter, r *http.Request, sess *session)

func (c *Console) routes() {
	static, _ := fs.Sub(staticFiles, "static") // the embedded tree always has it
	files := http.FileServer(http.FS(static))
	c.mux.Handle("GET /", files)

	c.mux.HandleFunc("POST /api/login", c.login)
	c.mux.HandleFunc("POST /api/logout", c.auth(c.logout))
	c.mux.HandleFunc("GET /api/session", c.auth(c.sessionInfo))

	c.mux.HandleFunc("GET /api/buckets", c.auth(c.listBuckets))
	c.mux.HandleFunc("POST /api/buckets", c.auth(c.createBucket))
	c.mux.HandleFunc("DELETE /api/buckets/{bucket}", c.auth(c.deleteBucket))
	c.mux.HandleFunc("GET /api/buckets/{bucket}/settings", c.auth(c.bucketSettings))
	c.mux.HandleFunc("PUT /api/buckets/{bucket}/versioning", c.auth(c.putVersioning))
	c.mux.HandleFunc("PUT /api/buckets/{bucket}/policy", c.auth(c.putPolicy))
	c.mux.HandleFunc("DELETE /api/buckets/{bucket}/policy", c.auth(c.deletePolicy))
	c.mux.HandleFunc("GET /api/buckets/{bucket}/objects", c.auth(c.listObjects))
	c.mux.HandleFunc("GET /api/buckets/{bucket}/versions", c.auth(c.listVersions))
	c.mux.HandleFunc("PUT /api/buckets/{bucket}/object", c.auth(c.putObject))
	c.mux.HandleFunc("GET /api/buckets/{bucket}/object", c.auth(c.getObject))
	c.mux.HandleFunc("DELETE /api/buckets/{bucket}/object", c.auth(c.deleteObject))
	c.mux.HandleFunc("POST /api/buckets/{bucket}/presign", c.auth(c.presignObject))

	c.mux.HandleFunc("GET /api/cluster", c.auth(c.root(c.clusterOverview)))
	c.mux.HandleFunc("GET /api/users", c.auth(c.root(c.listUsers)))
	c.mux.HandleFunc("POST /api/users", c.auth(c.root(c.createUser)))
	c.mux.HandleFunc("DELETE /api/users/{accessKey}", c.auth(c.root(c.deleteUser)))
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Cache-Control", "no-store")
	}
	if !safeMethod(r.Method) && !sameOrigin(r) {
		// Covers the sign-in too, which has no session (and so no CSRF
		// token) yet: another site cannot sign a browser in.
		writeError(w, http.StatusForbidden, "CrossOrigin", "requests from another origin are refused")
		return
	}
	c.mux.ServeHTTP(w, r)
}

// sameOrigin reports whether a request's Origin, when the browser sent
// one, names the console itself.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// auth admits a request of a live session; state-changing methods must
// also carry the session's CSRF token.
func (c *Console) auth(next handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := c.sessions.fromRequest(r)
		if sess == nil {
			writeError(w, http.StatusUnauthorized, "NotSignedIn", "sign in first (or the session expired)")
			return
		}
		if !safeMethod(r.Method) && !csrfOK(r, sess) {
			writeError(w, http.StatusForbidden, "BadCSRFToken", "missing or wrong "+csrfHeader+" header")
			return
		}
		next(w, r, sess)
	}
}

// root admits the root identity only.
func (c *Console) root(next handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, sess *session) {
		if !sess.root {
			writeError(w, http.StatusForbidden, "AccessDenied", "only the root identity may see this")
			return
		}
		if c.cfg.Cluster == nil {
			writeError(w, http.StatusNotImplemented, "NotConfigured", "this console has no connection to the meta group")
			return
		}
		next(w, r, sess)
	}
}

// maxLoginBody bounds the sign-in form.
const maxLoginBody = 4 << 10

type loginRequest struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

type sessionResponse struct {
	AccessKey string `json:"accessKey"`
	Root      bool   `json:"root"`
	CSRF      string `json:"csrfToken"`
	Expires   string `json:"expires"`
	Presign   bool   `json:"presign"`
}

// login checks the credentials by signing an S3 ListBuckets with them: the
// gateway, not the console, decides whether they are valid.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	var in loginRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "MalformedRequest", "want JSON {accessKey, secretKey}")
		return
	}
	if in.AccessKey == "" || in.SecretKey == "" {
		writeError(w, http.StatusUnauthorized, "InvalidCredentials", "access key and secret key are required")
		return
	}
	probe := &session{accessKey: in.AccessKey, secretKey: in.SecretKey}
	if _, _, err := c.call(r, probe, s3Request{method: http.MethodGet, size: -1}); err != nil {
		var se *s3Error
		if errors.As(err, &se) && (se.Status == http.StatusForbidden || se.Status == http.StatusUnauthorized) {
			writeError(w, http.StatusUnauthorized, "InvalidCredentials", "the access key or secret key is wrong")
			return
		}
		c.cfg.Logger.Warn("console sign-in check failed", "access_key", in.AccessKey, "err", err)
		writeError(w, http.StatusServiceUnavailable, "Unavailable", "cannot check the credentials now: "+err.Error())
		return
	}
	sess := c.sessions.create(in.AccessKey, in.SecretKey, in.AccessKey == c.cfg.RootAccessKey)
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    sess.token,
		Path:     "/",
		Expires:  sess.expires,
		HttpOnly: true,
		Secure:   c.cfg.SecureCookie || r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	c.cfg.Logger.Info("console sign-in", "access_key", in.AccessKey, "root", sess.root, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, c.sessionResponse(sess))
}

func (c *Console) sessionResponse(sess *session) sessionResponse {
	return sessionResponse{AccessKey: sess.accessKey, Root: sess.root, CSRF: sess.csrf,
		Expires: sess.expires.UTC().Format(time.RFC3339), Presign: c.cfg.S3URL != ""}
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, sess *session) {
	c.sessions.remove(sess.token)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) sessionInfo(w http.ResponseWriter, r *http.Request, sess *session) {
	writeJSON(w, http.StatusOK, c.sessionResponse(sess))
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Code: code, Message: msg})
}

// writeFailure answers err: an S3 error keeps its status and code, so the
// page shows what the gateway decided (AccessDenied, NoSuchBucket, ...).
func (c *Console) writeFailure(w http.ResponseWriter, err error) {
	var se *s3Error
	if errors.As(err, &se) {
		writeError(w, se.Status, se.Code, se.Message)
		return
	}
	c.cfg.Logger.Warn("console call failed", "err", err)
	writeError(w, http.StatusBadGateway, "InternalError", err.Error())
}
