package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// jwtSecret is the test identity provider's HS256 key.
const jwtSecret = "the-embedding-products-shared-secret-0123456789"

// hs256 mints a JWT as an identity provider would (the server's own
// tests cover RS256, ES256 and every refusal).
func hs256(claims map[string]any) string {
	b64 := base64.RawURLEncoding
	head, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	body, _ := json.Marshal(claims)
	signing := b64.EncodeToString(head) + "." + b64.EncodeToString(body)
	mac := hmac.New(sha256.New, []byte(jwtSecret))
	mac.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(mac.Sum(nil))
}

// TestWebClientEmbedding: a user of an embedding product, signed in with
// its JWT (handed to the web client in the page's fragment), chats with a
// Rookery-account user; a bot of the server API posts into their room
// and shows with its badge.
func TestWebClientEmbedding(t *testing.T) {
	c := startCluster(t, "JWT_HS256_SECRET="+jwtSecret, "JWT_ISSUER=https://idp.test")
	alice := newUser(t, "alice")
	carol := newUser(t, "carol")
	alice.signup(c.web.URL, 1)
	alice.createRoom("embedded")

	tok := hs256(map[string]any{"iss": "https://idp.test", "sub": "crm-user-77", "preferred_username": "carol",
		"exp": time.Now().Add(time.Hour).Unix()})
	carol.run("open with a token", chromedp.Navigate(c.web.URL+"/?server=2#token="+tok), chromedp.WaitVisible("#chat-view", chromedp.ByID))
	carol.until("connected", `document.querySelector('#status').className === 'status ok'`)
	carol.until("the token left the address bar", `location.hash === ''`)
	var me string
	carol.eval(`JSON.parse(localStorage.getItem('rookery.session')).user.username`, &me)
	if me != "carol" {
		t.Fatalf("the JWT user is %q", me)
	}
	carol.run("browse", chromedp.Click("#browse-btn", chromedp.ByID))
	carol.until("room listed", `!!document.querySelector('button[aria-label="Join embedded"]')`)
	carol.run("join", chromedp.Click(`button[aria-label="Join embedded"]`, chromedp.ByQuery))
	carol.until("room open", `document.querySelector('#room-title')?.textContent === 'embedded' && !document.querySelector('#dialog').open`)
	carol.say("hello from the product")
	alice.sees("hello from the product")
	alice.say("welcome, carol")
	carol.sees("welcome, carol")

	// A bot, made and driven through the server API with a key from the
	// server binary's admin command.
	cmd := exec.Command(testenv.BuildApp(t, "server"), "apikey", "create", "-name", "e2e", "-scopes", "publish,users")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+c.dbURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("server apikey create: %v\n%s", err, out)
	}
	var key string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "key:" {
			key = f[1]
		}
	}
	api := func(path string, body any) {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", c.urls[0]+"/api/v1/server"+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	var room string
	alice.eval(`window.rookery.state.active`, &room)
	api("/bots", map[string]string{"username": "deploybot"})
	api("/rooms/"+room+"/messages", map[string]string{"as": "deploybot", "ref": "d1", "body": "deploy 42 finished"})
	for _, u := range []*user{alice, carol} {
		u.sees("deploy 42 finished")
		u.until("bot badge", fmt.Sprintf(`%s.closest('.group').querySelector('.bot-badge')?.textContent === 'BOT'`, msgJS("deploy 42 finished")))
		u.until("no badge on people", fmt.Sprintf(`!%s.closest('.group').querySelector('.bot-badge')`, msgJS("welcome, carol")))
	}
	carol.shot("embedding")

	// An expired token: the sign-in form says where to go, since the
	// product's users have no Rookery password.
	expired := hs256(map[string]any{"iss": "https://idp.test", "sub": "crm-user-77", "preferred_username": "carol",
		"exp": time.Now().Add(-time.Minute).Unix()})
	carol.run("open with an expired token", chromedp.Navigate(c.web.URL+"/?server=1#token="+expired), chromedp.WaitVisible("#auth-view", chromedp.ByID))
	carol.until("told where to sign in", `document.querySelector('#auth-error').textContent.includes('open the chat from it again')`)
	carol.shot("embedding-expired")
}
