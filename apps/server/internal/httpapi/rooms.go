package httpapi

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/rookery-chat/rookery/apps/server/internal/history"
	"github.com/rookery-chat/rookery/packages/protocol"
)

type roomBody struct {
	Room protocol.Room `json:"room"`
}

type roomsBody struct {
	Rooms []protocol.Room `json:"rooms"`
}

// newRoom is the body of a room's creation; Owner is the server API's.
type newRoom struct {
	Name       string `json:"name"`
	Visibility string `json:"visibility"`
	Owner      string `json:"owner"`
}

// decodeNewRoom reads and checks a room's creation.
func (a *API) decodeNewRoom(w http.ResponseWriter, r *http.Request) (newRoom, string, protocol.Visibility, error) {
	var req newRoom
	if err := a.decode(w, r, &req); err != nil {
		return req, "", "", err
	}
	name, err := protocol.ValidateRoomName(req.Name)
	if err != nil {
		return req, "", "", err
	}
	vis, err := protocol.ValidateVisibility(req.Visibility)
	return req, name, vis, err
}

func (a *API) createRoom(w http.ResponseWriter, r *http.Request) error {
	_, name, vis, err := a.decodeNewRoom(w, r)
	if err != nil {
		return err
	}
	room, err := a.store.CreateRoom(r.Context(), UserFrom(r.Context()), name, vis)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, roomBody{room})
	return nil
}

func (a *API) listRooms(w http.ResponseWriter, r *http.Request) error {
	user := UserFrom(r.Context())
	rooms, lastRead, err := a.store.ListRooms(r.Context(), user)
	if err != nil {
		return err
	}
	if a.rooms != nil {
		a.rooms.Decorate(r.Context(), user, rooms, lastRead)
	}
	writeJSON(w, http.StatusOK, roomsBody{rooms})
	return nil
}

func (a *API) publicRooms(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query().Get("q")
	if len(q) > 4*protocol.RoomNameMax {
		return protocol.Errorf(protocol.CodeBadRequest, "q is too long")
	}
	rooms, err := a.store.PublicRooms(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, roomsBody{rooms})
	return nil
}

func (a *API) join(w http.ResponseWriter, r *http.Request) error {
	user := UserFrom(r.Context())
	room, err := a.store.Join(r.Context(), chi.URLParam(r, "id"), user)
	if err != nil {
		return err
	}
	if a.events != nil {
		a.events.MembershipChanged(r.Context(), room.ID, user.ID)
	}
	writeJSON(w, http.StatusOK, roomBody{room})
	return nil
}

func (a *API) leave(w http.ResponseWriter, r *http.Request) error {
	user := UserFrom(r.Context())
	id := chi.URLParam(r, "id")
	if err := a.store.Leave(r.Context(), id, user); err != nil {
		return err
	}
	if a.events != nil {
		a.events.MembershipChanged(r.Context(), id, user.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decodeUsername reads a {"username"} body and normalizes the name.
func (a *API) decodeUsername(w http.ResponseWriter, r *http.Request) (string, error) {
	var req struct {
		Username string `json:"username"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return "", err
	}
	return protocol.NormalizeUsername(req.Username)
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request) error {
	name, err := a.decodeUsername(w, r)
	if err != nil {
		return err
	}
	room, added, err := a.store.AddMember(r.Context(), chi.URLParam(r, "id"), UserFrom(r.Context()), name)
	if err != nil {
		return err
	}
	if a.events != nil {
		a.events.MembershipChanged(r.Context(), room.ID, added.ID)
	}
	writeJSON(w, http.StatusOK, roomBody{room})
	return nil
}

func (a *API) direct(w http.ResponseWriter, r *http.Request) error {
	name, err := a.decodeUsername(w, r)
	if err != nil {
		return err
	}
	me := UserFrom(r.Context())
	room, err := a.store.DirectRoom(r.Context(), me, name)
	if err != nil {
		return err
	}
	if a.events != nil {
		for _, m := range room.Members {
			if m.ID != me.ID {
				a.events.MembershipChanged(r.Context(), room.ID, m.ID)
			}
		}
	}
	writeJSON(w, http.StatusOK, roomBody{room})
	return nil
}

func (a *API) history(w http.ResponseWriter, r *http.Request) error {
	if a.rooms == nil {
		return protocol.Errorf(protocol.CodeUnavailable, "history is not available")
	}
	q := history.Query{Limit: protocol.HistoryDefault}
	vals := r.URL.Query()
	parse := func(name string, dst *int64) error {
		s := vals.Get(name)
		if s == "" {
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return protocol.Errorf(protocol.CodeBadRequest, "%s must be a non-negative integer", name)
		}
		*dst = n
		return nil
	}
	var limit int64
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"before_seq", &q.BeforeSeq}, {"after_seq", &q.AfterSeq}, {"limit", &limit}} {
		if err := parse(p.name, p.dst); err != nil {
			return err
		}
	}
	if vals.Get("limit") != "" {
		if limit < 1 || limit > protocol.HistoryMax {
			return protocol.Errorf(protocol.CodeBadRequest, "limit must be 1-%d", protocol.HistoryMax)
		}
		q.Limit = int(limit)
	}
	q.HasBefore, q.HasAfter = vals.Get("before_seq") != "", vals.Get("after_seq") != ""
	if q.HasBefore && q.HasAfter {
		return protocol.Errorf(protocol.CodeBadRequest, "give before_seq or after_seq, not both")
	}
	user := UserFrom(r.Context())
	id := chi.URLParam(r, "id")
	if err := a.checkMember(r, id, user); err != nil {
		return err
	}
	msgs, more, err := a.rooms.Page(r.Context(), user, id, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs, "has_more": more})
	return nil
}

// checkMember is the membership gate of room reads.
func (a *API) checkMember(r *http.Request, roomID string, user protocol.User) error {
	return a.store.CheckMember(r.Context(), roomID, user)
}
