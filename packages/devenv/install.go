package devenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// EnsureServers makes sure the PostgreSQL and Redis server binaries exist,
// and with browser also Chromium and a color emoji font (for the browser
// tests). Running as root on
// a Debian/Ubuntu machine it installs the missing ones with apt-get;
// otherwise it fails with the exact command to run.
func EnsureServers(ctx context.Context, out io.Writer, browser bool) error {
	var pkgs []string
	if _, err := findBinary("chromium"); browser && err != nil {
		pkgs = append(pkgs, "chromium")
	}
	// Without a color emoji font, reactions in the browser tests'
	// screenshots are empty boxes.
	if _, err := os.Stat(emojiFont); browser && err != nil {
		pkgs = append(pkgs, "fonts-noto-color-emoji")
	}
	if _, err := findBinary("initdb", pgBinDirs...); err != nil {
		pkgs = append(pkgs, "postgresql")
	}
	if _, err := findBinary("redis-server"); err != nil {
		pkgs = append(pkgs, "redis-server")
	}
	if len(pkgs) == 0 {
		return nil
	}
	cmdline := append([]string{"apt-get", "install", "-y", "--no-install-recommends"}, pkgs...)
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		return fmt.Errorf("missing server binaries; install them with: sudo apt-get update && sudo %s", joinArgs(cmdline))
	}
	fmt.Fprintf(out, "devstack: installing %v with apt-get\n", pkgs)
	for _, args := range [][]string{{"apt-get", "update", "-q"}, cmdline} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", joinArgs(args), err)
		}
	}
	return nil
}

// emojiFont is the file of Debian's fonts-noto-color-emoji.
const emojiFont = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"

func joinArgs(a []string) string {
	s := ""
	for i, x := range a {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s
}
