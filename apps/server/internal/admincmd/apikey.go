// Package admincmd is the server binary's administration commands, run
// by an operator against the database: `server apikey create|list|revoke`
// manages the keys of the server API.
package admincmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/auth"
	"github.com/rookery-chat/rookery/apps/server/internal/store"
	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Is reports whether args (os.Args) name an admin command.
func Is(args []string) bool { return len(args) > 1 && args[1] == "apikey" }

// Main runs the admin command of args and exits.
func Main(args []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := Run(ctx, os.Getenv("DATABASE_URL"), args[2:], os.Stdout)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "server apikey:", err)
		os.Exit(2)
	}
}

const usage = `usage:
  server apikey create -name NAME -scopes publish,rooms,users
  server apikey list
  server apikey revoke ID
DATABASE_URL names the database.`

// Run runs `apikey` with args against the database at dbURL, writing
// its answer to out.
func Run(ctx context.Context, dbURL string, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	if dbURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	pool, err := db.Open(ctx, dbURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return err
	}
	st := store.New(pool)
	switch args[0] {
	case "create":
		return create(ctx, st, args[1:], out)
	case "list":
		return list(ctx, st, out)
	case "revoke":
		if len(args) != 2 {
			return errors.New(usage)
		}
		if err := st.RevokeAPIKey(ctx, args[1]); err != nil {
			return err
		}
		fmt.Fprintln(out, "revoked", args[1])
		return nil
	}
	return errors.New(usage)
}

func create(ctx context.Context, st *store.Store, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "what the key is for")
	scopes := fs.String("scopes", "", "comma-separated: "+strings.Join(protocol.Scopes, ","))
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errors.New(usage)
	}
	if strings.TrimSpace(*name) == "" || len(*name) > 100 {
		return errors.New("-name must be 1-100 characters")
	}
	var list []string
	for _, s := range strings.Split(*scopes, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(protocol.Scopes, s) {
			return fmt.Errorf("unknown scope %q: use %s", s, strings.Join(protocol.Scopes, ","))
		}
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	key, hash, err := auth.NewAPIKey()
	if err != nil {
		return err
	}
	k, err := st.CreateAPIKey(ctx, strings.TrimSpace(*name), hash, list)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "id:     %s\nscopes: %s\nkey:    %s\n(the key is shown once; only its hash is stored)\n", k.ID, strings.Join(k.Scopes, ","), key)
	return nil
}

func list(ctx context.Context, st *store.Store, out io.Writer) error {
	keys, err := st.APIKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), k.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}
