package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3.1 description of this router's routes, served
// at /api/v1/openapi.json. TestOpenAPIMatchesRouter keeps the two equal.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the description.
func OpenAPI() []byte { return openAPI }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPI)
}
