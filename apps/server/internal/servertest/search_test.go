package servertest_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/protocol"
)

func searchBodies(t *testing.T, s *servertest.Server, token, query string) []string {
	t.Helper()
	var body struct{ Messages []protocol.Message }
	r := s.Do(t, "GET", "/api/v1/search?"+query, token, nil)
	if r.Status != 200 {
		t.Fatalf("search %s: %d %s", query, r.Status, r.Raw)
	}
	r.Decode(t, &body)
	out := []string{}
	for _, m := range body.Messages {
		out = append(out, m.Body)
	}
	return out
}

// TestSearch: full-text search with stemming, every word required, best
// match first, only the caller's rooms (or one of them), deleted messages
// never, edits re-indexed.
func TestSearch(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1")
	c.StartPersister(t)
	_, aTok := s.Signup(t, "alice")
	_, bTok := s.Signup(t, "bob")
	mine := s.CreateRoom(t, aTok, "mine", protocol.Public)
	other := s.CreateRoom(t, aTok, "other", protocol.Private)
	secret := s.CreateRoom(t, bTok, "bob's", protocol.Private)
	a, b := s.Dial(t, aTok), s.Dial(t, bTok)
	sent := 0
	send := func(w *servertest.WS, room, body string) string {
		sent++
		return expectAck(t, w.SendMsg(room, "m"+itoa(sent), body)).Str("id")
	}
	send(a, mine.ID, "the foxes were running through the field")
	send(a, mine.ID, "a quick brown fox")
	gone := send(a, mine.ID, "this fox will be deleted")
	typo := send(a, other.ID, "a lazy dgo")
	send(b, secret.ID, "bob's fox is private")
	expectAck(t, a.Request(map[string]any{"type": "delete", "room": mine.ID, "ref": "d", "id": gone}))
	expectAck(t, a.Request(map[string]any{"type": "edit", "room": other.ID, "ref": "e", "id": typo, "body": "a lazy dog and a fox"}))
	waitStored(t, c.Vars["DATABASE_URL"], mine.ID, 4)
	waitStored(t, c.Vars["DATABASE_URL"], other.ID, 2)

	got := searchBodies(t, s, aTok, "q=fox")
	if len(got) != 3 || strings.Contains(strings.Join(got, "|"), "deleted") || strings.Contains(strings.Join(got, "|"), "bob") {
		t.Fatalf("search fox: %q", got)
	}
	if got := searchBodies(t, s, aTok, "q="+url.QueryEscape("running foxes")); len(got) != 1 || got[0] != "the foxes were running through the field" {
		t.Fatalf("every word, stemmed: %q", got)
	}
	if got := searchBodies(t, s, aTok, "q=dog"); len(got) != 1 || got[0] != "a lazy dog and a fox" {
		t.Fatalf("edit re-indexed: %q", got)
	}
	if got := searchBodies(t, s, aTok, "q=dgo"); len(got) != 0 {
		t.Fatalf("the old body still found: %q", got)
	}
	if got := searchBodies(t, s, aTok, "q=fox&room="+other.ID); len(got) != 1 {
		t.Fatalf("one room: %q", got)
	}
	if got := searchBodies(t, s, aTok, "q=fox&limit=1"); len(got) != 1 {
		t.Fatalf("limit: %q", got)
	}
	for q, code := range map[string]string{
		"q=":                       "bad_request",
		"q=%20%20":                 "bad_request",
		"q=fox&limit=51":           "bad_request",
		"q=fox&room=" + secret.ID:  "not_found",
		"q=fox&room=not-a-room-id": "not_found",
	} {
		if r := s.Do(t, "GET", "/api/v1/search?"+q, aTok, nil); r.Code() != code {
			t.Fatalf("search %s: %d %s, want %s", q, r.Status, r.Raw, code)
		}
	}
}
