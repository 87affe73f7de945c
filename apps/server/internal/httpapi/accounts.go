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

func (a *API) signup(w http.ResponseWriter, r *http.Request) error {
	var c credentials
	if err := a.decode(w, r, &c); err != nil {
		return err
	}
	name, err := protocol.NormalizeUsername(c.Username)
	if err != nil {
		return err
	}
	if err := protocol.ValidatePassword(c.Password); err != nil {
		return err
	}
	if err := a.limiter.Allow(r.Context(), "signup:addr:"+a.clientAddr(r), a.cfg.SignupPerAddr); err != nil {
		return err
	}
	hash, err := auth.HashPassword(c.Password)
	if err != nil {
		return err
	}
	u, err := a.store.CreateUser(r.Context(), name, hash)
	if err != nil {
		return err
	}
	tok, err := a.issueToken(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, session{User: u, Token: tok})
	return nil
}

var errBadLogin = protocol.Errorf(protocol.CodeUnauthorized, "wrong username or password")

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var c credentials
	if err := a.decode(w, r, &c); err != nil {
		return err
	}
	if c.Username == "" || c.Password == "" {
		return protocol.Errorf(protocol.CodeBadRequest, "username and password are required")
	}
	// A name that cannot exist still counts against the limits and costs a
	// hash, so that the answer tells nothing.
	name := strings.ToLower(c.Username)
	if len(name) > protocol.UsernameMax {
		name = name[:protocol.UsernameMax]
	}
	if err := a.limiter.Allow(r.Context(), "login:addr:"+a.clientAddr(r), a.cfg.LoginPerAddr); err != nil {
		return err
	}
	if err := a.limiter.Allow(r.Context(), "login:user:"+name, a.cfg.LoginPerUser); err != nil {
		return err
	}
	u, hash, err := a.store.Credentials(r.Context(), name)
	if protocol.ErrorCode(err) == protocol.CodeNotFound {
		auth.BurnVerify(c.Password)
		return errBadLogin
	}
	if err != nil {
		return err
	}
	if hash == auth.NoPassword { // a bot, or a user of the identity provider
		auth.BurnVerify(c.Password)
		return errBadLogin
	}
	ok, err := auth.VerifyPassword(hash, c.Password)
	if err != nil {
		return err
	}
	if !ok {
		return errBadLogin
	}
	tok, err := a.issueToken(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, session{User: u, Token: tok})
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	hash, _ := r.Context().Value(tokenHashKey).([]byte)
	if err := a.store.DeleteToken(r.Context(), hash); err != nil {
		return err
	}
	if a.events != nil {
		a.events.TokenRevoked(r.Context(), UserFrom(r.Context()).ID, hash)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) me(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"user": UserFrom(r.Context())})
	return nil
}

func (a *API) searchUsers(w http.ResponseWriter, r *http.Request) error {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	if len(q) > protocol.UsernameMax {
		return protocol.Errorf(protocol.CodeBadRequest, "q must be at most %d characters", protocol.UsernameMax)
	}
	users, err := a.store.SearchUsers(r.Context(), q, protocol.UserSearchMax)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
	return nil
}
