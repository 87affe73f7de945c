package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/rookery-chat/rookery/packages/devenv"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// cluster runs two chat servers and a persister as processes on the test
// services, and this web app in-process.
type cluster struct {
	web     *httptest.Server
	servers []*devenv.Proc
	urls    []string // the servers' base URLs
	dbURL   string
}

// startCluster starts the cluster; serverEnv (KEY=value) is added to the
// servers' environment.
func startCluster(t *testing.T, serverEnv ...string) *cluster {
	t.Helper()
	brokers, topic := testenv.Kafka(t, 4)
	dbURL := testenv.DatabaseURL(t)
	prefix := testenv.RedisPrefix()
	var ports []int
	var urls []string
	for i := 0; i < 2; i++ {
		p, err := devenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, p)
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d", p))
	}
	c := &cluster{urls: urls, dbURL: dbURL}
	c.web = httptest.NewServer(newHandler(Config{ServerURLs: urls}))
	t.Cleanup(c.web.Close)
	bin := testenv.BuildApp(t, "server")
	for i, port := range ports {
		env := append([]string{"SERVER_ID=" + fmt.Sprintf("server-%d", i+1), fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port), "ADMIN_ADDR=127.0.0.1:0",
			"DATABASE_URL=" + dbURL, "REDIS_URL=" + testenv.RedisURL(t), "REDIS_MODE=" + testenv.RedisMode(), "REDIS_PREFIX=" + prefix,
			"KAFKA_BROKERS=" + brokers, "KAFKA_TOPIC=" + topic, "KAFKA_CREATE_TOPIC=false",
			"ALLOWED_ORIGINS=" + c.web.URL, "LOG_LEVEL=warn",
			"LOGIN_LIMIT_PER_ADDR=1000", "SIGNUP_LIMIT_PER_ADDR=1000"}, serverEnv...)
		c.servers = append(c.servers, testenv.StartApp(t, fmt.Sprintf("server-%d", i+1), bin, env...))
	}
	pport, _ := devenv.FreePort()
	testenv.StartApp(t, "persister", testenv.BuildApp(t, "persister"),
		"DATABASE_URL="+dbURL, "KAFKA_BROKERS="+brokers, "KAFKA_TOPIC="+topic, "KAFKA_GROUP="+topic,
		"KAFKA_DLQ_TOPIC="+topic+"-dlq", fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", pport), "LOG_LEVEL=warn")
	for _, u := range urls {
		waitOK(t, u+"/readyz")
	}
	return c
}

func waitOK(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by deadline
	}
	t.Fatalf("%s not ready", url)
}

// browser starts headless Chromium (Debian's package, installed by the test
// setup); the test fails, rather than skips, without it.
func browser(t *testing.T) context.Context {
	t.Helper()
	exec := os.Getenv("CHROMIUM")
	if exec == "" {
		exec = "/usr/bin/chromium"
	}
	if _, err := os.Stat(exec); err != nil {
		t.Fatalf("Chromium not found at %s (apt-get install chromium; `go tool task test` installs it when run as root)", exec)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exec), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1100, 750))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(alloc)
	t.Cleanup(cancel2)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// user is one person in a browser context of their own (own storage).
type user struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// newUser gives each person a browser process of their own (its own
// profile, storage and cookies).
func newUser(t *testing.T, name string) *user {
	return &user{t: t, name: name, ctx: browser(t)}
}

func (u *user) run(what string, actions ...chromedp.Action) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		u.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		u.t.Fatalf("%s: %s: %v", u.name, what, err)
	}
}

// until waits for a JavaScript condition to hold.
func (u *user) until(what, js string) {
	u.t.Helper()
	u.run(what, chromedp.Poll(js, nil, chromedp.WithPollingTimeout(25*time.Second)))
}

func (u *user) eval(js string, out any) {
	u.t.Helper()
	u.run("eval", chromedp.Evaluate(js, out))
}

