package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/protocol"
)

func TestSignupLoginLogout(t *testing.T) {
	c := servertest.NewCluster(t)
	s1 := c.Start(t, "s1")
	s2 := c.Start(t, "s2")

	r := s1.Do(t, "POST", "/api/v1/auth/signup", "", map[string]string{"username": "Alice.B-c_9", "password": "hunter2hunter2"})
	if r.Status != 201 {
		t.Fatalf("signup: %d %s", r.Status, r.Raw)
	}
	var sess struct {
		User  protocol.User
		Token string
	}
	r.Decode(t, &sess)
	if sess.User.Username != "alice.b-c_9" || sess.User.ID == "" || len(sess.Token) < 43 {
		t.Fatalf("signup answer: %s", r.Raw)
	}
	if r := s1.Do(t, "POST", "/api/v1/auth/signup", "", map[string]string{"username": "ALICE.b-c_9", "password": "whatever123"}); r.Status != 409 || r.Code() != "conflict" {
		t.Fatalf("duplicate signup (case-insensitive): %d %s", r.Status, r.Raw)
	}
	// Login works on the other server, case-insensitively.
	r = s2.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "ALICE.B-C_9", "password": "hunter2hunter2"})
	if r.Status != 200 {
		t.Fatalf("login: %d %s", r.Status, r.Raw)
	}
	var login struct {
		User  protocol.User
		Token string
	}
	r.Decode(t, &login)
	if login.User != sess.User || login.Token == sess.Token {
		t.Fatalf("login answer: %s", r.Raw)
	}
	// Wrong password and unknown user get the same answer.
	wrong := s1.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "alice.b-c_9", "password": "nope-nope-nope"})
	unknown := s1.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "nobody", "password": "nope-nope-nope"})
	if wrong.Status != 401 || unknown.Status != 401 || string(wrong.Raw) != string(unknown.Raw) {
		t.Fatalf("wrong password %d %s vs unknown user %d %s", wrong.Status, wrong.Raw, unknown.Status, unknown.Raw)
	}
	// me on both servers.
	for _, s := range []*servertest.Server{s1, s2} {
		if r := s.Do(t, "GET", "/api/v1/me", sess.Token, nil); r.Status != 200 || !strings.Contains(string(r.Raw), sess.User.ID) {
			t.Fatalf("me: %d %s", r.Status, r.Raw)
		}
	}
	// Logout on one server: the token stops working on every server; the
	// other session's token keeps working.
	if r := s2.Do(t, "POST", "/api/v1/auth/logout", sess.Token, nil); r.Status != 204 {
		t.Fatalf("logout: %d %s", r.Status, r.Raw)
	}
	for _, s := range []*servertest.Server{s1, s2} {
		if r := s.Do(t, "GET", "/api/v1/me", sess.Token, nil); r.Status != 401 || r.Code() != "unauthorized" {
			t.Fatalf("me after logout: %d %s", r.Status, r.Raw)
		}
	}
	if r := s1.Do(t, "GET", "/api/v1/me", login.Token, nil); r.Status != 200 {
		t.Fatalf("other session after logout: %d %s", r.Status, r.Raw)
	}
}

