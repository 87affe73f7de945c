// Command server is a chat server: the HTTP API and WebSocket endpoint of
// shared/PROTOCOL.md. Run several behind a load balancer; they share state
// through PostgreSQL, Redis and Kafka. Configuration is read from the
// environment (see the README). `server apikey ...` manages the keys of
// the server API instead (README "Embedding").
package main

import (
	"os"

	"github.com/rookery-chat/rookery/apps/server/internal/admincmd"
	"github.com/rookery-chat/rookery/apps/server/internal/app"
	"github.com/rookery-chat/rookery/apps/server/internal/config"
	"github.com/rookery-chat/rookery/packages/service"
)

func main() {
	if admincmd.Is(os.Args) {
		admincmd.Main(os.Args)
		return
	}
	service.Main(service.Process[config.Config]{
		Name: "server",
		Load: config.Load,
		Settings: func(c config.Config) service.Settings {
			return service.Settings{Addr: c.HTTPAddr, LogLevel: c.LogLevel, LogFormat: c.LogFormat, Attrs: []any{"server", c.ServerID}}
		},
		Run: app.Run,
	})
}
