package protocol

import (
	"net/url"
	"time"
)

// The server API (/api/v1/server, README "Embedding"): how an embedding
// product's backend acts in Rookery with an API key. An addition to the
// contract.

// The scopes an API key may hold.
const (
	ScopePublish = "publish" // publish messages as bots
	ScopeRooms   = "rooms"   // create rooms, manage members and webhooks
	ScopeUsers   = "users"   // create bots, look up users and presence
)

// Scopes lists every scope.
var Scopes = []string{ScopePublish, ScopeRooms, ScopeUsers}

// APIKey is a key of the server API, without its secret.
type APIKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Has reports whether the key holds scope.
func (k APIKey) Has(scope string) bool {
	for _, s := range k.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Webhook is a room's outgoing webhook. Secret, which signs deliveries,
// is shown once, when the webhook is created.
type Webhook struct {
	ID        string    `json:"id"`
	Room      string    `json:"room"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// WebhookURLMax bounds a webhook's URL.
const WebhookURLMax = 2048

// ValidateWebhookURL accepts absolute http and https URLs without
// credentials.
func ValidateWebhookURL(s string) error {
	if len(s) == 0 || len(s) > WebhookURLMax {
		return Errorf(CodeBadRequest, "url must be 1-%d characters", WebhookURLMax)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Errorf(CodeBadRequest, "url must be an absolute http or https URL")
	}
	if u.User != nil {
		return Errorf(CodeBadRequest, "url must not carry credentials; the signature authenticates deliveries")
	}
	return nil
}

// Publish is the body of POST /api/v1/server/rooms/{id}/messages.
type Publish struct {
	// As names the bot that sends.
	As      string `json:"as"`
	Body    string `json:"body"`
	Ref     string `json:"ref"`
	ReplyTo string `json:"reply_to,omitempty"`
}
