package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/auth"
	"github.com/rookery-chat/rookery/packages/protocol"
)

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type session struct {
	User  protocol.User `json:"user"`
	Token string        `json:"token"`
}

func (a *API) issueToken(ctx context.Context, u protocol.User) (string, error) {
	tok, hash, err := auth.NewToken()
	if err != nil {
		return "", err
	}
	return tok, a.store.CreateToken(ctx, hash, u.ID, time.Now().Add(a.cfg.TokenTTL))
}

func (a *API) signup(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := a.decode(w, r, &c); err != nil {
		a.writeError(w, r, err)
		return
	}
	name, err := protocol.NormalizeUsername(c.Username)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := protocol.ValidatePassword(c.Password); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.limiter.Allow(r.Context(), "signup:addr:"+a.clientAddr(r), a.cfg.SignupPerAddr); err != nil {
		a.writeError(w, r, err)
		return
	}
	hash, err := auth.HashPassword(c.Password)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	u, err := a.store.CreateUser(r.Context(), name, hash)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	tok, err := a.issueToken(r.Context(), u)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, session{User: u, Token: tok})
}

var errBadLogin = protocol.Errorf(protocol.CodeUnauthorized, "wrong username or password")

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := a.decode(w, r, &c); err != nil {
		a.writeError(w, r, err)
		return
	}
	if c.Username == "" || c.Password == "" {
		a.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "username and password are required"))
		return
	}
	// A name that cannot exist still counts against the limits and costs a
	// hash, so that the answer tells nothing.
	name := strings.ToLower(c.Username)
	if len(name) > protocol.UsernameMax {
		name = name[:protocol.UsernameMax]
	}
	if err := a.limiter.Allow(r.Context(), "login:addr:"+a.clientAddr(r), a.cfg.LoginPerAddr); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.limiter.Allow(r.Context(), "login:user:"+name, a.cfg.LoginPerUser); err != nil {
		a.writeError(w, r, err)
		return
	}
	u, hash, err := a.store.Credentials(r.Context(), name)
	if protocol.ErrorCode(err) == protocol.CodeNotFound {
		auth.BurnVerify(c.Password)
		a.writeError(w, r, errBadLogin)
		return
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	ok, err := auth.VerifyPassword(hash, c.Password)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if !ok {
		a.writeError(w, r, errBadLogin)
		return
	}
	tok, err := a.issueToken(r.Context(), u)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, session{User: u, Token: tok})
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	hash, _ := r.Context().Value(tokenHashKey).([]byte)
	if err := a.store.DeleteToken(r.Context(), hash); err != nil {
		a.writeError(w, r, err)
		return
	}
	if a.events != nil {
		a.events.TokenRevoked(r.Context(), UserFrom(r.Context()).ID, hash)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"user": UserFrom(r.Context())})
}

func (a *API) searchUsers(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	if len(q) > protocol.UsernameMax {
		a.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "q must be at most %d characters", protocol.UsernameMax))
		return
	}
	users, err := a.store.SearchUsers(r.Context(), q, protocol.UserSearchMax)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
}
