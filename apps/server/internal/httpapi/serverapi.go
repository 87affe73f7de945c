package httpapi

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/rookery-chat/rookery/apps/server/internal/auth"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// ServerStore is what the server API needs from the database.
type ServerStore interface {
	APIKeyByHash(ctx context.Context, hash []byte) (protocol.APIKey, error)
	CreateBot(ctx context.Context, username string) (protocol.User, bool, error)
	UserNamed(ctx context.Context, username string) (protocol.User, error)
	ServerAddMember(ctx context.Context, roomID, username string) (protocol.Room, protocol.User, error)
	ServerRemoveMember(ctx context.Context, roomID, username string) (protocol.User, error)
	// ServerRoom is a room with LastSeq as PostgreSQL has it.
	ServerRoom(ctx context.Context, roomID string) (protocol.Room, error)
	// CreateWebhook makes a webhook whose cursor is seq: it gets the
	// room's events after seq.
	CreateWebhook(ctx context.Context, roomID, url, secret string, seq int64) (protocol.Webhook, error)
	RoomWebhooks(ctx context.Context, roomID string) ([]protocol.Webhook, error)
	// DeleteWebhook returns the webhook's room.
	DeleteWebhook(ctx context.Context, id string) (string, error)
}

// Publisher sends as a bot and tells presence (realtime.Hub).
type Publisher interface {
	Publish(ctx context.Context, user protocol.User, room, body, ref, replyTo string) (protocol.Ack, error)
	Online(ctx context.Context, userID string) (bool, error)
}

// Markers writes records outside the rooms' logs into their partitions
// (bus.Producer): a room's webhooks changed.
type Markers interface {
	ProduceMarker(ctx context.Context, room, kind string) error
}

// serverRoutes mounts the server API: every route needs an API key
// holding the route's scope.
func (a *API) serverRoutes(r chi.Router) {
	r.Use(a.apiKey)
	r.With(scope(protocol.ScopeUsers)).Post("/bots", a.handle(a.createBot))
	r.With(scope(protocol.ScopeUsers)).Get("/users/{username}", a.handle(a.serverUser))
	r.With(scope(protocol.ScopeRooms)).Post("/rooms", a.handle(a.serverCreateRoom))
	r.With(scope(protocol.ScopeRooms)).Post("/rooms/{id}/members", a.handle(a.serverAddMember))
	r.With(scope(protocol.ScopeRooms)).Delete("/rooms/{id}/members/{username}", a.handle(a.serverRemoveMember))
	r.With(scope(protocol.ScopeRooms)).Post("/rooms/{id}/webhooks", a.handle(a.createWebhook))
	r.With(scope(protocol.ScopeRooms)).Get("/rooms/{id}/webhooks", a.handle(a.listWebhooks))
	r.With(scope(protocol.ScopeRooms)).Delete("/webhooks/{id}", a.handle(a.deleteWebhook))
	r.With(scope(protocol.ScopePublish)).Post("/rooms/{id}/messages", a.handle(a.publish))
}

// apiKey authenticates the server API's bearer key.
func (a *API) apiKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := BearerToken(r)
		if !strings.HasPrefix(tok, auth.APIKeyPrefix) {
			a.writeError(w, r, protocol.Errorf(protocol.CodeUnauthorized, "the server API needs an API key (Authorization: Bearer %s...)", auth.APIKeyPrefix))
			return
		}
		k, err := a.server.APIKeyByHash(r.Context(), auth.HashToken(tok))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), apiKeyKey, k)))
	})
}

func scope(s string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k, _ := r.Context().Value(apiKeyKey).(protocol.APIKey)
			if !k.Has(s) {
				writeJSON(w, http.StatusForbidden, protocol.ErrorBody{Error: protocol.ErrorDetail{Code: protocol.CodeForbidden,
					Message: "this API key lacks the " + s + " scope"}})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (a *API) createBot(w http.ResponseWriter, r *http.Request) error {
	name, err := a.decodeUsername(w, r)
	if err != nil {
		return err
	}
	u, created, err := a.server.CreateBot(r.Context(), name)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"user": u})
	return nil
}

func (a *API) serverUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.server.UserNamed(r.Context(), strings.ToLower(chi.URLParam(r, "username")))
	if err != nil {
		return err
	}
	online, err := a.publisher.Online(r.Context(), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": u, "online": online})
	return nil
}