// shot saves a screenshot under artifacts/ (git-ignored).
func (u *user) shot(name string) {
	var buf []byte
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&buf)); err != nil {
		return
	}
	dir := filepath.Join(testenv.RepoRoot(), "artifacts")
	_ = os.MkdirAll(dir, 0o755)
	_ = os.WriteFile(filepath.Join(dir, u.name+"-"+name+".png"), buf, 0o644)
}

func (u *user) signup(webURL string, server int) {
	u.run("sign up",
		chromedp.Navigate(fmt.Sprintf("%s/?server=%d", webURL, server)),
		chromedp.WaitVisible("#auth-username", chromedp.ByID),
		chromedp.SendKeys("#auth-username", u.name, chromedp.ByID),
		chromedp.SendKeys("#auth-password", "password-"+u.name, chromedp.ByID),
		chromedp.Click("#signup-btn", chromedp.ByID),
		chromedp.WaitVisible("#chat-view", chromedp.ByID),
	)
	u.until("connected", `document.querySelector('#status').className === 'status ok'`)
}

// bodyJS is a JavaScript function giving a message node's text, without
// its "(edited)" mark.
const bodyJS = `((p) => [...p.querySelector('.body').childNodes].filter(n => !(n.classList && n.classList.contains('edited'))).map(n => n.textContent).join(''))`

// msgJS finds the confirmed message node showing exactly text.
func msgJS(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#messages .msg[data-seq]')].find(p => %s(p) === %q)`, bodyJS, text)
}

func (u *user) say(text string) {
	u.run("send "+text, chromedp.SendKeys("#composer-input", text+kb.Enter, chromedp.ByID))
	// Confirmed: it carries a seq (pending messages do not).
	u.until("ack of "+text, "!!"+msgJS(text))
}

// count says how many confirmed messages show exactly text.
func (u *user) count(text string) int {
	var n int
	u.eval(fmt.Sprintf(`[...document.querySelectorAll('#messages .msg[data-seq]')].filter(p => %s(p) === %q).length`, bodyJS, text), &n)
	return n
}

func (u *user) sees(text string) {
	u.t.Helper()
	u.until("see "+text, "!!"+msgJS(text))
}

func (u *user) openRoom(name string) {
	u.until("room "+name+" listed", fmt.Sprintf(`[...document.querySelectorAll('.room-list li')].some(li => li.querySelector('.name').textContent === %q)`, name))
	u.eval(fmt.Sprintf(`[...document.querySelectorAll('.room-list li')].find(li => li.querySelector('.name').textContent === %q).click(), true`, name), nil)
	u.until("room "+name+" open", fmt.Sprintf(`document.querySelector('#room-title').textContent === %q`, name))
}

