package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// TestRoomAuthorization checks every room endpoint for every kind of room
// and every kind of caller against the contract: status and error code of
// each cell.
func TestRoomAuthorization(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1")
	_, ownerTok := s.Signup(t, "owner")
	_, outsiderTok := s.Signup(t, "outsider")
	s.Signup(t, "friend")
	s.Signup(t, "invitee")

	r := s.Do(t, "POST", "/api/v1/dm", ownerTok, map[string]string{"username": "friend"})
	if r.Status != 200 {
		t.Fatalf("dm: %d %s", r.Status, r.Raw)
	}
	var dm struct{ Room protocol.Room }
	r.Decode(t, &dm)

	type want struct {
		status int
		code   string
	}
	ok := func(s int) want { return want{s, ""} }
	e := func(code protocol.Code) want { return want{code.HTTPStatus(), string(code)} }
	anon := e(protocol.CodeUnauthorized)

	type endpoint struct {
		method, path string // path has %s for the room id
		body         any
		// per room kind: anonymous, non-member, member
		cells map[protocol.Visibility][3]want
	}
	endpoints := []endpoint{
		{"POST", "/api/v1/rooms/%s/join", nil, map[protocol.Visibility][3]want{
			protocol.Public:  {anon, ok(200), ok(200)},
			protocol.Private: {anon, e(protocol.CodeForbidden), ok(200)},
			protocol.Direct:  {anon, e(protocol.CodeForbidden), ok(200)},
		}},
		{"POST", "/api/v1/rooms/%s/leave", nil, map[protocol.Visibility][3]want{
			protocol.Public:  {anon, e(protocol.CodeForbidden), ok(204)},
			protocol.Private: {anon, e(protocol.CodeNotFound), ok(204)},
			protocol.Direct:  {anon, e(protocol.CodeNotFound), e(protocol.CodeForbidden)},
		}},
		{"POST", "/api/v1/rooms/%s/members", map[string]string{"username": "invitee"}, map[protocol.Visibility][3]want{
			protocol.Public:  {anon, e(protocol.CodeForbidden), e(protocol.CodeForbidden)},
			protocol.Private: {anon, e(protocol.CodeNotFound), ok(200)},
			protocol.Direct:  {anon, e(protocol.CodeNotFound), e(protocol.CodeForbidden)},
		}},
		{"GET", "/api/v1/rooms/%s/messages", nil, map[protocol.Visibility][3]want{
			protocol.Public:  {anon, e(protocol.CodeForbidden), ok(200)},
			protocol.Private: {anon, e(protocol.CodeNotFound), ok(200)},
			protocol.Direct:  {anon, e(protocol.CodeNotFound), ok(200)},
		}},
	}
	roles := []string{"anonymous", "non-member", "member"}
	for _, ep := range endpoints {
		for _, vis := range []protocol.Visibility{protocol.Public, protocol.Private, protocol.Direct} {
			for i, role := range roles {
				name := fmt.Sprintf("%s %s/%s/%s", ep.method, ep.path, vis, role)
				t.Run(name, func(t *testing.T) {
					roomID := dm.Room.ID
					if vis != protocol.Direct {
						// A fresh room per cell: join and leave change state.
						roomID = s.CreateRoom(t, ownerTok, "room", vis).ID
					}
					tok := []string{"", outsiderTok, ownerTok}[i]
					got := s.Do(t, ep.method, fmt.Sprintf(ep.path, roomID), tok, ep.body)
					w := ep.cells[vis][i]
					if got.Status != w.status || got.Code() != w.code {
						t.Errorf("got %d %q, want %d %q (%s)", got.Status, got.Code(), w.status, w.code, got.Raw)
					}
				})
			}
		}
	}

	// Endpoints without a room: anonymous is refused, a user is served.
	for _, ep := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"POST", "/api/v1/auth/logout", nil, 204},
		{"GET", "/api/v1/me", nil, 200},
		{"GET", "/api/v1/users?q=o", nil, 200},
		{"GET", "/api/v1/rooms", nil, 200},
		{"POST", "/api/v1/rooms", map[string]string{"name": "x", "visibility": "public"}, 201},
		{"GET", "/api/v1/rooms/public", nil, 200},
		{"POST", "/api/v1/dm", map[string]string{"username": "invitee"}, 200},
	} {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			if got := s.Do(t, ep.method, ep.path, "", ep.body); got.Status != 401 || got.Code() != "unauthorized" {
				t.Errorf("anonymous: got %d %s", got.Status, got.Raw)
			}
			if got := s.Do(t, ep.method, ep.path, "not-a-token", ep.body); got.Status != 401 || got.Code() != "unauthorized" {
				t.Errorf("bad token: got %d %s", got.Status, got.Raw)
			}
			_, tok := s.Signup(t, servertestName())
			if got := s.Do(t, ep.method, ep.path, tok, ep.body); got.Status != ep.status {
				t.Errorf("user: got %d %s, want %d", got.Status, got.Raw, ep.status)
			}
		})
	}

	// A non-member learns nothing of private and direct rooms from the lists.
	priv := s.CreateRoom(t, ownerTok, "hidden-room", protocol.Private)
	for _, path := range []string{"/api/v1/rooms", "/api/v1/rooms/public", "/api/v1/rooms/public?q=hidden"} {
		got := s.Do(t, "GET", path, outsiderTok, nil)
		var rooms struct{ Rooms []protocol.Room }
		got.Decode(t, &rooms)
		for _, r := range rooms.Rooms {
			if r.ID == priv.ID || r.ID == dm.Room.ID {
				t.Errorf("%s shows room %s (%s) to a non-member", path, r.ID, r.Visibility)
			}
		}
	}
	if r := s.Do(t, "GET", "/api/v1/rooms/not-a-uuid/messages", ownerTok, nil); r.Status != 404 || r.Code() != "not_found" {
		t.Errorf("malformed room id: %d %s", r.Status, r.Raw)
	}
}

var nameSeq int

func servertestName() string {
	nameSeq++
	return fmt.Sprintf("user%d", nameSeq)
}

func TestNotFoundEndpointUsesErrorShape(t *testing.T) {
	s := servertest.NewCluster(t).Start(t, "s1")
	r := s.Do(t, "GET", "/api/v1/nope", "", nil)
	if r.Status != http.StatusNotFound || r.Code() != "not_found" {
		t.Fatalf("got %d %s", r.Status, r.Raw)
	}
}