func TestValidation(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1", "MAX_BODY_BYTES", "4096")
	_, tok := s.Signup(t, "validator")
	s.Signup(t, "other")
	long := strings.Repeat("a", 33)
	cases := []struct {
		name, method, path string
		token              bool
		body               any
		status             int
		code               string
	}{
		{"username too short", "POST", "/api/v1/auth/signup", false, map[string]string{"username": "ab", "password": "12345678"}, 400, "bad_request"},
		{"username too long", "POST", "/api/v1/auth/signup", false, map[string]string{"username": long, "password": "12345678"}, 400, "bad_request"},
		{"username 32 ok", "POST", "/api/v1/auth/signup", false, map[string]string{"username": long[:32], "password": "12345678"}, 201, ""},
		{"username bad char", "POST", "/api/v1/auth/signup", false, map[string]string{"username": "bob!", "password": "12345678"}, 400, "bad_request"},
		{"username space", "POST", "/api/v1/auth/signup", false, map[string]string{"username": "bo b", "password": "12345678"}, 400, "bad_request"},
		{"username unicode", "POST", "/api/v1/auth/signup", false, map[string]string{"username": "bøb", "password": "12345678"}, 400, "bad_request"},
		{"password too short", "POST", "/api/v1/auth/signup", false, map[string]string{"username": "carol", "password": "1234567"}, 400, "bad_request"},
		{"password too long", "POST", "/api/v1/auth/signup", false, map[string]string{"username": "carol", "password": strings.Repeat("x", 257)}, 400, "bad_request"},
		{"password 256 ok", "POST", "/api/v1/auth/signup", false, map[string]string{"username": "carol", "password": strings.Repeat("x", 256)}, 201, ""},
		{"malformed json", "POST", "/api/v1/auth/signup", false, `{"username":`, 400, "bad_request"},
		{"wrong type", "POST", "/api/v1/auth/signup", false, `{"username": 5, "password": "12345678"}`, 400, "bad_request"},
		{"empty body", "POST", "/api/v1/auth/login", false, ``, 400, "bad_request"},
		{"body too large", "POST", "/api/v1/auth/signup", false, `{"username":"` + strings.Repeat("x", 5000) + `"}`, 413, "too_large"},
		{"room name empty", "POST", "/api/v1/rooms", true, map[string]string{"name": "  ", "visibility": "public"}, 400, "bad_request"},
		{"room name 65", "POST", "/api/v1/rooms", true, map[string]string{"name": strings.Repeat("é", 65), "visibility": "public"}, 400, "bad_request"},
		{"room name 64", "POST", "/api/v1/rooms", true, map[string]string{"name": strings.Repeat("é", 64), "visibility": "public"}, 201, ""},
		{"room name control", "POST", "/api/v1/rooms", true, map[string]string{"name": "a\u0007b", "visibility": "public"}, 400, "bad_request"},
		{"room name newline", "POST", "/api/v1/rooms", true, map[string]string{"name": "a\nb", "visibility": "public"}, 400, "bad_request"},
		{"visibility unknown", "POST", "/api/v1/rooms", true, map[string]string{"name": "x", "visibility": "secret"}, 400, "bad_request"},
		{"visibility direct", "POST", "/api/v1/rooms", true, map[string]string{"name": "x", "visibility": "direct"}, 400, "bad_request"},
		{"dm bad username", "POST", "/api/v1/dm", true, map[string]string{"username": "!"}, 400, "bad_request"},
		{"dm unknown user", "POST", "/api/v1/dm", true, map[string]string{"username": "ghost"}, 404, "not_found"},
		{"dm self", "POST", "/api/v1/dm", true, map[string]string{"username": "validator"}, 400, "bad_request"},
		{"history bad limit", "GET", "/api/v1/rooms/00000000-0000-0000-0000-000000000000/messages?limit=201", true, nil, 400, "bad_request"},
		{"history negative", "GET", "/api/v1/rooms/00000000-0000-0000-0000-000000000000/messages?before_seq=-1", true, nil, 400, "bad_request"},
		{"users q too long", "GET", "/api/v1/users?q=" + long, true, nil, 400, "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token := ""
			if tc.token {
				token = tok
			}
			r := s.Do(t, tc.method, tc.path, token, tc.body)
			if r.Status != tc.status || r.Code() != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", r.Status, r.Code(), tc.status, tc.code, r.Raw)
			}
			if tc.code != "" {
				if msg, _ := r.Body["error"].(map[string]any)["message"].(string); msg == "" {
					t.Fatalf("error without a message: %s", r.Raw)
				}
			}
		})
	}
}

func TestLoginRateLimit(t *testing.T) {
	c := servertest.NewCluster(t)
	s1 := c.Start(t, "s1", "LOGIN_LIMIT_PER_USER", "3")
	s2 := c.Start(t, "s2", "LOGIN_LIMIT_PER_USER", "3")
	s1.Signup(t, "target")
	bad := map[string]string{"username": "target", "password": "wrong-password"}
	// The limit is cluster-wide: attempts on either server count.
	for i, s := range []*servertest.Server{s1, s2, s1} {
		if r := s.Do(t, "POST", "/api/v1/auth/login", "", bad); r.Status != 401 {
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Raw)
		}
	}
	r := s2.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "target", "password": "password-target"})
	if r.Status != http.StatusTooManyRequests || r.Code() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %s (Retry-After %q)", r.Status, r.Raw, r.Header.Get("Retry-After"))
	}
	// Another user is not affected.
	s1.Signup(t, "bystander")
	if r := s1.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "bystander", "password": "password-bystander"}); r.Status != 200 {
		t.Fatalf("other user: %d %s", r.Status, r.Raw)
	}
}

