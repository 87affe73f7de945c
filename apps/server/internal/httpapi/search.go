package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// search: full-text search over the messages of my rooms, or of one.
func (a *API) search(w http.ResponseWriter, r *http.Request) error {
	if a.rooms == nil {
		return protocol.Errorf(protocol.CodeUnavailable, "search is not available")
	}
	vals := r.URL.Query()
	q := strings.TrimSpace(vals.Get("q"))
	if q == "" {
		return protocol.Errorf(protocol.CodeBadRequest, "q must not be empty")
	}
	if !utf8.ValidString(q) || utf8.RuneCountInString(q) > protocol.SearchQueryMaxChar {
		return protocol.Errorf(protocol.CodeBadRequest, "q must be valid UTF-8 of at most %d characters", protocol.SearchQueryMaxChar)
	}
	limit := protocol.SearchDefault
	if s := vals.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > protocol.SearchMax {
			return protocol.Errorf(protocol.CodeBadRequest, "limit must be 1-%d", protocol.SearchMax)
		}
		limit = n
	}
	user := UserFrom(r.Context())
	room := vals.Get("room")
	if room != "" {
		if err := a.checkMember(r, room, user); err != nil {
			return err
		}
	}
	msgs, err := a.rooms.Search(r.Context(), user, room, q, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
	return nil
}
