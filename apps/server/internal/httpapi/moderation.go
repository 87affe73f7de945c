package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// removeMember: the room's owner removes a member, who loses access at
// once on every server (their subscriptions end with a forbidden error).
func (a *API) removeMember(w http.ResponseWriter, r *http.Request) error {
	room, target := chi.URLParam(r, "id"), chi.URLParam(r, "user_id")
	if err := a.store.RemoveMember(r.Context(), room, UserFrom(r.Context()), target); err != nil {
		return err
	}
	if a.events != nil {
		a.events.MembershipChanged(r.Context(), room, target)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// block stops a user from starting a direct message with me or sending in
// our direct room.
func (a *API) block(w http.ResponseWriter, r *http.Request) error {
	name, err := a.decodeUsername(w, r)
	if err != nil {
		return err
	}
	me := UserFrom(r.Context())
	blocked, err := a.store.Block(r.Context(), me, name)
	if err != nil {
		return err
	}
	if a.events != nil {
		a.events.BlocksChanged(r.Context(), me.ID, blocked.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) unblock(w http.ResponseWriter, r *http.Request) error {
	me, target := UserFrom(r.Context()), chi.URLParam(r, "user_id")
	if err := a.store.Unblock(r.Context(), me, target); err != nil {
		return err
	}
	if a.events != nil {
		a.events.BlocksChanged(r.Context(), me.ID, target)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// MembersMax bounds GET /rooms/{id}/members.
const MembersMax = 1000

// members lists a room's members (by name, at most MembersMax) to one of
// them: an addition to the contract, since Room.members leaves public
// rooms out.
func (a *API) members(w http.ResponseWriter, r *http.Request) error {
	user, id := UserFrom(r.Context()), chi.URLParam(r, "id")
	if err := a.checkMember(r, id, user); err != nil {
		return err
	}
	users, err := a.store.RoomMembers(r.Context(), id, MembersMax)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
	return nil
}

// blocked lists the users I block (an addition to the contract).
func (a *API) blocked(w http.ResponseWriter, r *http.Request) error {
	users, err := a.store.Blocked(r.Context(), UserFrom(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
	return nil
}
