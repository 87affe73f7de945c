package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/rookery-chat/rookery/apps/server/internal/ratelimit"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handler is an endpoint: it writes its answer, or returns the error that
// writeError turns into the contract's error response.
type handler func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handler to net/http.
func (a *API) handle(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	}
}

// writeError writes err in the contract's error shape. Internal details go
// to the log only.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := protocol.ErrorCode(err)
	var lim *ratelimit.Limited
	if errors.As(err, &lim) {
		w.Header().Set("Retry-After", strconv.Itoa(lim.RetrySeconds()))
	}
	level := slog.LevelDebug
	if code == protocol.CodeInternal || code == protocol.CodeUnavailable {
		level = slog.LevelError
	}
	a.log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	writeJSON(w, code.HTTPStatus(), protocol.ErrorBody{Error: protocol.ErrorDetail{Code: code, Message: protocol.ErrorMessage(err)}})
}

// decode reads a JSON request body into dst, within the size limit.
func (a *API) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	body := http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return protocol.Errorf(protocol.CodeTooLarge, "request body over %d bytes", mbe.Limit)
		case errors.Is(err, io.EOF):
			return protocol.Errorf(protocol.CodeBadRequest, "request body must be a JSON object")
		case errors.As(err, &ute):
			return protocol.Errorf(protocol.CodeBadRequest, "field %q must be a %s", ute.Field, ute.Type)
		default:
			return protocol.Errorf(protocol.CodeBadRequest, "malformed JSON body")
		}
	}
	if dec.More() {
		return protocol.Errorf(protocol.CodeBadRequest, "request body must be one JSON object")
	}
	return nil
}