func (a *API) serverCreateRoom(w http.ResponseWriter, r *http.Request) error {
	req, name, vis, err := a.decodeNewRoom(w, r)
	if err != nil {
		return err
	}
	owner, err := a.server.UserNamed(r.Context(), strings.ToLower(req.Owner))
	if err != nil {
		if protocol.ErrorCode(err) == protocol.CodeNotFound {
			return protocol.Errorf(protocol.CodeBadRequest, "owner must name an existing user or bot")
		}
		return err
	}
	room, err := a.store.CreateRoom(r.Context(), owner, name, vis)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"room": room})
	return nil
}

func (a *API) serverAddMember(w http.ResponseWriter, r *http.Request) error {
	name, err := a.decodeUsername(w, r)
	if err != nil {
		return err
	}
	room, user, err := a.server.ServerAddMember(r.Context(), chi.URLParam(r, "id"), name)
	if err != nil {
		return err
	}
	if a.events != nil {
		a.events.MembershipChanged(r.Context(), room.ID, user.ID)
	}
	writeJSON(w, http.StatusOK, map[string]any{"room": room})
	return nil
}

func (a *API) serverRemoveMember(w http.ResponseWriter, r *http.Request) error {
	room := chi.URLParam(r, "id")
	user, err := a.server.ServerRemoveMember(r.Context(), room, strings.ToLower(chi.URLParam(r, "username")))
	if err != nil {
		return err
	}
	if a.events != nil {
		a.events.MembershipChanged(r.Context(), room, user.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		URL string `json:"url"`
	}
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := protocol.ValidateWebhookURL(req.URL); err != nil {
		return err
	}
	room, err := a.server.ServerRoom(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	// The webhook starts after the room's newest acknowledged event, so
	// that the dispatcher knows the first seq it must wait for.
	rooms := []protocol.Room{room}
	if a.rooms != nil {
		a.rooms.Decorate(r.Context(), protocol.User{}, rooms, []int64{0})
	}
	hook, err := a.server.CreateWebhook(r.Context(), room.ID, req.URL, "whsec_"+rand.Text(), rooms[0].LastSeq)
	if err != nil {
		return err
	}
	if err := a.webhooksChanged(r.Context(), hook.Room); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"webhook": hook})
	return nil
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := a.server.RoomWebhooks(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": hooks})
	return nil
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	room, err := a.server.DeleteWebhook(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	if err := a.webhooksChanged(r.Context(), room); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// webhooksChanged puts a marker in the room's partition, so that the
// webhook dispatcher reads the room's webhooks again before the events
// logged after this answer. The webhook is stored already: when the
// marker cannot be written the answer is unavailable, and the dispatcher
// still sees the change within WEBHOOK_REFRESH.
func (a *API) webhooksChanged(ctx context.Context, room string) error {
	if a.markers == nil {
		return nil
	}
	if err := a.markers.ProduceMarker(ctx, room, bus.TypeWebhooks); err != nil {
		return protocol.Wrap(protocol.CodeUnavailable, err, "webhook saved, but the dispatcher may miss events for up to WEBHOOK_REFRESH")
	}
	return nil
}

// publish sends a message as a bot: checked like a client's send, limited
// per bot across the cluster (BOT_SEND_RATE), durable when answered.
func (a *API) publish(w http.ResponseWriter, r *http.Request) error {
	var req protocol.Publish
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := protocol.ValidateRef(req.Ref); err != nil {
		return err
	}
	body, err := protocol.NormalizeBody(req.Body)
	if err != nil {
		return err
	}
	if req.ReplyTo != "" {
		if err := protocol.ValidateID(req.ReplyTo); err != nil {
			return protocol.Errorf(protocol.CodeBadRequest, "reply_to must name a message of this room")
		}
	}
	bot, err := a.server.UserNamed(r.Context(), strings.ToLower(req.As))
	if err != nil || !bot.Bot {
		if err == nil || protocol.ErrorCode(err) == protocol.CodeNotFound {
			return protocol.Errorf(protocol.CodeBadRequest, "as must name a bot (POST /api/v1/server/bots makes one)")
		}
		return err
	}
	room := chi.URLParam(r, "id")
	if _, err := a.server.ServerRoom(r.Context(), room); err != nil {
		return err
	}
	if err := a.botLimiter.Allow(r.Context(), "bot:"+bot.ID, a.cfg.BotSendRate); err != nil {
		return err
	}
	ack, err := a.publisher.Publish(r.Context(), bot, room, body, req.Ref, req.ReplyTo)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"ack": ack})
	return nil
}