func TestWebClient(t *testing.T) {
	c := startCluster(t)
	alice := newUser(t, "alice")
	bob := newUser(t, "bob")
	alice.signup(c.web.URL, 1)
	bob.signup(c.web.URL, 2)
	var aliceServer, bobServer string
	alice.eval(`document.querySelector('#status').textContent`, &aliceServer)
	bob.eval(`document.querySelector('#status').textContent`, &bobServer)
	if !strings.Contains(aliceServer, "server-1") || !strings.Contains(bobServer, "server-2") {
		t.Fatalf("servers: alice %q, bob %q", aliceServer, bobServer)
	}

	// A public room across servers.
	alice.run("create room",
		chromedp.Click("#new-room-btn", chromedp.ByID),
		chromedp.WaitVisible("#dlg-room-name", chromedp.ByID),
		chromedp.SendKeys("#dlg-room-name", "lobby", chromedp.ByID),
		chromedp.Click("#dialog-ok", chromedp.ByID))
	alice.until("lobby open", `document.querySelector('#room-title').textContent === 'lobby' && !document.querySelector('#dialog').open`)
	bob.run("browse", chromedp.Click("#browse-btn", chromedp.ByID))
	bob.until("lobby listed", `!!document.querySelector('button[aria-label="Join lobby"]')`)
	bob.run("join", chromedp.Click(`button[aria-label="Join lobby"]`, chromedp.ByQuery))
	bob.until("lobby open", `document.querySelector('#room-title').textContent === 'lobby' && !document.querySelector('#dialog').open`)
	alice.say("hello from alice")
	bob.sees("hello from alice")
	bob.say("hi alice, bob here")
	alice.sees("hi alice, bob here")

	// Script in a message stays text.
	xss := `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`
	alice.say(xss)
	bob.sees(xss)
	var title string
	var imgs int
	bob.eval(`document.title`, &title)
	bob.eval(`document.querySelectorAll('#messages img, #messages script').length`, &imgs)
	if title == "pwned" || imgs != 0 {
		t.Fatalf("message became markup: title %q, %d elements", title, imgs)
	}
	alice.say("see https://example.com/page and javascript:alert(1)")
	var links []string
	bob.sees("see https://example.com/page and javascript:alert(1)")
	bob.eval(`[...document.querySelectorAll('#messages a')].map(a => a.href + ' ' + a.rel)`, &links)
	if len(links) != 1 || links[0] != "https://example.com/page noopener noreferrer nofollow" {
		t.Fatalf("links: %v", links)
	}

	// A direct message: bob learns of it without reloading.
	alice.run("new dm", chromedp.Click("#new-dm-btn", chromedp.ByID))
	alice.until("bob listed", `!!document.querySelector('button[aria-label="Message bob"]')`)
	alice.run("message bob", chromedp.Click(`button[aria-label="Message bob"]`, chromedp.ByQuery))
	// The room shows before the dialog has closed; the page is inert until it has.
	alice.until("dm open", `document.querySelector('#room-title').textContent === 'bob' && !document.querySelector('#dialog').open`)
	alice.say("psst, bob")
	bob.until("dm with unread badge", `[...document.querySelectorAll('#dm-list li')].some(li => li.textContent.includes('alice') && li.querySelector('.badge'))`)
	bob.openRoom("alice")
	bob.sees("psst, bob")
	bob.shot("dm")

	// Reload: the session survives and history shows.
	bob.run("reload", chromedp.Reload(), chromedp.WaitVisible("#chat-view", chromedp.ByID))
	bob.openRoom("lobby")
	bob.sees("hello from alice")
	bob.sees("hi alice, bob here")

	// Bob's server dies: his page reconnects to the other server and shows
	// what was sent meanwhile, once.
	c.servers[1].Signal(syscall.SIGKILL)
	<-c.servers[1].Done()
	alice.openRoom("lobby")
	for i := 1; i <= 3; i++ {
		alice.say(fmt.Sprintf("while bob's server was down %d", i))
	}
	bob.until("reconnected elsewhere", `document.querySelector('#status').textContent.includes('server-1')`)
	for i := 1; i <= 3; i++ {
		text := fmt.Sprintf("while bob's server was down %d", i)
		bob.sees(text)
		if n := bob.count(text); n != 1 {
			t.Fatalf("bob shows %q %d times", text, n)
		}
	}
	for _, text := range []string{"hello from alice", "hi alice, bob here"} {
		if n := bob.count(text); n != 1 {
			t.Fatalf("bob shows %q %d times after reconnecting", text, n)
		}
	}
	alice.shot("lobby")
	bob.shot("after-failover")

	// Phone width: the sidebar becomes a drawer behind the menu button.
	alice.run("phone width", chromedp.EmulateViewport(390, 844))
	alice.until("menu shown, sidebar hidden", `getComputedStyle(document.querySelector('#menu-btn')).display !== 'none' &&
		getComputedStyle(document.querySelector('#sidebar')).display === 'none'`)
	alice.run("open menu", chromedp.Click("#menu-btn", chromedp.ByID))
	alice.until("sidebar shown", `getComputedStyle(document.querySelector('#sidebar')).display !== 'none'`)
	alice.shot("phone-menu")
	// Dark theme toggle.
	alice.run("theme", chromedp.Click("#theme-btn", chromedp.ByID))
	alice.until("theme switched", `document.documentElement.dataset.theme === 'dark' || document.documentElement.dataset.theme === 'light'`)
	alice.shot("phone-theme")
}
