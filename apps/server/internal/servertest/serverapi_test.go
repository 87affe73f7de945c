package servertest_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/rookery-chat/rookery/apps/server/internal/admincmd"
	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// apiKey makes a server API key with the admin command and returns it.
func apiKey(t *testing.T, c *servertest.Cluster, scopes string) (key, id string) {
	t.Helper()
	var out bytes.Buffer
	if err := admincmd.Run(testenv.Ctx(t), c.Vars["DATABASE_URL"], []string{"create", "-name", "test " + scopes, "-scopes", scopes}, &out); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "key:" {
			key = f[1]
		}
		if len(f) == 2 && f[0] == "id:" {
			id = f[1]
		}
	}
	if !strings.HasPrefix(key, "rk_") || id == "" {
		t.Fatalf("apikey create printed %q", out.String())
	}
	return key, id
}

// TestServerAPI: an external program with an API key makes a bot, creates
// a room and manages its members, publishes as the bot through the
// durable path (idempotent by ref, rate limited per bot) and looks up
// presence; keys are checked for their scopes and revocation.
func TestServerAPI(t *testing.T) {
	c := servertest.NewCluster(t)
	s1 := c.Start(t, "s1", "BOT_SEND_RATE", "3")
	s2 := c.Start(t, "s2", "BOT_SEND_RATE", "3")
	key, keyID := apiKey(t, c, "publish,rooms,users")
	usersOnly, _ := apiKey(t, c, "users")
	alice, aliceTok := s1.Signup(t, "alice")
	s1.Signup(t, "bob")

	// Keys: missing, a session token, a scope the key lacks.
	for what, tok := range map[string]string{"no key": "", "session token": aliceTok, "made-up key": "rk_nope"} {
		if r := s1.Do(t, "POST", "/api/v1/server/bots", tok, map[string]string{"username": "helper"}); r.Status != 401 {
			t.Errorf("%s: %d %s", what, r.Status, r.Raw)
		}
	}
	if r := s1.Do(t, "POST", "/api/v1/server/rooms", usersOnly, map[string]any{"name": "x", "visibility": "public", "owner": "alice"}); r.Status != 403 {
		t.Errorf("key without the rooms scope: %d %s", r.Status, r.Raw)
	}

	// Bots: made once; a person's name is taken.
	var bot struct{ User protocol.User }
	r := s1.Do(t, "POST", "/api/v1/server/bots", usersOnly, map[string]string{"username": "Helper"})
	if r.Status != 201 {
		t.Fatalf("create bot: %d %s", r.Status, r.Raw)
	}
	r.Decode(t, &bot)
	if !bot.User.Bot || bot.User.Username != "helper" || !strings.Contains(string(r.Raw), `"bot":true`) {
		t.Fatalf("bot: %s", r.Raw)
	}
	if r := s2.Do(t, "POST", "/api/v1/server/bots", key, map[string]string{"username": "helper"}); r.Status != 200 {
		t.Errorf("bot again: %d %s", r.Status, r.Raw)
	}
	if r := s1.Do(t, "POST", "/api/v1/server/bots", key, map[string]string{"username": "alice"}); r.Status != 409 {
		t.Errorf("bot named like a person: %d %s", r.Status, r.Raw)
	}
	if r := s1.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "helper", "password": "whatever-it-is"}); r.Status != 401 {
		t.Errorf("bot password login: %d %s", r.Status, r.Raw)
	}

	// A room owned by the bot, with alice added.
	var made struct{ Room protocol.Room }
	r = s1.Do(t, "POST", "/api/v1/server/rooms", key, map[string]any{"name": "alerts", "visibility": "private", "owner": "helper"})
	if r.Status != 201 {
		t.Fatalf("create room: %d %s", r.Status, r.Raw)
	}
	r.Decode(t, &made)
	room := made.Room.ID
	if r := s2.Do(t, "POST", "/api/v1/server/rooms/"+room+"/members", key, map[string]string{"username": "alice"}); r.Status != 200 {
		t.Fatalf("add alice: %d %s", r.Status, r.Raw)
	}
	for _, bad := range []map[string]any{{"name": "", "visibility": "public", "owner": "helper"},
		{"name": "x", "visibility": "direct", "owner": "helper"}, {"name": "x", "visibility": "public", "owner": "nobody"}} {
		if r := s1.Do(t, "POST", "/api/v1/server/rooms", key, bad); r.Status != 400 {
			t.Errorf("create room %v: %d %s", bad, r.Status, r.Raw)
		}
	}

	a := s2.Dial(t, aliceTok)
	a.Subscribe(room, nil)
	pub := func(s *servertest.Server, ref, body string) servertest.Response {
		return s.Do(t, "POST", "/api/v1/server/rooms/"+room+"/messages", key, map[string]string{"as": "helper", "ref": ref, "body": body})
	}
	var ack struct{ Ack protocol.Ack }
	r = pub(s1, "deploy-1", "deploy finished @alice")
	if r.Status != 200 {
		t.Fatalf("publish: %d %s", r.Status, r.Raw)
	}
	r.Decode(t, &ack)
	var msg protocol.Message
	a.NextOf("message").Decode(t, &msg)
	if msg.Seq != ack.Ack.Seq || msg.Sender != bot.User || len(msg.Mentions) != 1 || msg.Mentions[0].ID != alice.ID {
		t.Fatalf("alice got %+v for ack %+v", msg, ack.Ack)
	}
	var again struct{ Ack protocol.Ack }
	pub(s2, "deploy-1", "deploy finished @alice").Decode(t, &again)
	if again.Ack != ack.Ack {
		t.Fatalf("retried ref: %+v, first %+v", again.Ack, ack.Ack)
	}
	for what, body := range map[string]map[string]string{
		"no ref":     {"as": "helper", "body": "x"},
		"no body":    {"as": "helper", "ref": "r1"},
		"a person":   {"as": "alice", "ref": "r1", "body": "x"},
		"no such":    {"as": "ghost", "ref": "r1", "body": "x"},
		"bad answer": {"as": "helper", "ref": "r1", "body": "x", "reply_to": "nope"},
	} {
		if r := s1.Do(t, "POST", "/api/v1/server/rooms/"+room+"/messages", key, body); r.Status != 400 {
			t.Errorf("publish with %s: %d %s", what, r.Status, r.Raw)
		}
	}
	if r := s1.Do(t, "POST", "/api/v1/server/rooms/0190a5e2-0000-7000-8000-000000000000/messages", key,
		map[string]string{"as": "helper", "ref": "r1", "body": "x"}); r.Status != 404 {
		t.Errorf("publish to no room: %d %s", r.Status, r.Raw)
	}
	// History shows the bot as a bot.
	if r := s1.Do(t, "GET", "/api/v1/rooms/"+room+"/messages", aliceTok, nil); !strings.Contains(string(r.Raw), `"bot":true`) {
		t.Errorf("history: %s", r.Raw)
	}

	// The bot's own limit (3 a second here, across both servers).
	limited := false
	for i := 0; i < 40 && !limited; i++ {
		r := pub([]*servertest.Server{s1, s2}[i%2], "burst-"+itoa(i), "tick")
		if r.Status == 429 && r.Header.Get("Retry-After") != "" {
			limited = true
		} else if r.Status != 200 {
			t.Fatalf("burst %d: %d %s", i, r.Status, r.Raw)
		}
	}
	if !limited {
		t.Error("40 publishes in a row were never rate limited at 3 a second")
	}

	// Presence.
	var p struct {
		User   protocol.User
		Online bool
	}
	s1.Do(t, "GET", "/api/v1/server/users/Alice", usersOnly, nil).Decode(t, &p)
	if p.User.ID != alice.ID || !p.Online {
		t.Errorf("alice's presence: %+v", p)
	}
	s1.Do(t, "GET", "/api/v1/server/users/bob", usersOnly, nil).Decode(t, &p)
	if p.Online {
		t.Errorf("bob's presence: %+v", p)
	}
	if r := s1.Do(t, "GET", "/api/v1/server/users/ghost", usersOnly, nil); r.Status != 404 {
		t.Errorf("presence of nobody: %d", r.Status)
	}

	// Removal ends alice's subscription; the owner stays.
	if r := s1.Do(t, "DELETE", "/api/v1/server/rooms/"+room+"/members/helper", key, nil); r.Status != 403 {
		t.Errorf("remove the owner: %d %s", r.Status, r.Raw)
	}
	if r := s1.Do(t, "DELETE", "/api/v1/server/rooms/"+room+"/members/alice", key, nil); r.Status != http.StatusNoContent {
		t.Fatalf("remove alice: %d %s", r.Status, r.Raw)
	}
	if f := a.NextOf("error"); f.Str("room") != room || f.Str("code") != "forbidden" {
		t.Errorf("alice after removal: %s", f.Raw)
	}

	// A revoked key stops working.
	var out bytes.Buffer
	if err := admincmd.Run(testenv.Ctx(t), c.Vars["DATABASE_URL"], []string{"revoke", keyID}, &out); err != nil {
		t.Fatal(err)
	}
	if r := pub(s1, "after-revoke", "x"); r.Status != 401 {
		t.Errorf("revoked key: %d %s", r.Status, r.Raw)
	}
	out.Reset()
	if err := admincmd.Run(testenv.Ctx(t), c.Vars["DATABASE_URL"], []string{"list"}, &out); err != nil || !strings.Contains(out.String(), keyID) {
		t.Errorf("list: %v %q", err, out.String())
	}
	if err := admincmd.Run(testenv.Ctx(t), c.Vars["DATABASE_URL"], []string{"create", "-name", "x", "-scopes", "admin"}, &out); err == nil {
		t.Error("a key with an unknown scope was made")
	}
}