func TestDirectRoomIsUniqueUnderConcurrency(t *testing.T) {
	c := servertest.NewCluster(t)
	s1 := c.Start(t, "s1")
	s2 := c.Start(t, "s2")
	_, aTok := s1.Signup(t, "anna")
	_, bTok := s1.Signup(t, "boris")
	const n = 20
	ids := make([]string, 2*n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		for j, call := range []struct {
			s    *servertest.Server
			tok  string
			peer string
		}{{s1, aTok, "boris"}, {s2, bTok, "anna"}} {
			wg.Add(1)
			go func(slot int) {
				defer wg.Done()
				r := call.s.Do(t, "POST", "/api/v1/dm", call.tok, map[string]string{"username": call.peer})
				var out struct{ Room protocol.Room }
				if r.Status == 200 {
					r.Decode(t, &out)
				} else {
					t.Errorf("dm: %d %s", r.Status, r.Raw)
				}
				ids[slot] = out.Room.ID
			}(2*i + j)
		}
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("direct rooms differ: %v", ids)
		}
	}
	r := s1.Do(t, "GET", "/api/v1/rooms", aTok, nil)
	var list struct{ Rooms []protocol.Room }
	r.Decode(t, &list)
	if len(list.Rooms) != 1 || list.Rooms[0].Visibility != protocol.Direct || len(list.Rooms[0].Members) != 2 {
		t.Fatalf("anna's rooms: %s", r.Raw)
	}
}

func TestRoomsFlow(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1")
	_, aTok := s.Signup(t, "amy")
	_, bTok := s.Signup(t, "ben")
	pub := s.CreateRoom(t, aTok, "Go Lovers", protocol.Public)
	priv := s.CreateRoom(t, aTok, "secret plans", protocol.Private)
	if pub.Visibility != protocol.Public || priv.Visibility != protocol.Private || len(priv.Members) != 1 {
		t.Fatalf("created: %+v %+v", pub, priv)
	}
	// Discover by case-insensitive substring; private rooms never show.
	r := s.Do(t, "GET", "/api/v1/rooms/public?q=LOVER", bTok, nil)
	if !strings.Contains(string(r.Raw), pub.ID) || strings.Contains(string(r.Raw), priv.ID) {
		t.Fatalf("public search: %s", r.Raw)
	}
	if r := s.Do(t, "POST", "/api/v1/rooms/"+pub.ID+"/join", bTok, nil); r.Status != 200 {
		t.Fatalf("join: %d %s", r.Status, r.Raw)
	}
	if r := s.Do(t, "POST", "/api/v1/rooms/"+priv.ID+"/members", aTok, map[string]string{"username": "BEN"}); r.Status != 200 || !strings.Contains(string(r.Raw), `"ben"`) {
		t.Fatalf("add member: %d %s", r.Status, r.Raw)
	}
	if r := s.Do(t, "POST", "/api/v1/rooms/"+priv.ID+"/members", aTok, map[string]string{"username": "nobody"}); r.Status != 404 {
		t.Fatalf("add unknown member: %d %s", r.Status, r.Raw)
	}
	r = s.Do(t, "GET", "/api/v1/rooms", bTok, nil)
	var list struct{ Rooms []protocol.Room }
	r.Decode(t, &list)
	if len(list.Rooms) != 2 {
		t.Fatalf("ben's rooms: %s", r.Raw)
	}
	if r := s.Do(t, "POST", "/api/v1/rooms/"+priv.ID+"/leave", bTok, nil); r.Status != 204 {
		t.Fatalf("leave: %d %s", r.Status, r.Raw)
	}
	// Having left a private room, it no longer exists for ben.
	if r := s.Do(t, "POST", "/api/v1/rooms/"+priv.ID+"/members", bTok, map[string]string{"username": "ben"}); r.Status != 404 {
		t.Fatalf("add after leave: %d %s", r.Status, r.Raw)
	}
	r = s.Do(t, "GET", "/api/v1/users?q=b", aTok, nil)
	if !strings.Contains(string(r.Raw), `"ben"`) || strings.Contains(string(r.Raw), `"amy"`) {
		t.Fatalf("user search: %s", r.Raw)
	}
	// LIKE wildcards in the query are literal.
	if r := s.Do(t, "GET", "/api/v1/users?q=_", aTok, nil); strings.Contains(string(r.Raw), `"ben"`) {
		t.Fatalf("wildcard search matched: %s", r.Raw)
	}
}
