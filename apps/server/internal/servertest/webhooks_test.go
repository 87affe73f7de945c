package servertest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/devenv"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// receiver is a webhook endpoint: it checks every delivery's signature
// and records them in arrival order; it refuses the first two tries of
// every tenth event, so retries are part of every run, and takes 10 ms
// per delivery, a slow receiver, so that a backlog is waiting when the
// dispatcher is killed.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	got    []delivery
	tries  map[int64]int
	bad    []string
}

type delivery struct {
	Seq   int64           `json:"seq"`
	Room  string          `json:"room"`
	Late  bool            `json:"late"`
	Event json.RawMessage `json:"event"`
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{tries: map[int64]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		time.Sleep(10 * time.Millisecond) // the receiver's own work, not synchronisation
		rc.mu.Lock()
		defer rc.mu.Unlock()
		mac := hmac.New(sha256.New, []byte(rc.secret))
		fmt.Fprintf(mac, "%s.%s", r.Header.Get("Rookery-Timestamp"), body)
		ts, _ := strconv.ParseInt(r.Header.Get("Rookery-Timestamp"), 10, 64)
		if !hmac.Equal([]byte(r.Header.Get("Rookery-Signature")), []byte("v1="+hex.EncodeToString(mac.Sum(nil)))) ||
			time.Since(time.Unix(ts, 0)) > time.Minute {
			rc.bad = append(rc.bad, string(body))
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var d delivery
		if err := json.Unmarshal(body, &d); err != nil {
			rc.bad = append(rc.bad, string(body))
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		rc.tries[d.Seq]++
		if d.Seq%10 == 0 && rc.tries[d.Seq] <= 2 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		rc.got = append(rc.got, d)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// startDispatcher runs the webhook dispatcher as a process of its own.
func startDispatcher(t *testing.T, c *servertest.Cluster, group string) *devenv.Proc {
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return testenv.StartApp(t, "webhooks", testenv.BuildApp(t, "webhooks"),
		"DATABASE_URL="+c.Vars["DATABASE_URL"], "KAFKA_BROKERS="+c.Vars["KAFKA_BROKERS"], "KAFKA_TOPIC="+c.Vars["KAFKA_TOPIC"],
		"KAFKA_GROUP="+group, fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port), "LOG_LEVEL=warn",
		"WEBHOOK_RETRY_MIN=20ms", "WEBHOOK_RETRY_MAX=200ms", "WEBHOOK_REFRESH=1s", "WEBHOOK_GAP_WAIT=2s")
}

// TestWebhooks: an external program makes a room, adds a user, publishes
// as a bot and gets every event of the room (messages from the bot and
// from the user on two servers, an edit, a reaction, a deletion) by
// signed webhook, in seq order, although the dispatcher is killed with
// SIGKILL in the middle and the receiver refuses some tries.
func TestWebhooks(t *testing.T) {
	c := servertest.NewCluster(t)
	s1, s2 := c.Start(t, "s1"), c.Start(t, "s2")
	key, _ := apiKey(t, c, "publish,rooms,users")
	_, aliceTok := s1.Signup(t, "alice")
	rc := newReceiver(t)

	s1.Do(t, "POST", "/api/v1/server/bots", key, map[string]string{"username": "hookbot"})
	var made struct{ Room protocol.Room }
	s1.Do(t, "POST", "/api/v1/server/rooms", key, map[string]any{"name": "ops", "visibility": "private", "owner": "hookbot"}).Decode(t, &made)
	room := made.Room.ID
	if r := s1.Do(t, "POST", "/api/v1/server/rooms/"+room+"/members", key, map[string]string{"username": "alice"}); r.Status != 200 {
		t.Fatalf("add alice: %d %s", r.Status, r.Raw)
	}
	if r := s1.Do(t, "POST", "/api/v1/server/rooms/"+room+"/webhooks", key, map[string]string{"url": "ftp://x"}); r.Status != 400 {
		t.Errorf("webhook with an ftp URL: %d", r.Status)
	}
	var hook struct{ Webhook protocol.Webhook }
	r := s2.Do(t, "POST", "/api/v1/server/rooms/"+room+"/webhooks", key, map[string]string{"url": rc.srv.URL + "/hook"})
	if r.Status != 201 {
		t.Fatalf("create webhook: %d %s", r.Status, r.Raw)
	}
	r.Decode(t, &hook)
	rc.mu.Lock()
	rc.secret = hook.Webhook.Secret
	rc.mu.Unlock()
	if r := s1.Do(t, "GET", "/api/v1/server/rooms/"+room+"/webhooks", key, nil); r.Status != 200 || len(r.Body["webhooks"].([]any)) != 1 ||
		r.Body["webhooks"].([]any)[0].(map[string]any)["secret"] != nil {
		t.Fatalf("list webhooks: %d %s", r.Status, r.Raw)
	}

	group := "webhooks-" + c.Vars["KAFKA_TOPIC"]
	d := startDispatcher(t, c, group)

	// The room's log: the bot through both servers, alice over WebSockets
	// on both, so records of the room reach Kafka from two producers.
	a1, a2 := s1.Dial(t, aliceTok), s2.Dial(t, aliceTok)
	var acked sync.Map // seq -> kind
	var wg sync.WaitGroup
	const rounds = 40
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := 0; i < rounds; i++ {
			s := []*servertest.Server{s1, s2}[i%2]
			r := s.Do(t, "POST", "/api/v1/server/rooms/"+room+"/messages", key,
				map[string]string{"as": "hookbot", "ref": "b" + itoa(i), "body": "build " + itoa(i)})
			var ack struct{ Ack protocol.Ack }
			r.Decode(t, &ack)
			if r.Status != 200 {
				t.Errorf("publish %d: %d %s", i, r.Status, r.Raw)
				return
			}
			acked.Store(ack.Ack.Seq, "message")
		}
	}()
	for n, a := range []*servertest.WS{a1, a2} {
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				f := a.Request(map[string]any{"type": "send", "room": room, "ref": fmt.Sprintf("a%d-%d", n, i), "body": "hi " + itoa(i)})
				if f.Type() != "ack" {
					t.Errorf("alice's send: %s", f.Raw)
					return
				}
				acked.Store(f.Int("seq"), "message")
				if i == rounds/2 {
					id := f.Str("id")
					for _, req := range []map[string]any{
						{"type": "edit", "room": room, "ref": fmt.Sprintf("e%d", n), "id": id, "body": "edited"},
						{"type": "react", "room": room, "ref": fmt.Sprintf("r%d", n), "id": id, "emoji": "🚀", "on": true},
						{"type": "delete", "room": room, "ref": fmt.Sprintf("d%d", n), "id": id},
					} {
						f := a.Request(req)
						if f.Type() != "ack" {
							t.Errorf("%s: %s", req["type"], f.Raw)
							return
						}
						kind := req["type"]
						if kind == "react" {
							kind = "reaction" // the frame's type
						}
						acked.Store(f.Int("seq"), kind)
					}
				}
			}
		}()
	}

	// Kill the dispatcher once it has delivered some, mid-stream.
	waitFor(t, 30*time.Second, "first deliveries", func() bool { return len(rc.deliveries()) >= 15 })
	d.Kill()
	killedAt := len(rc.deliveries())
	d = startDispatcher(t, c, group)
	wg.Wait()

	want := 0
	acked.Range(func(any, any) bool { want++; return true })
	var missing []int64
	if !eventually(60*time.Second, func() bool {
		got := map[int64]bool{}
		for _, dl := range rc.deliveries() {
			got[dl.Seq] = true
		}
		missing = nil
		acked.Range(func(k, _ any) bool {
			if !got[k.(int64)] {
				missing = append(missing, k.(int64))
			}
			return true
		})
		return len(missing) == 0
	}) {
		t.Fatalf("%d of %d events never delivered: %v (the kill came after %d deliveries)", len(missing), want, missing, killedAt)
	}
	all := rc.deliveries()
	var top int64
	dups := 0
	kinds := map[string]int{}
	seen := map[int64]bool{}
	for i, dl := range all {
		var ev struct{ Type string }
		_ = json.Unmarshal(dl.Event, &ev)
		if k, ok := acked.Load(dl.Seq); !ok || k != ev.Type || dl.Room != room {
			t.Errorf("delivery %d: seq %d type %s room %s; acked as %v", i, dl.Seq, ev.Type, dl.Room, k)
		}
		switch {
		case seen[dl.Seq]:
			dups++
		case dl.Seq < top && !dl.Late:
			t.Errorf("delivery %d: seq %d after %d, out of order", i, dl.Seq, top)
		}
		seen[dl.Seq] = true
		kinds[ev.Type]++
		top = max(top, dl.Seq)
	}
	rc.mu.Lock()
	bad := rc.bad
	rc.mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("deliveries with a bad signature or body: %q", bad)
	}
	t.Logf("%d events, %d deliveries (%d repeated after the kill at %d), kinds %v", want, len(all), dups, killedAt, kinds)
	if kinds["edit"] != 2 || kinds["reaction"] < 2 || kinds["delete"] != 2 {
		t.Errorf("kinds delivered: %v", kinds)
	}

	// Deleting a webhook.
	if r := s1.Do(t, "DELETE", "/api/v1/server/webhooks/"+hook.Webhook.ID, key, nil); r.Status != 204 {
		t.Fatalf("delete webhook: %d %s", r.Status, r.Raw)
	}
	if r := s1.Do(t, "DELETE", "/api/v1/server/webhooks/"+hook.Webhook.ID, key, nil); r.Status != 404 {
		t.Errorf("delete again: %d", r.Status)
	}
	_ = d
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !eventually(within, cond) {
		t.Fatalf("%s: not within %s", what, within)
	}
}

// eventually polls cond until it holds (true) or within passes (false).
func eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
